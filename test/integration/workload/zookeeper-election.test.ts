import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { LocalFleet } from '../../../workload/src/local-fleet.ts';
import { PARTITION_HEADER } from '../../../workload/src/plugins/partition-router.ts';

const PARTITIONS = 16;
const KEYS = 12;
/** Clients that send their next request once the last one is answered. */
const CLIENTS = 4;
/** Beside them, a new operation every ARRIVAL_INTERVAL_MS, at most MAX_ARRIVALS_IN_FLIGHT at a time. */
const ARRIVAL_INTERVAL_MS = 20;
const MAX_ARRIVALS_IN_FLIGHT = 64;
/** Bounds of the load, whatever happens: operations in all, and time. */
const MAX_OPERATIONS = 20_000;
const MAX_LOAD_MS = 90_000;
/** Attempts of one increment (same idempotency key) before the client gives up on it. */
const MAX_ATTEMPTS = 100;

/** How one attempt ended: `ok`, or a failure label (HAProxy's own 503 is `503 haproxy no server`). */
async function attempt(
  url: string,
  method: 'GET' | 'POST',
  headers: Record<string, string>,
): Promise<string> {
  try {
    const response = await request(url, { method, headers, headersTimeout: 15_000, bodyTimeout: 15_000 });
    const body = await response.body.text();
    if (response.statusCode === 200) return 'ok';
    let code = 'unknown';
    try {
      code = String((JSON.parse(body) as { error?: unknown }).error);
    } catch {
      // not JSON (HAProxy's default error pages are HTML)
    }
    // A worker's answer names the partition; HAProxy's own does not (its body is its default page or,
    // with JSON error answers configured, NO_WORKER_AVAILABLE).
    const fromWorker = response.headers[PARTITION_HEADER] !== undefined;
    const noServer = body.includes('No server is available') || code === 'NO_WORKER_AVAILABLE';
    if (response.statusCode === 503 && !fromWorker && noServer) return '503 haproxy no server';
    return `${response.statusCode} ${code}${fromWorker ? '' : ' (haproxy)'}`;
  } catch (error) {
    return (error as { code?: string }).code ?? 'error';
  }
}

interface LoadStats {
  sent: number;
  acknowledged: number[];
  /** Increments given up on after MAX_ATTEMPTS (may or may not have been applied). */
  abandoned: number[];
  reads: number;
  failures: Map<string, number>;
  /** The longest one operation took until it succeeded (retries included), ms. */
  longestStallMs: number;
}

/** `CLIENTS` loops of increments (each retried with its idempotency key until acknowledged) and reads. */
async function runLoad(url: string, stop: () => boolean): Promise<LoadStats> {
  const stats: LoadStats = {
    sent: 0,
    acknowledged: new Array<number>(KEYS).fill(0),
    abandoned: new Array<number>(KEYS).fill(0),
    reads: 0,
    failures: new Map(),
    longestStallMs: 0,
  };
  const deadline = Date.now() + MAX_LOAD_MS;
  let next = 0;
  const operation = async (i: number): Promise<void> => {
    const key = Math.floor(i / 3) % KEYS;
    const write = i % 3 !== 2;
    const started = performance.now();
    for (let n = 0; n < MAX_ATTEMPTS; n++) {
      stats.sent++;
      const outcome = write
        ? await attempt(`${url}/v1/counters/election-${key}/incr`, 'POST', { 'idempotency-key': `op-${i}` })
        : await attempt(`${url}/v1/counters/election-${key}`, 'GET', {});
      if (outcome === 'ok') {
        if (write) stats.acknowledged[key]!++;
        else stats.reads++;
        stats.longestStallMs = Math.max(stats.longestStallMs, performance.now() - started);
        return;
      }
      stats.failures.set(outcome, (stats.failures.get(outcome) ?? 0) + 1);
      await sleep(50);
    }
    if (write) stats.abandoned[key]!++;
  };
  const running = (): boolean => !stop() && next < MAX_OPERATIONS && Date.now() < deadline;
  const client = async (): Promise<void> => {
    while (running()) {
      await operation(next++);
      await sleep(5);
    }
  };
  // A client that waits for its answer sends nothing while its request is held, so it cannot notice the
  // load balancer dropping the fleet meanwhile; new requests keep arriving in real traffic.
  const arrivals = async (): Promise<void> => {
    const started = new Set<Promise<void>>();
    while (running()) {
      if (started.size < MAX_ARRIVALS_IN_FLIGHT) {
        const op: Promise<void> = operation(next++).finally(() => started.delete(op));
        started.add(op);
      }
      await sleep(ARRIVAL_INTERVAL_MS);
    }
    await Promise.all(started);
  };
  await Promise.all([...Array.from({ length: CLIENTS }, client), arrivals()]);
  return stats;
}

interface OwnerSamples {
  rounds: number;
  doubles: { partition: number; workers: string[] }[];
  /** Rounds in which each worker reported `suspended`. */
  suspended: Map<string, number>;
  /** The longest disconnection each worker reported (`disconnectedMs`), ms. */
  longestDisconnectMs: Map<string, number>;
}

interface WorkerStatus {
  workerId: string;
  state: string;
  owned: number[];
  disconnectedMs?: number;
}

async function statusOf(url: string): Promise<WorkerStatus | undefined> {
  try {
    const response = await request(`${url}/_capstan/status`, { headersTimeout: 1000, bodyTimeout: 1000 });
    return (await response.body.json()) as WorkerStatus;
  } catch {
    return undefined; // a worker that does not answer serves nothing
  }
}

/** Adds one round of statuses (read at about the same time) to `samples`. */
function record(samples: OwnerSamples, statuses: readonly (WorkerStatus | undefined)[]): void {
  const servedBy = new Map<number, string[]>();
  for (const status of statuses) {
    if (!status) continue;
    const { workerId, disconnectedMs } = status;
    if (status.state === 'suspended')
      samples.suspended.set(workerId, (samples.suspended.get(workerId) ?? 0) + 1);
    const longest = Math.max(disconnectedMs ?? 0, samples.longestDisconnectMs.get(workerId) ?? 0);
    if (disconnectedMs !== undefined) samples.longestDisconnectMs.set(workerId, longest);
    for (const p of status.owned) servedBy.set(p, [...(servedBy.get(p) ?? []), workerId]);
  }
  for (const [partition, workers] of servedBy)
    if (workers.length > 1) samples.doubles.push({ partition, workers });
  samples.rounds++;
}

/** Reads every worker's `/_capstan/status` every 50 ms until `stop()`; records partitions two workers served. */
async function sampleOwners(fleet: LocalFleet, stop: () => boolean): Promise<OwnerSamples> {
  const samples: OwnerSamples = {
    rounds: 0,
    doubles: [],
    suspended: new Map(),
    longestDisconnectMs: new Map(),
  };
  const deadline = Date.now() + MAX_LOAD_MS;
  while (!stop() && Date.now() < deadline) {
    record(samples, await Promise.all([...fleet.workers.values()].map((w) => statusOf(w.url))));
    await sleep(50);
  }
  return samples;
}

/** The fewest workers HAProxy's stats showed UP, polled every 50 ms until `stop()`. */
async function fewestUp(fleet: LocalFleet, stop: () => boolean): Promise<number> {
  let fewest = Number.POSITIVE_INFINITY;
  const deadline = Date.now() + MAX_LOAD_MS;
  while (!stop() && Date.now() < deadline) {
    try {
      const csv = await (await fetch(`${fleet.haproxy.statsUrl}/stats;csv`)).text();
      const rows = csv.split('\n').map((line) => line.split(','));
      const up = rows.filter(
        (cols) => cols[0] === 'workers' && cols[1] !== 'BACKEND' && cols[17]?.startsWith('UP'),
      );
      fewest = Math.min(fewest, up.length);
    } catch {
      // the stats page is HAProxy's own; a missed poll loses one sample
    }
    await sleep(50);
  }
  return fewest;
}

/** The workers' `capstan_worker_forwards_total` by result, summed over the fleet. */
async function forwards(fleet: LocalFleet): Promise<Record<string, number>> {
  const sums: Record<string, number> = {};
  for (const worker of fleet.workers.values()) {
    const text = await (await fetch(`${worker.url}/metrics`)).text();
    for (const [, result, value] of text.matchAll(
      /^capstan_worker_forwards_total\{result="(\w+)"\} (\d+)$/gm,
    ))
      sums[result!] = (sums[result!] ?? 0) + Number(value);
  }
  return sums;
}

async function valueOf(fleet: LocalFleet, key: number): Promise<number> {
  for (let n = 0; ; n++) {
    const response = await request(`${fleet.url}/v1/counters/election-${key}`);
    const body = await response.body.text();
    if (response.statusCode === 200) return (JSON.parse(body) as { value: number }).value;
    if (n >= 50) throw new Error(`reading election-${key}: ${response.statusCode} ${body}`);
    await sleep(100);
  }
}

describe('a ZooKeeper leader election under load (3 members, 3 workers, HAProxy)', () => {
  const fleet = new LocalFleet({
    name: 'zke',
    app: 'counters',
    workers: 3,
    partitions: PARTITIONS,
    zookeeperReplicas: 3,
    sessionTimeoutMs: 4000,
    departureDelayMs: 0,
    haproxy: { checkIntervalMs: 300 },
    workerEnv: { LOG_LEVEL: 'warn' },
  });

  beforeAll(async () => fleet.start(), 150_000);
  afterAll(async () => fleet.stop(), 60_000);

  it('keeps every worker in the load balancer, never serves a partition twice and loses no increment', async () => {
    const epochsBefore = (await fleet.partitionStates()).map((s) => s.epoch);
    let stopped = false;
    const stop = (): boolean => stopped;
    const load = runLoad(fleet.url, stop);
    const owners = sampleOwners(fleet, stop);
    const up = fewestUp(fleet, stop);
    let electionMs: number | undefined;
    try {
      await sleep(1500);
      const leader = await fleet.zookeeper.leader();
      expect(leader).toBeDefined();
      const killedAt = performance.now();
      await leader!.kill('SIGKILL');
      await fleet.zookeeper.waitServing(60_000); // the two survivors, one of them leading
      electionMs = performance.now() - killedAt;
      await sleep(4000);
    } finally {
      stopped = true;
    }
    const [stats, samples, fewest] = await Promise.all([load, owners, up]);

    const finals = await Promise.all(Array.from({ length: KEYS }, (_, k) => valueOf(fleet, k)));
    const acknowledged = stats.acknowledged.reduce((a, b) => a + b, 0);
    const epochsAfter = (await fleet.partitionStates()).map((s) => s.epoch);
    const moved = epochsAfter.filter((epoch, p) => epoch !== epochsBefore[p]).length;
    const forwarded = await forwards(fleet);
    const disconnected = [...fleet.workers.values()].filter((w) =>
      readFileSync(w.process.logFile, 'utf8').includes('zookeeper disconnected'),
    );
    console.log(
      [
        `ZooKeeper leader killed; a new leader served after ${Math.round(electionMs ?? Number.NaN)} ms`,
        `requests sent ${stats.sent}, increments acknowledged ${acknowledged}, reads ok ${stats.reads}, ` +
          `increments abandoned ${stats.abandoned.reduce((a, b) => a + b, 0)}`,
        `failed attempts by status: ${JSON.stringify(Object.fromEntries(stats.failures))}`,
        `longest stall a client saw: ${Math.round(stats.longestStallMs)} ms`,
        `workers that logged a disconnection: ${disconnected.map((w) => w.id).join(', ') || 'none'}; ` +
          `rounds seen suspended: ${JSON.stringify(Object.fromEntries(samples.suspended))}, ` +
          `longest disconnection seen (ms): ${JSON.stringify(Object.fromEntries(samples.longestDisconnectMs))}`,
        `fewest workers UP in HAProxy: ${fewest}; partitions moved: ${moved}; ` +
          `owner sample rounds: ${samples.rounds}, doubles: ${samples.doubles.length}`,
        `forwards between workers by result: ${JSON.stringify(forwarded)}`,
        `final counter values: ${JSON.stringify(finals)}, acknowledged: ${JSON.stringify(stats.acknowledged)}`,
      ].join('\n'),
    );

    // The election reached the workers (their ZooKeeper connections were closed under them).
    expect(disconnected.length).toBeGreaterThan(0);
    expect(stats.failures.get('503 haproxy no server') ?? 0).toBe(0);
    expect(samples.rounds).toBeGreaterThan(0);
    expect(samples.doubles).toEqual([]);
    for (let k = 0; k < KEYS; k++) {
      expect(finals[k]).toBeGreaterThanOrEqual(stats.acknowledged[k]!);
      expect(finals[k]).toBeLessThanOrEqual(stats.acknowledged[k]! + stats.abandoned[k]!);
    }
  }, 180_000);
});
