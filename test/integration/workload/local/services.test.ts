import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Fastify, { type FastifyInstance } from 'fastify';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import zookeeper from 'node-zookeeper-client';
import type { Client, Exception } from 'node-zookeeper-client';
import {
  HAPROXY_CLIENT_KEEP_ALIVE_MS,
  type HaproxyConfigOptions,
} from '../../../../common/src/haproxy-config.ts';
import { request } from 'undici';
import {
  freePort,
  HarnessError,
  LOOPBACK,
  spawnManaged,
  startHaproxy,
  startRedis,
  startZooKeeper,
  startZooKeeperEnsemble,
  waitUntil,
  makeTempDir,
  removeDir,
  type HaproxyService,
  type RedisService,
  type ZooKeeperService,
} from '../../../../workload/src/local/index.ts';

// Real JVMs and servers on a shared machine: generous per-test budgets, conditions polled with deadlines.
const SLOW = 120_000;

function connectZk(connectString: string): Promise<Client> {
  const client = zookeeper.createClient(connectString, { sessionTimeout: 4000, spinDelay: 200, retries: 2 });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.close();
      reject(new Error(`no ZooKeeper connection to ${connectString}`));
    }, 20_000);
    client.once('connected', () => {
      clearTimeout(timer);
      resolve(client);
    });
    client.connect();
  });
}

/** Promise form of a node-zookeeper-client callback call. */
function zkCall<T>(fn: (done: (error: Error | Exception | null, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) =>
    fn((error, value) => {
      if (error) reject(error instanceof Error ? error : new Error(error.toString()));
      else resolve(value);
    }),
  );
}

const exists = (client: Client, path: string): Promise<boolean> =>
  zkCall<unknown>((done) => client.exists(path, done)).then((stat) => stat !== null && stat !== undefined);

const create = (client: Client, path: string, data: string, mode: number): Promise<string> =>
  zkCall<string>((done) => client.create(path, Buffer.from(data), mode, done));

const getData = (client: Client, path: string): Promise<string> =>
  zkCall<Buffer>((done) => client.getData(path, done)).then((b) => b.toString());

describe('managed process', () => {
  it('reports the log tail when a process exits before it is ready', async () => {
    const dir = await makeTempDir('harness-test');
    try {
      const proc = spawnManaged({
        name: 'fails',
        command: '/bin/sh',
        args: ['-c', 'echo "cannot bind port 1" >&2; exit 3'],
        dir,
      });
      const waiting = waitUntil(async () => Promise.resolve(false), {
        what: 'a process that never gets ready',
        timeoutMs: 10_000,
        abortReason: () => proc.describeExit(),
        details: () => proc.logTail(),
      });
      await expect(waiting).rejects.toThrow(HarnessError);
      await expect(waiting).rejects.toThrow(/exited with code 3[\s\S]*cannot bind port 1/);
    } finally {
      await removeDir(dir);
    }
  });

  it('stops the whole process group', async () => {
    const dir = await makeTempDir('harness-test');
    try {
      const proc = spawnManaged({
        name: 'tree',
        command: '/bin/sh',
        args: ['-c', 'sleep 300 & echo $!; wait'],
        dir,
      });
      await waitUntil(async () => Promise.resolve(/^\d+$/m.test(proc.logTail(1))), {
        what: 'child pid logged',
      });
      const childPid = Number(proc.logTail(1));
      proc.pause();
      const info = await proc.stop(2000);
      expect(info.signal).toBe('SIGTERM');
      await waitUntil(async () => Promise.resolve(!isAlive(childPid)), {
        what: 'child gone',
        timeoutMs: 5000,
      });
    } finally {
      await removeDir(dir);
    }
  });
});

/** Whether `pid` is a live process (a zombie waiting to be reaped counts as gone). */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

describe('redis', () => {
  let redis: RedisService;
  let client: Redis;

  beforeAll(async () => {
    redis = await startRedis({ password: 'harness secret' });
    client = new Redis(redis.url, { maxRetriesPerRequest: 2, lazyConnect: true });
    await client.connect();
  }, SLOW);

  afterAll(async () => {
    client?.disconnect();
    await redis?.stop();
  });

  it('answers SET and GET on its free port, behind its password', async () => {
    expect(redis.host).toBe(LOOPBACK);
    expect(await client.set('harness:key', 'value')).toBe('OK');
    expect(await client.get('harness:key')).toBe('value');
  });

  it('comes back on the same port after a SIGKILL and restart, empty (no persistence)', async () => {
    await redis.kill();
    expect(redis.process.exitInfo?.signal).toBe('SIGKILL');
    await redis.restart();
    await waitUntil(async () => (await client.ping()) === 'PONG', {
      what: 'ioredis reconnected',
      timeoutMs: 15_000,
    });
    expect(await client.get('harness:key')).toBeNull();
  });
});

describe('zookeeper standalone', () => {
  let zk: ZooKeeperService;
  const clients: Client[] = [];

  beforeAll(async () => {
    zk = await startZooKeeper();
  }, SLOW);

  afterAll(async () => {
    for (const c of clients) c.close();
    await zk?.stop();
  });

  it('removes an ephemeral node when the session that created it closes', async () => {
    const owner = await connectZk(zk.connectString);
    const observer = await connectZk(zk.connectString);
    clients.push(owner, observer);
    await create(owner, '/harness-ephemeral', 'mine', zookeeper.CreateMode.EPHEMERAL);
    expect(await exists(observer, '/harness-ephemeral')).toBe(true);

    owner.close();
    await waitUntil(async () => !(await exists(observer, '/harness-ephemeral')), {
      what: 'ephemeral node gone after its session closed',
      timeoutMs: 15_000,
    });
  });
});

describe('zookeeper ensemble', () => {
  let ensemble: ZooKeeperService;
  let client: Client | undefined;

  beforeAll(async () => {
    ensemble = await startZooKeeperEnsemble({ size: 3 });
  }, SLOW);

  afterAll(async () => {
    client?.close();
    await ensemble?.stop();
  });

  it('forms one leader and two followers', async () => {
    const modes = await Promise.all(ensemble.members.map((m) => m.mode()));
    expect([...modes].sort()).toEqual(['follower', 'follower', 'leader']);
  });

  it(
    'keeps accepting writes and reads after its leader is killed',
    async () => {
      const modes = await Promise.all(ensemble.members.map((m) => m.mode()));
      const victim = ensemble.members[modes.indexOf('leader')]!;
      await victim.kill('SIGKILL');
      expect(victim.process.exitInfo?.signal).toBe('SIGKILL');
      const survivors = ensemble.members.filter((m) => m !== victim);
      client = await connectZk(survivors.map((m) => `${m.host}:${m.port}`).join(','));

      // The survivors may still be electing a new leader; retry the write until the quorum takes it.
      await waitUntil(
        async () => {
          await create(client!, '/harness-after-kill', 'still-here', zookeeper.CreateMode.PERSISTENT);
          return true;
        },
        { what: 'write accepted by the remaining quorum', timeoutMs: 30_000, intervalMs: 250 },
      );
      expect(await getData(client, '/harness-after-kill')).toBe('still-here');

      await victim.start();
      expect(['leader', 'follower']).toContain(await victim.mode());
    },
    SLOW,
  );
});

describe('haproxy', () => {
  let worker: FastifyInstance;
  let haproxy: HaproxyService;
  let workerPort: number;
  let ready = true;

  beforeAll(async () => {
    worker = Fastify();
    worker.get('/readyz', async (_req, reply) =>
      reply.code(ready ? 200 : 503).send(ready ? 'ok' : 'draining'),
    );
    worker.get('/hello', () => ({ from: 'worker' }));
    workerPort = await freePort();
    await worker.listen({ host: LOOPBACK, port: workerPort });

    const config: HaproxyConfigOptions = {
      frontend: { bind: LOOPBACK, port: await freePort() },
      backend: { servers: [{ name: 'w0', host: LOOPBACK, port: workerPort }] },
      healthCheck: { path: '/readyz', interval: 200, fall: 2, rise: 1 },
      algorithm: 'roundrobin',
      retries: 2,
      stats: { bind: LOOPBACK, port: await freePort() },
    };
    haproxy = await startHaproxy({ config });
  }, SLOW);

  afterAll(async () => {
    await haproxy?.stop();
    await worker?.close();
  });

  const statusOf = async (): Promise<number> => (await fetch(`${haproxy.url}/hello`)).status;
  const waitForStatus = (status: number, what: string): Promise<void> =>
    waitUntil(async () => (await statusOf()) === status, { what, timeoutMs: 20_000, intervalMs: 100 });

  it('proxies to the worker while its /readyz passes', async () => {
    await waitForStatus(200, 'haproxy routing to the healthy worker');
    const response = await fetch(`${haproxy.url}/hello`);
    expect(await response.json()).toEqual({ from: 'worker' });
  });

  it("tells clients its own keep-alive timeout, not the worker's to HAProxy", async () => {
    await waitForStatus(200, 'haproxy routing to the healthy worker');
    const seconds = async (url: string): Promise<number> => {
      const response = await request(url);
      await response.body.text();
      return Number(/timeout=(\d+)/.exec(String(response.headers['keep-alive']))?.[1]);
    };
    const workerUrl = `http://${LOOPBACK}:${workerPort}/hello`;
    // The worker keeps idle connections longer than HAProxy keeps a client's.
    expect((await seconds(workerUrl)) * 1000).toBeGreaterThan(HAPROXY_CLIENT_KEEP_ALIVE_MS);
    expect((await seconds(`${haproxy.url}/hello`)) * 1000).toBeLessThan(HAPROXY_CLIENT_KEEP_ALIVE_MS);
  });

  it('stops routing when /readyz fails and routes again when it recovers', async () => {
    ready = false;
    await waitForStatus(503, 'haproxy answering 503 once the worker fails its health check');
    ready = true;
    await waitForStatus(200, 'haproxy routing again after the worker recovered');
  });

  it('keeps routing across a configuration reload', async () => {
    await haproxy.reload({ ...haproxy.config, retries: 3 });
    await waitForStatus(200, 'haproxy routing after the reload');
  });

  it('serves Prometheus metrics on the stats port only', async () => {
    const metrics = await fetch(`${haproxy.statsUrl}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('haproxy_backend_');
    expect((await fetch(`${haproxy.url}/metrics`)).status).toBe(404);
  });
});
