import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { EphemeralRegistry } from '../../../common/src/ephemeral-registry.ts';
import { connect, ZooKeeperErrorCode } from '../../../common/src/zookeeper-client.ts';
import type { ConnectOptions, ZooKeeperClient } from '../../../common/src/zookeeper-client.ts';
import { startZooKeeper, waitUntil } from '../../../workload/src/local/index.ts';
import { startSilencingProxy, startSilentServer } from '../../harness/silent-peers.ts';
import type { ZooKeeperService } from '../../../workload/src/local/index.ts';

describe('ZooKeeperClient against a real server', () => {
  let zk: ZooKeeperService;
  const clients: ZooKeeperClient[] = [];

  async function open(options: Partial<ConnectOptions> = {}): Promise<ZooKeeperClient> {
    const client = await connect({ connectString: zk.connectString, sessionTimeoutMs: 4_000, ...options });
    clients.push(client);
    return client;
  }

  const until = (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> =>
    waitUntil(async () => await check(), { what, timeoutMs, intervalMs: 25 });

  async function expireSession(session: ConnectOptions['session']): Promise<void> {
    try {
      const thief = await connect({ connectString: zk.connectString, session, sessionTimeoutMs: 2_000 });
      await thief.close();
    } catch {
      // Already expired: the server refused the session.
    }
  }

  /**
   * Expires `c`'s session and resolves how many expiries `c` saw. A second client takes the session over and
   * closes it; `c` may win the session back by reconnecting before the close arrives, so this tries again
   * (a bounded number of times).
   */
  async function forceExpiry(c: ZooKeeperClient): Promise<number> {
    let expired = 0;
    c.on('expired', () => (expired += 1));
    for (let attempt = 0; attempt < 5 && expired === 0; attempt++) {
      await expireSession(c.session);
      await until('expiry noticed', () => expired > 0, 5_000).catch(() => undefined);
    }
    return expired;
  }

  beforeAll(async () => {
    zk = await startZooKeeper();
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await zk?.stop();
  });

  it('deletes ephemerals when their session closes', async () => {
    const [a, b] = [await open(), await open()];
    await a.create('/eph', 'x', 'ephemeral');
    expect((await b.exists('/eph'))?.ephemeralOwner).toBe(a.sessionId);
    await a.close();
    expect(await b.exists('/eph')).toBeUndefined();
  });

  it('applies a transaction atomically and honours version 0 in it', async () => {
    const c = await open();
    await c.mkdirp('/tx');
    await expect(c.transaction().create('/tx/a').create('/tx/a').commit()).rejects.toMatchObject({
      code: ZooKeeperErrorCode.NODE_EXISTS,
    });
    expect(await c.exists('/tx/a')).toBeUndefined();
    await c.create('/tx/v', 'one');
    await c.transaction().check('/tx/v', 0).set('/tx/v', 'two', 0).create('/tx/b').commit();
    expect((await c.get('/tx/v')).data.toString()).toBe('two');
    await expect(c.transaction().check('/tx/v', 0).remove('/tx/b').commit()).rejects.toMatchObject({
      code: ZooKeeperErrorCode.BAD_VERSION,
    });
    expect(await c.exists('/tx/b')).toBeDefined();
  });

  it('rejects a stale compare-and-set with BAD_VERSION', async () => {
    const c = await open();
    await c.create('/cas', 'a');
    const stale = (await c.get('/cas')).stat.version;
    await c.set('/cas', 'b', stale);
    await expect(c.set('/cas', 'c', stale)).rejects.toMatchObject({ code: ZooKeeperErrorCode.BAD_VERSION });
    await expect(c.remove('/missing')).rejects.toMatchObject({ code: ZooKeeperErrorCode.NO_NODE });
  });

  it('guards nodes with a digest ACL', async () => {
    const owner = await open({ auth: { user: 'capstan', password: 's3cret' } });
    const stranger = await open();
    const intruder = await open({ auth: { user: 'capstan', password: 'wrong' } });
    await owner.create('/secure', 'private');
    expect((await owner.get('/secure')).data.toString()).toBe('private');
    await expect(stranger.get('/secure')).rejects.toMatchObject({ code: ZooKeeperErrorCode.NO_AUTH });
    await expect(intruder.set('/secure', 'x')).rejects.toMatchObject({ code: ZooKeeperErrorCode.NO_AUTH });
  });

  it('re-arms watches after every change', async () => {
    const c = await open();
    await c.mkdirp('/watched');
    const lists: string[][] = [];
    const values: (string | undefined)[] = [];
    const stopChildren = c.watchChildren('/watched', (names) => lists.push(names ?? []));
    const stopData = c.watchData('/watched-data', (node) => values.push(node?.data.toString()));
    for (const name of ['a', 'b', 'c']) {
      await c.create(`/watched/${name}`);
      await until(`child ${name} seen`, () => lists.at(-1)?.includes(name) ?? false);
    }
    await c.create('/watched-data', 'v0');
    for (const value of ['v1', 'v2', 'v3']) {
      await c.set('/watched-data', value);
      await until(`data ${value} seen`, () => values.at(-1) === value);
    }
    await c.remove('/watched-data');
    await until('deletion seen', () => values.at(-1) === undefined);
    stopChildren();
    stopData();
    expect(lists.at(-1)).toEqual(['a', 'b', 'c']);
    expect(values[0]).toBeUndefined();
  });

  it('re-registers ephemerals on a fresh session after expiry', async () => {
    const c = await open({ sessionTimeoutMs: 2_000 });
    const observer = await open();
    await c.mkdirp('/members');
    const registry = new EphemeralRegistry(c);
    await registry.register('/members/w1', '{"address":"127.0.0.1:1"}');
    const before = c.sessionId;
    expect(await forceExpiry(c)).toBe(1);
    await until('member re-created on the new session', async () => {
      const stat = await observer.exists('/members/w1');
      return c.connected && stat?.ephemeralOwner === c.sessionId;
    });
    expect(c.sessionId).not.toBe(before);
    expect((await observer.get('/members/w1')).data.toString()).toBe('{"address":"127.0.0.1:1"}');
    registry.close();
  }, 30_000);

  it('re-creates an ephemeral whose re-creation on a fresh session was cut off, on the resumed session', async () => {
    const proxy = await startSilencingProxy(zk.connectString);
    try {
      const c = await open({ connectString: proxy.address, sessionTimeoutMs: 4_000 });
      const observer = await open();
      await c.mkdirp('/cut');
      // Registered before the registry's own listener, so it runs first: the connection of the fresh
      // session goes silent before the registry sends its create, which is lost. The client then finds
      // the server silent, drops the connection and resumes the same session on a new one: a `connected`
      // that is not a fresh session.
      let cutNextFresh = false;
      c.on('connected', ({ newSession }) => {
        if (newSession && cutNextFresh) proxy.silence();
        if (newSession) cutNextFresh = false;
      });
      const reasons: string[] = [];
      c.on('disconnected', (reason) => reasons.push(reason));
      const registry = new EphemeralRegistry(c, { retryDelayMs: 100 });
      await registry.register('/cut/w1', 'first life');
      cutNextFresh = true;
      expect(await forceExpiry(c)).toBe(1);
      await until('the silent connection dropped', () => reasons.includes('no-response'));
      const resumed = c.sessionId;
      await until('member re-created on the resumed session', async () => {
        const stat = await observer.exists('/cut/w1');
        return c.connected && stat?.ephemeralOwner === c.sessionId;
      });
      expect(c.sessionId).toBe(resumed);
      registry.close();
    } finally {
      await proxy.close();
    }
  }, 40_000);

  it('gives up a member that accepts connections and never answers, and connects to another', async () => {
    // The ensemble as the client sees it: the real server behind a proxy, and a member that is stopped (it
    // accepts, it never answers). Whichever the client dials first, it must end up on the real one.
    const [proxy, silent] = [await startSilencingProxy(zk.connectString), await startSilentServer()];
    try {
      const c = await open({ connectString: `${proxy.address},${silent.address}`, sessionTimeoutMs: 4_000 });
      const reasons: string[] = [];
      c.on('disconnected', (reason) => reasons.push(reason));
      // Its connection goes silent: the library's next server is the stopped member, then the real one again.
      // (Whether the session survives the detour depends on how long it took: it may have expired.)
      proxy.silence();
      await until('the silent connection dropped', () => reasons.includes('no-response'));
      await until('connected again', () => c.connected);
      await c.create('/after-silent-member', 'x', 'ephemeral');
      expect((await c.exists('/after-silent-member'))?.ephemeralOwner).toBe(c.sessionId);
    } finally {
      await Promise.all([proxy.close(), silent.close()]);
    }
  }, 40_000);

  it('fails a call queued while reconnecting as soon as the session turns out to have expired', async () => {
    const proxy = await startSilencingProxy(zk.connectString);
    try {
      const c = await open({
        connectString: proxy.address,
        sessionTimeoutMs: 4_000,
        operationTimeoutMs: 60_000,
      });
      await c.create('/queued', 'x');
      const reasons: string[] = [];
      c.on('disconnected', (reason) => reasons.push(reason));
      // Cut off, and every reconnection attempt too: a call made now waits in the library's queue.
      const connections = proxy.accepted();
      proxy.block();
      await until('cut off', () => reasons.includes('no-response'));
      // The client dropped the silent connection, but the library sees it closed a moment later: a call
      // made before that is written to the dead socket and fails with CONNECTION_LOSS, as it should. This
      // test is about a call made while the library reconnects, so it waits for the next attempt.
      await until('reconnecting', () => proxy.accepted() > connections);
      const queued = c.get('/queued').then(
        () => 'answered',
        (error: { code?: string }) => error.code,
      );
      await expireSession(c.session);
      proxy.unblock();
      // The next attempt gets through and learns that the session expired; the call must not wait out its
      // 60 s operation timeout (this test's own timeout is shorter).
      expect(await queued).toBe(ZooKeeperErrorCode.SESSION_EXPIRED);
      await until('connected on a fresh session', () => c.connected);
      expect((await c.get('/queued')).data.toString()).toBe('x');
    } finally {
      await proxy.close();
    }
  }, 30_000);

  it('reports disconnection from its local timer when the server goes silent', async () => {
    const c = await open({ sessionTimeoutMs: 4_000 });
    const reasons: string[] = [];
    c.on('disconnected', (reason) => reasons.push(reason));
    const started = Date.now();
    zk.members[0]!.pause();
    try {
      await until('disconnected', () => reasons.length > 0, 10_000);
    } finally {
      zk.members[0]!.resume();
    }
    const noticedMs = Date.now() - started;
    expect(reasons[0]).toBe('no-response');
    await until('connected again', () => c.connected, 20_000);
    process.stdout.write(`silent server noticed after ${noticedMs} ms (session timeout 4000 ms)\n`);
  }, 40_000);

  it('is not connected once the server has been silent past the limit, before its timer has run', async () => {
    // A process frozen (SIGSTOP) for longer than the limit handles waiting I/O before its timers: the
    // clock jumps, the probe timer has not fired, and `connected` must already say no.
    let skew = 0;
    const c = await open({ now: () => Date.now() + skew, probeIntervalMs: 3_600_000 });
    expect(c.connected).toBe(true);
    skew = c.sessionTimeoutMs;
    expect(c.connected).toBe(false);
    skew = 0;
    expect(c.connected).toBe(true);
  });
});
