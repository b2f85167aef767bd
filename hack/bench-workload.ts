#!/usr/bin/env node
/**
 * Workload benchmark (a script, not a test): failover time over repeated kill -9, partitions moved vs
 * owned, upstream fetches per key under concurrent load from every worker, and cache-hit latency and
 * throughput through HAProxy against a plain fastify + ioredis server, all in one run on this machine.
 * The cache-hit load comes from wrk (hack/wrk.ts; `make bootstrap` installs it), not from this process.
 *
 *   node hack/bench-workload.ts [--kills 10] [--seconds 10] [--memory-entries 10000 (0: no memory tier)]
 *                               [--keys 1000 (the hot keys the cache-hit load cycles over)]
 *                               [--cpu-prof DIR (V8 CPU profiles of the workers and the plain servers)]
 *
 * Owner routing gives each worker the load of the keys it owns, where round-robin spreads the load evenly
 * whatever the keys: with few hot keys, the busiest owner's share is mostly the luck of the hash (100 keys
 * over 32 partitions and 4 workers: about 28 % on average and up to 33 % where an even split is 25 %), so
 * the comparison would measure the key sample rather than the data path. The default of 1000 keys puts the
 * busiest owner within about 1 to 2 points of 25 %; the run prints each owner's share, and `--keys 100`
 * shows the skewed case.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { Pool } from 'undici';
import { partitionOf } from '../common/src/partition.ts';
import { freePort, startHaproxy, waitUntil } from '../workload/src/local/index.ts';
import { LocalFleet } from '../workload/src/local-fleet.ts';
import { forwardsFrom } from '../workload/src/metrics.ts';
import { groupCpuSeconds } from './bench-accounting.ts';
import { workerStatus } from './demo/owner-sampler.ts';
import { errorCount, histogramPercentile, mergeHistogram, requireWrk, runWrk, wrkScript } from './wrk.ts';

const SESSION_TIMEOUT_MS = 4000;
const PARTITIONS = 32;
const WORKERS = 4;
/** wrk's connections in the data-path comparison (one wrk thread). */
const CONNECTIONS = 32;

/**
 * `--baseline-server <port> <redis url> <upstream url>`: one process of the plain fleet the workers are
 * compared with, the usual stateless design: fastify + ioredis reading through Redis to the upstream,
 * coalescing concurrent misses only within itself (a fleet of N fetches a key up to N times).
 */
async function baselineServer(port: number, redisUrl: string, upstream: string): Promise<void> {
  const redis = new Redis(redisUrl, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 500,
  });
  const inFlight = new Map<string, Promise<string>>();
  const fetchThrough = async (key: string): Promise<string> => {
    const body = await (await fetch(`${upstream}/${encodeURIComponent(key)}`)).text();
    await redis.set(`baseline:${key}`, body, 'EX', 600);
    return body;
  };
  const app = Fastify();
  // The fleet's HAProxy config health-checks /readyz.
  app.get('/readyz', () => Promise.resolve({ status: 'ready' }));
  app.get('/v1/cache/:key', async (request, reply) => {
    const { key } = request.params as { key: string };
    const cached = await redis.get(`baseline:${key}`);
    if (cached !== null) return reply.type('application/json').send(cached);
    let flight = inFlight.get(key);
    if (flight === undefined) {
      flight = fetchThrough(key).finally(() => inFlight.delete(key));
      inFlight.set(key, flight);
    }
    return reply.type('application/json').send(await flight);
  });
  await app.listen({ host: '127.0.0.1', port });
  // Exit rather than die of the signal, so that a --cpu-prof profile gets written.
  process.once(
    'SIGTERM',
    () =>
      void app
        .close()
        .then(() => redis.quit())
        .finally(() => process.exit(0)),
  );
}

/** Node flags that make a process write its V8 CPU profile into `dir` when it exits (none without). */
function cpuProfFlags(dir: string | undefined): string[] {
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

/** One load target of the data-path comparison. */
interface Target {
  name: string;
  origin: string;
  /** wrk's Lua script (from wrkScript), which picks the request paths. */
  script: string;
  /** Runs before each of its rounds (e.g. turns owner routing on or off). */
  before?: () => Promise<void>;
  /** Requests forwarded between workers so far (for the forwarded share), when it has workers. */
  forwarded?: () => Promise<number>;
  /** The pids of its processes by group (servers, HAProxy, Redis), whose CPU time its rounds account. */
  processes: () => Record<string, number[]>;
}

/** Totals of one target over every round. */
interface Tally {
  /** Latency in microseconds -> requests, merged over the rounds. */
  latencyUs: Map<number, number>;
  requests: number;
  errors: number;
  seconds: number;
  forwarded: number;
  /** CPU seconds of each process group during the rounds. */
  cpuSeconds: Map<string, number>;
}

/** One wrk run (closed loop, `concurrency` connections) on one target for `seconds`, added to `tally`. */
async function measureOnce(
  target: Target,
  seconds: number,
  tally: Tally,
  concurrency = CONNECTIONS,
): Promise<void> {
  const groups = target.processes();
  const cpuBefore = groupCpuSeconds(groups);
  const run = await runWrk({
    origin: target.origin,
    script: target.script,
    connections: concurrency,
    seconds,
  });
  mergeHistogram(tally.latencyUs, run.latencyUs);
  tally.requests += run.requests;
  tally.errors += errorCount(run.errors);
  tally.seconds += run.durationUs / 1e6;
  for (const [group, seconds] of groupCpuSeconds(groups))
    tally.cpuSeconds.set(group, (tally.cpuSeconds.get(group) ?? 0) + seconds - (cpuBefore.get(group) ?? 0));
}

function emptyTally(): Tally {
  return { latencyUs: new Map(), requests: 0, errors: 0, seconds: 0, forwarded: 0, cpuSeconds: new Map() };
}

/** Rounds per target run first and not counted: the processes' JIT warms up on the hot path. */
const WARM_UP_ROUNDS = 2;

/**
 * Measures every target in interleaved one-second rounds (A B C D A B C D ...), so that load from other
 * work on the machine affects them alike; `seconds` rounds per target, after {@link WARM_UP_ROUNDS}.
 */
async function measureInterleaved(targets: Target[], seconds: number): Promise<string[]> {
  for (let round = 0; round < WARM_UP_ROUNDS; round++) {
    for (const target of targets) {
      await target.before?.();
      await measureOnce(target, 1, emptyTally());
    }
  }
  const tallies = targets.map(emptyTally);
  for (let round = 0; round < seconds; round++) {
    for (const [i, target] of targets.entries()) {
      await target.before?.();
      const before = await target.forwarded?.();
      await measureOnce(target, 1, tallies[i]!);
      const after = await target.forwarded?.();
      if (before !== undefined && after !== undefined) tallies[i]!.forwarded += after - before;
    }
  }
  return targets.map((target, i) => {
    const t = tallies[i]!;
    const rps = Math.round(t.requests / t.seconds);
    const p50 = (histogramPercentile(t.latencyUs, 0.5) / 1000).toFixed(2);
    const p99 = (histogramPercentile(t.latencyUs, 0.99) / 1000).toFixed(2);
    const share = target.forwarded ? `${((100 * t.forwarded) / Math.max(1, t.requests)).toFixed(1)} %` : '-';
    const cpu = [...t.cpuSeconds]
      .map(([group, seconds]) => `${group} ${Math.round((1e6 * seconds) / Math.max(1, t.requests))}`)
      .join(', ');
    return `| ${target.name} | ${t.requests} | ${t.errors} | ${rps} | ${p50} | ${p99} | ${share} | ${cpu} |`;
  });
}

/** GETs through HAProxy on 8 connections until `stop()`: answers that were not 200 and requests sent. */
function backgroundLoad(url: string, stop: () => boolean): Promise<{ sent: number; failed: number }> {
  const pool = new Pool(url, { connections: 8 });
  const totals = { sent: 0, failed: 0 };
  const loop = async (): Promise<void> => {
    for (let i = 0; !stop() && i < 100_000; i++) {
      totals.sent++;
      try {
        const response = await pool.request({ method: 'GET', path: `/v1/cache/hot-${i % 100}` });
        await response.body.text();
        if (response.statusCode !== 200) totals.failed++;
      } catch {
        totals.failed++;
      }
    }
  };
  return Promise.all(Array.from({ length: 8 }, loop)).then(async () => {
    await pool.close();
    return totals;
  });
}

async function failover(fleet: LocalFleet, kills: number): Promise<void> {
  if (kills === 0) return;
  console.log(
    `\n## Failover (kill -9), ${WORKERS} workers, ${PARTITIONS} partitions, session timeout ${SESSION_TIMEOUT_MS} ms, rebalance delay 0`,
  );
  console.log(
    '| # | victim | owned | moved | other partitions moved | served again after (ms) | max-min after | GETs meanwhile | failed | forwarded |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  const times: number[] = [];
  for (let k = 0; k < kills; k++) {
    const before = await fleet.waitAllServed(30_000);
    const live = [...fleet.workers.values()].filter((w) => w.process.running);
    const victim = live[k % live.length]!;
    const owned = before.filter((s) => s.holder === victim.id).length;
    let done = false;
    const forwardedBefore = await forwardedBy(fleet, victim.id);
    const load = backgroundLoad(fleet.url, () => done);
    const killedAt = performance.now();
    victim.process.signal('SIGKILL');
    const after = await fleet.waitAllServed(60_000, [victim.id]);
    const ms = Math.round(performance.now() - killedAt);
    // Until the owner map names the new owners too.
    await fleet.ownerMap?.settled();
    done = true;
    const { sent, failed } = await load;
    const share = (100 * ((await forwardedBy(fleet, victim.id)) - forwardedBefore)) / Math.max(1, sent);
    times.push(ms);
    fleet.workers.delete(victim.id);
    const moved = after.flatMap((s, p) => (s.assigned !== before[p]!.assigned ? [p] : []));
    const others = moved.filter((p) => before[p]!.assigned !== victim.id).length;
    const counts = new Map<string, number>();
    for (const s of after) counts.set(s.assigned ?? '-', (counts.get(s.assigned ?? '-') ?? 0) + 1);
    const spread = Math.max(...counts.values()) - Math.min(...counts.values());
    console.log(
      `| ${k + 1} | ${victim.id} | ${owned} | ${moved.length} | ${others} | ${ms} | ${spread} | ${sent} | ${failed} | ${share.toFixed(1)} % |`,
    );
    await fleet.addWorker();
    await fleet.waitAllServed(60_000);
  }
  const sorted = [...times].sort((a, b) => a - b);
  console.log(
    `\nfailover: min ${sorted[0]} ms, median ${percentile(sorted, 0.5)} ms, max ${sorted.at(-1)} ms ` +
      `(target: session timeout ${SESSION_TIMEOUT_MS} ms + 1000 ms = ${SESSION_TIMEOUT_MS + 1000} ms)`,
  );
}

async function coalescing(fleet: LocalFleet): Promise<void> {
  const workers = [...fleet.workers.values()].filter((w) => w.process.running);
  const keys = Array.from({ length: 5 }, (_, i) => `bench-coalesce-${Date.now()}-${i}`);
  fleet.upstream!.resetFetches();
  for (const key of keys) {
    const responses = await Promise.all(
      Array.from(
        { length: 200 },
        async (_, i) => (await fetch(`${workers[i % workers.length]!.url}/v1/cache/${key}`)).status,
      ),
    );
    if (responses.some((s) => s !== 200))
      console.log(`  ${key}: ${responses.filter((s) => s !== 200).length} non-200`);
  }
  const fetches = keys.map((k) => fleet.upstream!.fetches().get(k) ?? 0);
  console.log(`\n## Coalescing: 200 concurrent requests per key spread over ${workers.length} workers`);
  console.log(`upstream fetches per key: ${fetches.join(', ')} (target 1)`);
}

/** Requests the fleet's workers forwarded to an owner, summed (without `except`, e.g. one about to die). */
async function forwardedBy(fleet: LocalFleet, except?: string): Promise<number> {
  let sum = 0;
  for (const worker of fleet.workers.values()) {
    if (!worker.process.running || worker.id === except) continue;
    const text = await (await fetch(`${worker.url}/metrics`)).text();
    sum += forwardsFrom(text).ok ?? 0;
  }
  return sum;
}

/**
 * How many of `keys` each worker owns: with owner routing and keys requested alike, each worker's share
 * of the load, where round-robin gives every process the same.
 */
async function keysByOwner(fleet: LocalFleet, keys: readonly string[]): Promise<number[]> {
  const counts: number[] = [];
  for (const worker of fleet.workers.values()) {
    const owned = new Set((await workerStatus(worker.url))?.owned ?? []);
    counts.push(keys.filter((key) => owned.has(partitionOf(key, PARTITIONS))).length);
  }
  return counts.sort((a, b) => b - a);
}

/** The plain fleet: WORKERS baseline processes behind an HAProxy with the fleet's own config, unrouted. */
async function plainFleet(
  fleet: LocalFleet,
  cpuProfDir: string | undefined,
): Promise<{ url: string; processes: () => Record<string, number[]>; stop: () => Promise<void> }> {
  const ports = await Promise.all(Array.from({ length: WORKERS }, () => freePort()));
  const processes = ports.map((port) =>
    spawn(
      process.execPath,
      [
        ...cpuProfFlags(cpuProfDir),
        fileURLToPath(import.meta.url),
        '--baseline-server',
        String(port),
        fleet.redis.url,
        fleet.upstream!.url,
      ],
      { stdio: 'inherit' },
    ),
  );
  const { ownerRouting: _routing, runtime: _runtime, ...config } = fleet.haproxy.config;
  const haproxy = await startHaproxy({
    config: {
      ...config,
      frontend: { bind: '127.0.0.1', port: await freePort() },
      stats: { bind: '127.0.0.1', port: await freePort() },
      backend: { servers: ports.map((port, i) => ({ name: `plain-${i}`, host: '127.0.0.1', port })) },
    },
  });
  for (const port of ports)
    await waitUntil(async () => (await fetch(`http://127.0.0.1:${port}/v1/cache/up`)).ok, {
      what: 'plain server up',
    });
  return {
    url: haproxy.url,
    processes: () => ({
      servers: processes.map((p) => p.pid ?? -1),
      haproxy: [haproxy.process.pid],
      redis: [fleet.redis.process.pid],
    }),
    stop: async () => {
      const exited = processes.map((p) => new Promise((resolve) => p.once('exit', resolve)));
      for (const p of processes) p.kill('SIGTERM');
      await Promise.all(exited);
      await haproxy.stop();
    },
  };
}

/** Upstream fetches per key when 200 requests for each of 5 new keys arrive at once through `url`. */
async function fetchesPerKey(fleet: LocalFleet, url: string, prefix: string): Promise<number[]> {
  const keys = Array.from({ length: 5 }, (_, i) => `${prefix}-${Date.now()}-${i}`);
  for (const key of keys)
    await Promise.all(
      Array.from({ length: 200 }, async () => (await fetch(`${url}/v1/cache/${key}`)).text()),
    );
  return keys.map((k) => fleet.upstream!.fetches().get(k) ?? 0);
}

/** Requests every key once through each of `origins`, a few at a time, so that the rounds measure hits. */
async function warmKeys(origins: readonly string[], keys: readonly string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += 20) {
    const batch = keys.slice(i, i + 20);
    await Promise.all(
      origins.flatMap((origin) =>
        batch.map(async (key) => (await fetch(`${origin}/v1/cache/${key}`)).text()),
      ),
    );
  }
}

async function dataPath(
  fleet: LocalFleet,
  seconds: number,
  keyCount: number,
  cpuProfDir?: string,
): Promise<void> {
  const plain = await plainFleet(fleet, cpuProfDir);
  const routing = fleet.ownerMap!;
  const dir = await mkdtemp(join(tmpdir(), 'capstan-bench-wrk-'));
  try {
    const keys = Array.from({ length: keyCount }, (_, i) => `hot-${i}`);
    await warmKeys([fleet.url, plain.url], keys);
    // wrk cycles over the same hot keys.
    const script = join(dir, 'hot-keys.lua');
    await writeFile(script, wrkScript(keys.map((key) => `/v1/cache/${key}`)));
    const forwarded = () => forwardedBy(fleet);
    const processes = () => ({
      workers: [...fleet.workers.values()].map((w) => w.process.pid),
      haproxy: [fleet.haproxy.process.pid],
      redis: [fleet.redis.process.pid],
    });
    const rows = await measureInterleaved(
      [
        {
          name: 'Capstan, owner-routed: HAProxy -> owner',
          origin: fleet.url,
          script,
          forwarded,
          processes,
          before: () => routing.resume(),
        },
        {
          name: 'Capstan, routing off: HAProxy -> any worker (-> owner)',
          origin: fleet.url,
          script,
          forwarded,
          processes,
          before: () => routing.suspend(),
        },
        {
          name: `plain fleet: HAProxy round-robin -> ${WORKERS} x fastify + ioredis`,
          origin: plain.url,
          script,
          processes: plain.processes,
        },
      ],
      seconds,
    );
    await routing.resume();
    const memory = fleet.options.workerEnv?.CAPSTAN_MEMORY_CACHE_ENTRIES === '0' ? 'off' : 'on';
    console.log(
      `\n## Cache-hit data path (load generator: wrk, 1 thread, ${CONNECTIONS} connections): ` +
        `${seconds} interleaved 1 s rounds per path, ${keys.length} hot keys, ${WORKERS} processes each, ` +
        `the same HAProxy config, memory tier ${memory}, one 2-core machine`,
    );
    console.log(
      "req/s: wrk's completed requests / its measured time over all rounds; errors: status >= 400 and socket " +
        "errors; p50/p99: exact over all rounds, from wrk's latency histograms merged, without wrk's " +
        'coordinated-omission correction; CPU: user + system time of each group of processes (and their ' +
        'children) during the rounds, from /proc, per request served',
    );
    console.log('| path | requests | errors | req/s | p50 ms | p99 ms | forwarded | CPU µs per request |');
    console.log('|---|---|---|---|---|---|---|---|');
    for (const row of rows) console.log(row);
    const perOwner = await keysByOwner(fleet, keys);
    console.log(
      `\nhot keys per owner (owner-routed, each worker's share of the load): ` +
        `${perOwner.join(', ')} of ${keys.length}; the busiest owner ` +
        `${((100 * perOwner[0]!) / keys.length).toFixed(1)} % (round-robin: ${(100 / WORKERS).toFixed(1)} % each)`,
    );
    const capstan = await fetchesPerKey(fleet, fleet.url, 'misses-capstan');
    const stateless = await fetchesPerKey(fleet, plain.url, 'misses-plain');
    console.log(
      `\nupstream fetches per key, 200 concurrent misses each: Capstan ${capstan.join(', ')}; ` +
        `plain fleet ${stateless.join(', ')} (up to ${WORKERS})`,
    );
  } finally {
    await plain.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      kills: { type: 'string', default: '10' },
      seconds: { type: 'string', default: '10' },
      'memory-entries': { type: 'string', default: '10000' },
      keys: { type: 'string', default: '1000' },
      'baseline-server': { type: 'boolean' },
      'cpu-prof': { type: 'string' },
    },
    allowPositionals: true,
    strict: false,
  });
  if (values['baseline-server']) {
    const [port, url, upstream] = process.argv.slice(-3);
    await baselineServer(Number(port), url!, upstream!);
    return;
  }
  const keyCount = Number(values.keys);
  if (!Number.isSafeInteger(keyCount) || keyCount < 1)
    throw new Error(`--keys must be a positive integer, got ${String(values.keys)}`);
  await requireWrk();
  const cpuProfDir = typeof values['cpu-prof'] === 'string' ? resolvePath(values['cpu-prof']) : undefined;
  const fleet = new LocalFleet({
    name: 'bench',
    app: 'cache-gateway',
    workers: WORKERS,
    partitions: PARTITIONS,
    sessionTimeoutMs: SESSION_TIMEOUT_MS,
    departureDelayMs: 0,
    haproxy: { checkIntervalMs: 300, ownerRouting: true },
    workerEnv: {
      LOG_LEVEL: 'warn',
      CAPSTAN_CACHE_TTL_SECONDS: '600',
      CAPSTAN_MEMORY_CACHE_ENTRIES: String(values['memory-entries']),
      ...(cpuProfDir ? { NODE_OPTIONS: cpuProfFlags(cpuProfDir).join(' ') } : {}),
    },
  });
  try {
    await fleet.start();
    await coalescing(fleet);
    await dataPath(fleet, Number(values.seconds), keyCount, cpuProfDir);
    await failover(fleet, Number(values.kills));
  } finally {
    await fleet.stop();
    await sleep(100);
    if (cpuProfDir) console.log(`\nCPU profiles of the workers and the plain servers: ${cpuProfDir}`);
  }
}

await main();
