#!/usr/bin/env node
/**
 * Workload benchmark (a script, not a test): failover time over repeated kill -9, partitions moved vs
 * owned, upstream fetches per key under concurrent load from every worker, and cache-hit latency and
 * throughput through HAProxy against a plain fastify + ioredis server, all in one run on this machine.
 *
 *   node hack/bench-workload.ts [--kills 10] [--seconds 5]
 */
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { Pool } from 'undici';
import { partitionOf } from '../common/src/partition.ts';
import { freePort, waitUntil } from '../workload/src/local/index.ts';
import { LocalFleet } from '../workload/src/local-fleet.ts';

const SESSION_TIMEOUT_MS = 4000;
const PARTITIONS = 32;
const WORKERS = 4;

/** `--baseline-server <port> <redis url>`: the plain fastify + ioredis server the fleet is compared with. */
async function baselineServer(port: number, redisUrl: string): Promise<void> {
  const redis = new Redis(redisUrl, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 500,
  });
  const app = Fastify();
  app.get('/v1/cache/:key', async (request, reply) => {
    const value = await redis.get(`baseline:${(request.params as { key: string }).key}`);
    if (value === null) return reply.code(404).send({ error: 'miss' });
    return reply.type('application/json').send(value);
  });
  await app.listen({ host: '127.0.0.1', port });
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

/** One load target of the data-path comparison. */
interface Target {
  name: string;
  origin: string;
  path: (i: number) => string;
}

/** Totals of one target over every round. */
interface Tally {
  latencies: number[];
  errors: number;
  seconds: number;
}

/** Closed-loop load on one target for `seconds` with `concurrency` connections, added to `tally`. */
async function measureOnce(target: Target, seconds: number, tally: Tally, concurrency = 32): Promise<void> {
  const pool = new Pool(target.origin, { connections: concurrency });
  let i = 0;
  const end = performance.now() + seconds * 1000;
  const loop = async (): Promise<void> => {
    while (performance.now() < end) {
      const started = performance.now();
      try {
        const response = await pool.request({ method: 'GET', path: target.path(i++) });
        await response.body.text();
        if (response.statusCode !== 200) tally.errors++;
        tally.latencies.push(performance.now() - started);
      } catch {
        tally.errors++;
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, loop));
  tally.seconds += (performance.now() - t0) / 1000;
  await pool.close();
}

/**
 * Measures every target in interleaved one-second rounds (A B C D A B C D ...), so that load from other
 * work on the machine affects them alike; `seconds` rounds per target.
 */
async function measureInterleaved(targets: Target[], seconds: number): Promise<string[]> {
  const tallies = targets.map((): Tally => ({ latencies: [], errors: 0, seconds: 0 }));
  for (let round = 0; round < seconds; round++) {
    for (const [i, target] of targets.entries()) await measureOnce(target, 1, tallies[i]!);
  }
  return targets.map((target, i) => {
    const t = tallies[i]!;
    const sorted = [...t.latencies].sort((a, b) => a - b);
    const rps = Math.round(sorted.length / t.seconds);
    const p50 = percentile(sorted, 0.5).toFixed(2);
    const p99 = percentile(sorted, 0.99).toFixed(2);
    return `| ${target.name} | ${sorted.length} | ${t.errors} | ${rps} | ${p50} | ${p99} |`;
  });
}

async function failover(fleet: LocalFleet, kills: number): Promise<void> {
  console.log(
    `\n## Failover (kill -9), ${WORKERS} workers, ${PARTITIONS} partitions, session timeout ${SESSION_TIMEOUT_MS} ms, rebalance delay 0`,
  );
  console.log(
    '| # | victim | owned | moved | other partitions moved | served again after (ms) | max-min after |',
  );
  console.log('|---|---|---|---|---|---|---|');
  const times: number[] = [];
  for (let k = 0; k < kills; k++) {
    const before = await fleet.waitAllServed(30_000);
    const live = [...fleet.workers.values()].filter((w) => w.process.running);
    const victim = live[k % live.length]!;
    const owned = before.filter((s) => s.holder === victim.id).length;
    const killedAt = performance.now();
    victim.process.signal('SIGKILL');
    const after = await fleet.waitAllServed(60_000, [victim.id]);
    const ms = Math.round(performance.now() - killedAt);
    times.push(ms);
    fleet.workers.delete(victim.id);
    const moved = after.flatMap((s, p) => (s.assigned !== before[p]!.assigned ? [p] : []));
    const others = moved.filter((p) => before[p]!.assigned !== victim.id).length;
    const counts = new Map<string, number>();
    for (const s of after) counts.set(s.assigned ?? '-', (counts.get(s.assigned ?? '-') ?? 0) + 1);
    const spread = Math.max(...counts.values()) - Math.min(...counts.values());
    console.log(`| ${k + 1} | ${victim.id} | ${owned} | ${moved.length} | ${others} | ${ms} | ${spread} |`);
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

async function dataPath(fleet: LocalFleet, seconds: number): Promise<void> {
  const port = await freePort();
  const baseline = spawn(
    process.execPath,
    [fileURLToPath(import.meta.url), '--baseline-server', String(port), fleet.redis.url],
    {
      stdio: 'inherit',
    },
  );
  try {
    const redis = new Redis(fleet.redis.url);
    const keys = Array.from({ length: 100 }, (_, i) => `hot-${i}`);
    for (const key of keys) {
      const body = await (await fetch(`${fleet.url}/v1/cache/${key}`)).text();
      await redis.set(`baseline:${key}`, body);
    }
    await redis.quit();
    await waitUntil(async () => (await fetch(`http://127.0.0.1:${port}/v1/cache/hot-0`)).ok, {
      what: 'baseline up',
    });
    const path = (i: number): string => `/v1/cache/${keys[i % keys.length]}`;
    const worker = [...fleet.workers.values()].find((w) => w.process.running)!;
    const status = (await (await fetch(`${worker.url}/_capstan/status`)).json()) as { owned: number[] };
    const own = keys.filter((k) => status.owned.includes(partitionOf(k, PARTITIONS)));
    const rows = await measureInterleaved(
      [
        { name: 'HAProxy -> any worker (-> owner) -> Redis', origin: fleet.url, path },
        { name: 'one worker directly (-> owner) -> Redis', origin: worker.url, path },
        {
          name: 'one worker directly, only keys it owns -> Redis',
          origin: worker.url,
          path: (i) => `/v1/cache/${own[i % own.length]}`,
        },
        { name: 'plain fastify + ioredis', origin: `http://127.0.0.1:${port}`, path },
      ],
      seconds,
    );
    console.log(
      `\n## Cache-hit data path: ${seconds} interleaved 1 s rounds per path, 32 connections, 100 hot keys, one 2-core machine`,
    );
    console.log('| path | requests | errors | req/s | p50 ms | p99 ms |');
    console.log('|---|---|---|---|---|---|');
    for (const row of rows) console.log(row);
  } finally {
    baseline.kill('SIGTERM');
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      kills: { type: 'string', default: '10' },
      seconds: { type: 'string', default: '5' },
      'baseline-server': { type: 'boolean' },
    },
    allowPositionals: true,
    strict: false,
  });
  if (values['baseline-server']) {
    const [port, url] = process.argv.slice(-2);
    await baselineServer(Number(port), url!);
    return;
  }
  const fleet = new LocalFleet({
    name: 'bench',
    app: 'cache-gateway',
    workers: WORKERS,
    partitions: PARTITIONS,
    sessionTimeoutMs: SESSION_TIMEOUT_MS,
    departureDelayMs: 0,
    haproxy: { checkIntervalMs: 300 },
    workerEnv: { LOG_LEVEL: 'warn', CAPSTAN_CACHE_TTL_SECONDS: '600' },
  });
  try {
    await fleet.start();
    await coalescing(fleet);
    await dataPath(fleet, Number(values.seconds));
    await failover(fleet, Number(values.kills));
  } finally {
    await fleet.stop();
    await sleep(100);
  }
}

await main();
