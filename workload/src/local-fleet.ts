import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AssignmentRecord } from '../../common/src/assignment-record.ts';
import { decodeAssignment } from '../../common/src/assignment-record.ts';
import type { HaproxyAlgorithm, HaproxyConfigOptions } from '../../common/src/haproxy-config.ts';
import { OwnerMapSync } from '../../common/src/owner-map.ts';
import { haproxyPartitionSample } from '../../common/src/partition.ts';
import { Rebalancer } from '../../common/src/rebalancer.ts';
import { connect } from '../../common/src/zookeeper-client.ts';
import type { ZooKeeperClient } from '../../common/src/zookeeper-client.ts';
import { assignmentPath, ownerPath } from '../../common/src/zk-paths.ts';
import {
  freePort,
  freePorts,
  makeTempDir,
  removeDir,
  spawnManaged,
  startHaproxy,
  startRedis,
  startZooKeeper,
  startZooKeeperEnsemble,
  waitUntil,
} from './local/index.ts';
import type { HaproxyService, ManagedProcess, RedisService, ZooKeeperService } from './local/index.ts';
import { startTinyUpstream } from './tiny-upstream.ts';
import type { TinyUpstream } from './tiny-upstream.ts';

/** What to run: one DistributedApp's worth of processes on this machine. */
export interface FleetOptions {
  namespace?: string;
  name: string;
  /** `cache-gateway`, `counters` or a custom app (then `appModule`). */
  app: string;
  appModule?: string;
  workers: number;
  partitions: number;
  /** Default 4000 ms. */
  sessionTimeoutMs?: number;
  /** The rebalancer's departure delay (rebalanceDelaySeconds); default 0. */
  departureDelayMs?: number;
  /** Upstream of cache-gateway; a tiny local one is started when unset. */
  upstream?: string;
  /** 1 (default) or an odd ensemble size. */
  zookeeperReplicas?: number;
  haproxy?: {
    algorithm?: HaproxyAlgorithm;
    port?: number;
    checkIntervalMs?: number;
    /** Route each request to its partition's owner from a live map (zero hops); default false. */
    ownerRouting?: boolean;
  };
  /** Extra environment of every worker (e.g. SENTRY_DSN, CAPSTAN_MOVE_WAIT_MS). */
  workerEnv?: Record<string, string>;
}

/** One worker process of the fleet. */
export interface FleetWorker {
  id: string;
  port: number;
  url: string;
  process: ManagedProcess;
}

/** Owner of one partition as ZooKeeper says: the assignment's entry and the `owners/<p>` node's holder. */
export interface PartitionState {
  assigned: string | undefined;
  epoch: number;
  holder: string | undefined;
}

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

/**
 * A whole app on this machine: real ZooKeeper, Redis and HAProxy processes (configs from common/'s
 * renderers, through the test harness's process helpers), the rebalancer in this process, N worker
 * processes (`node workload/src/main.ts`) and, for cache-gateway without an upstream, a tiny upstream.
 * Used by `capstan dev`, the integration tests and the benchmark.
 */
export class LocalFleet {
  readonly options: FleetOptions;
  readonly workers = new Map<string, FleetWorker>();
  zookeeper!: ZooKeeperService;
  redis!: RedisService;
  haproxy!: HaproxyService;
  upstream: TinyUpstream | undefined;
  client!: ZooKeeperClient;
  rebalancer!: Rebalancer;
  /** Keeps HAProxy's owner map in step with ZooKeeper, with `haproxy.ownerRouting`. */
  ownerMap: OwnerMapSync | undefined;
  #dir = '';
  #runtimePort = 0;
  #next = 0;
  #servers: { name: string; host: string; port: number }[] = [];

  constructor(options: FleetOptions) {
    this.options = { ...options };
  }

  get ref(): { namespace: string; app: string } {
    return { namespace: this.options.namespace ?? 'default', app: this.options.name };
  }

  /** The HAProxy frontend URL clients use. */
  get url(): string {
    return this.haproxy.url;
  }

  /** Starts everything and resolves once every worker is ready and every partition is served. */
  async start(): Promise<void> {
    this.#dir = await makeTempDir(`fleet-${this.options.name}`);
    const replicas = this.options.zookeeperReplicas ?? 1;
    [this.zookeeper, this.redis] = await Promise.all([
      replicas > 1 ? startZooKeeperEnsemble({ size: replicas }) : startZooKeeper(),
      startRedis(),
    ]);
    if (this.options.app === 'cache-gateway' && !this.options.upstream)
      this.upstream = await startTinyUpstream();
    this.client = await connect({ connectString: this.zookeeper.connectString, sessionTimeoutMs: 10_000 });
    this.rebalancer = new Rebalancer({
      ...this.ref,
      client: this.client,
      partitions: this.options.partitions,
      departureDelayMs: this.options.departureDelayMs ?? 0,
    });
    await this.rebalancer.start();
    const ports = await freePorts(this.options.workers);
    this.#servers = ports.map((port, i) => ({ name: this.#id(i), host: '127.0.0.1', port }));
    if (this.options.haproxy?.ownerRouting) {
      this.#runtimePort = await freePort();
      await writeFile(this.#mapFile, '');
    }
    this.haproxy = await startHaproxy({ config: await this.#haproxyConfig() });
    if (this.options.haproxy?.ownerRouting) {
      this.ownerMap = new OwnerMapSync({
        ...this.ref,
        client: this.client,
        runtime: { host: '127.0.0.1', port: this.#runtimePort },
        mapFile: this.#mapFile,
        backend: 'workers',
      });
      await this.ownerMap.start();
    }
    await Promise.all(this.#servers.map((s) => this.#spawn(s.name, s.port)));
    this.#next = this.options.workers;
    await this.#waitBalanced(60_000);
    await this.waitBalancerSeesAll(30_000);
  }

  /** Resolves once HAProxy's health checks report every running worker UP. */
  async waitBalancerSeesAll(timeoutMs: number): Promise<void> {
    const running = () => [...this.workers.values()].filter((w) => w.process.running).map((w) => w.id);
    await waitUntil(
      async () => {
        const csv = await (await fetch(`${this.haproxy.statsUrl}/stats;csv`)).text();
        const up = new Set(
          csv
            .split('\n')
            .map((line) => line.split(','))
            .filter((cols) => cols[0] === 'workers' && cols[17]?.startsWith('UP'))
            .map((cols) => cols[1]),
        );
        return running().every((id) => up.has(id));
      },
      { what: 'HAProxy sees every worker UP', timeoutMs, intervalMs: 100 },
    );
  }

  /** Starts one more worker, adds it to HAProxy and waits until it is ready. */
  async addWorker(): Promise<FleetWorker> {
    const id = this.#id(this.#next++);
    const port = await freePort();
    this.#servers.push({ name: id, host: '127.0.0.1', port });
    const worker = await this.#spawn(id, port);
    await this.haproxy.reload(await this.#haproxyConfig());
    // The new HAProxy process read the map file, which the Runtime API's edits never touched.
    await this.ownerMap?.reset();
    await this.waitBalancerSeesAll(30_000);
    return worker;
  }

  /** The assignment and the holder of every `owners/<p>` node, read from ZooKeeper now. */
  async partitionStates(): Promise<PartitionState[]> {
    let record: AssignmentRecord | undefined;
    try {
      record = decodeAssignment((await this.client.get(assignmentPath(this.ref))).data);
    } catch {
      record = undefined;
    }
    const holders = await Promise.all(
      Array.from({ length: this.options.partitions }, async (_, p) => {
        try {
          const node = await this.client.get(ownerPath(this.ref, p));
          return (JSON.parse(node.data.toString('utf8')) as { workerId?: string }).workerId;
        } catch {
          return undefined;
        }
      }),
    );
    return holders.map((holder, p) => ({
      holder,
      assigned: record?.partitions[p]?.owner,
      epoch: record?.partitions[p]?.epoch ?? 0,
    }));
  }

  /** Resolves once every partition's `owners/<p>` is held by its assigned owner, a live worker. */
  async waitAllServed(timeoutMs: number, exclude: readonly string[] = []): Promise<PartitionState[]> {
    let states: PartitionState[] = [];
    await waitUntil(
      async () => {
        states = await this.partitionStates();
        return states.every(
          (s) => s.holder !== undefined && s.holder === s.assigned && !exclude.includes(s.holder),
        );
      },
      { what: 'every partition served by its assigned owner', timeoutMs, intervalMs: 50 },
    );
    return states;
  }

  /**
   * Every partition served by its assigned owner, spread over every worker within one of each other.
   * Served alone is not enough: the first worker to register may serve them all before the others join.
   */
  async #waitBalanced(timeoutMs: number): Promise<void> {
    await waitUntil(
      async () => {
        const states = await this.partitionStates();
        const counts = new Map([...this.workers.keys()].map((id) => [id, 0]));
        for (const s of states) {
          if (s.holder === undefined || s.holder !== s.assigned || !counts.has(s.holder)) return false;
          counts.set(s.holder, counts.get(s.holder)! + 1);
        }
        return Math.max(...counts.values()) - Math.min(...counts.values()) <= 1;
      },
      { what: 'every partition served, spread over every worker', timeoutMs, intervalMs: 50 },
    );
  }

  /** Stops everything (workers first, SIGTERM then SIGKILL) and removes the temp directories. */
  async stop(): Promise<void> {
    await Promise.all([...this.workers.values()].map((w) => w.process.stop(3000)));
    await this.ownerMap?.close();
    await this.rebalancer?.close();
    await this.client?.close();
    await this.upstream?.close();
    await Promise.all([this.haproxy?.stop(), this.redis?.stop(), this.zookeeper?.stop()]);
    if (this.#dir) await removeDir(this.#dir);
  }

  /** HAProxy's owner routing and admin socket, with `haproxy.ownerRouting`. */
  #ownerRouting(): Pick<HaproxyConfigOptions, 'ownerRouting' | 'runtime'> {
    if (!this.options.haproxy?.ownerRouting) return {};
    return {
      ownerRouting: { sample: haproxyPartitionSample(this.options.partitions, 3), mapFile: this.#mapFile },
      runtime: { bind: '127.0.0.1', port: this.#runtimePort },
    };
  }

  get #mapFile(): string {
    return join(this.#dir, 'owners.map');
  }

  #id(i: number): string {
    return `${this.options.name}-${i}`;
  }

  async #spawn(id: string, port: number): Promise<FleetWorker> {
    const env: Record<string, string> = {
      CAPSTAN_WORKER_ID: id,
      CAPSTAN_NAMESPACE: this.ref.namespace,
      CAPSTAN_APP_NAME: this.options.name,
      CAPSTAN_APP: this.options.app,
      CAPSTAN_PARTITIONS: String(this.options.partitions),
      CAPSTAN_HOST: '127.0.0.1',
      CAPSTAN_PORT: String(port),
      CAPSTAN_ADVERTISE_ADDRESS: `http://127.0.0.1:${port}`,
      CAPSTAN_ZOOKEEPER_CONNECT: this.zookeeper.connectString,
      CAPSTAN_ZOOKEEPER_SESSION_TIMEOUT_MS: String(this.options.sessionTimeoutMs ?? 4000),
      CAPSTAN_REDIS_URL: this.redis.url,
      CAPSTAN_DRAIN_DELAY_MS: String((this.options.haproxy?.checkIntervalMs ?? 300) * 3),
      ...(this.options.appModule ? { CAPSTAN_APP_MODULE: this.options.appModule } : {}),
      ...(this.upstream || this.options.upstream
        ? { CAPSTAN_UPSTREAM: this.options.upstream ?? this.upstream?.url ?? '' }
        : {}),
      ...this.options.workerEnv,
    };
    const process = spawnManaged({
      name: id,
      command: globalThis.process.execPath,
      args: [MAIN],
      dir: this.#dir,
      env,
    });
    const worker = { id, port, url: `http://127.0.0.1:${port}`, process };
    this.workers.set(id, worker);
    // Ready, and the worker started here: not another process that took the port first.
    const answersAs = async (): Promise<string | undefined> =>
      ((await (await fetch(`${worker.url}/_capstan/status`)).json()) as { workerId?: string }).workerId;
    await waitUntil(async () => (await fetch(`${worker.url}/readyz`)).ok && (await answersAs()) === id, {
      what: `worker ${id} ready`,
      timeoutMs: 30_000,
      abortReason: () => process.describeExit(),
      details: () => process.logTail(),
    });
    return worker;
  }

  async #haproxyConfig(): Promise<HaproxyConfigOptions> {
    const frontend = this.haproxy?.frontendPort ?? this.options.haproxy?.port ?? (await freePort());
    const stats = this.haproxy?.statsPort ?? (await freePort());
    return {
      frontend: { bind: '127.0.0.1', port: frontend },
      backend: { servers: this.#servers },
      healthCheck: {
        path: '/readyz',
        interval: this.options.haproxy?.checkIntervalMs ?? 300,
        fall: 2,
        rise: 1,
      },
      algorithm: this.options.haproxy?.algorithm ?? 'roundrobin',
      retries: 3,
      stats: { bind: '127.0.0.1', port: stats },
      timeouts: { connect: 500, client: 30_000, server: 10_000 },
      ...this.#ownerRouting(),
    };
  }
}
