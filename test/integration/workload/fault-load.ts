/**
 * Bounded client load through HAProxy and sampling of who serves what, for the fault tests of the data
 * path (a ZooKeeper election, a ZooKeeper outage, a frozen worker): increments retried with their
 * idempotency key until acknowledged, reads, owner samples from every worker's `/_capstan/status`,
 * HAProxy's UP count, and the safety checks they all make of a run.
 */
import { expect } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import type { LocalFleet } from '../../../workload/src/local-fleet.ts';
import { forwardsFrom } from '../../../workload/src/metrics.ts';
import { PARTITION_HEADER } from '../../../workload/src/plugins/partition-router.ts';

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
export async function attempt(
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

export interface LoadStats {
  sent: number;
  acknowledged: number[];
  /** Increments given up on after MAX_ATTEMPTS (may or may not have been applied). */
  abandoned: number[];
  reads: number;
  failures: Map<string, number>;
  /** The longest one operation took until it succeeded (retries included), ms. */
  longestStallMs: number;
  /** The same per key. */
  longestStallByKey: number[];
}

/** What {@link runLoad} sends: keys `${prefix}-0..keys-1`. */
export interface LoadOptions {
  prefix: string;
  keys: number;
}

/** `CLIENTS` loops of increments (each retried with its idempotency key until acknowledged) and reads. */
export async function runLoad(url: string, load: LoadOptions, stop: () => boolean): Promise<LoadStats> {
  const KEYS = load.keys;
  const stats: LoadStats = {
    sent: 0,
    acknowledged: new Array<number>(KEYS).fill(0),
    abandoned: new Array<number>(KEYS).fill(0),
    reads: 0,
    failures: new Map(),
    longestStallMs: 0,
    longestStallByKey: new Array<number>(KEYS).fill(0),
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
        ? await attempt(`${url}/v1/counters/${load.prefix}-${key}/incr`, 'POST', {
            'idempotency-key': `op-${i}`,
          })
        : await attempt(`${url}/v1/counters/${load.prefix}-${key}`, 'GET', {});
      if (outcome === 'ok') {
        if (write) stats.acknowledged[key]!++;
        else stats.reads++;
        const stall = performance.now() - started;
        stats.longestStallMs = Math.max(stats.longestStallMs, stall);
        stats.longestStallByKey[key] = Math.max(stats.longestStallByKey[key]!, stall);
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

export interface OwnerSamples {
  rounds: number;
  /** Partitions two workers served at one instant, confirmed (see {@link confirmed}). */
  doubles: { partition: number; workers: string[] }[];
  /** Partitions two reads of a round both claimed that the confirming reads showed to be a move between them. */
  movesBetweenReads: number;
  /** Rounds in which each worker reported `suspended`. */
  suspended: Map<string, number>;
  /** The longest disconnection each worker reported (`disconnectedMs`), ms. */
  longestDisconnectMs: Map<string, number>;
}

export interface WorkerStatus {
  workerId: string;
  state: string;
  owned: number[];
  disconnectedMs?: number;
}

export async function statusOf(url: string): Promise<WorkerStatus | undefined> {
  try {
    const response = await request(`${url}/_capstan/status`, { headersTimeout: 1000, bodyTimeout: 1000 });
    return (await response.body.json()) as WorkerStatus;
  } catch {
    return undefined; // a worker that does not answer serves nothing
  }
}

/** Adds one round of statuses (read at about the same time) to `samples`. */
/**
 * Whether `a` and `b` really served `partition` at one instant. The reads of a round are not simultaneous,
 * so a partition that moved from one to the other between them looks served twice. Reading a, then b,
 * then a again settles it: if a served it at both ends and b in between, both served it at b's read.
 */
async function confirmed(
  partition: number,
  a: string,
  b: string,
  urls: Map<string, string>,
): Promise<boolean> {
  const serves = async (worker: string) =>
    (await statusOf(urls.get(worker)!))?.owned.includes(partition) === true;
  for (const [x, y] of [
    [a, b],
    [b, a],
  ] as const) {
    if ((await serves(x)) && (await serves(y)) && (await serves(x))) return true;
  }
  return false;
}

function record(
  samples: OwnerSamples,
  statuses: readonly (WorkerStatus | undefined)[],
): Map<number, string[]> {
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
  samples.rounds++;
  return new Map([...servedBy].filter(([, workers]) => workers.length > 1));
}

/** Reads every worker's `/_capstan/status` every 50 ms until `stop()`; records partitions two workers served. */
export async function sampleOwners(fleet: LocalFleet, stop: () => boolean): Promise<OwnerSamples> {
  const samples: OwnerSamples = {
    rounds: 0,
    doubles: [],
    suspended: new Map(),
    longestDisconnectMs: new Map(),
    movesBetweenReads: 0,
  };
  const deadline = Date.now() + MAX_LOAD_MS;
  while (!stop() && Date.now() < deadline) {
    const workers = [...fleet.workers.values()];
    const urls = new Map(workers.map((w) => [w.id, w.url]));
    const doubles = record(samples, await Promise.all(workers.map((w) => statusOf(w.url))));
    for (const [partition, [a, b]] of doubles) {
      if (await confirmed(partition, a!, b!, urls)) samples.doubles.push({ partition, workers: [a!, b!] });
      else samples.movesBetweenReads++;
    }
    await sleep(50);
  }
  return samples;
}

/** The fewest workers HAProxy's stats showed UP, polled every 50 ms until `stop()`. */
export async function fewestUp(fleet: LocalFleet, stop: () => boolean): Promise<number> {
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
export async function forwards(fleet: LocalFleet): Promise<Record<string, number>> {
  const sums: Record<string, number> = {};
  for (const worker of fleet.workers.values()) {
    const text = await (await fetch(`${worker.url}/metrics`)).text();
    for (const [result, n] of Object.entries(forwardsFrom(text))) sums[result] = (sums[result] ?? 0) + n;
  }
  return sums;
}

export async function valueOf(fleet: LocalFleet, key: string): Promise<number> {
  for (let n = 0; ; n++) {
    const response = await request(`${fleet.url}/v1/counters/${key}`);
    const body = await response.body.text();
    if (response.statusCode === 200) return (JSON.parse(body) as { value: number }).value;
    if (n >= 50) throw new Error(`reading ${key}: ${response.statusCode} ${body}`);
    await sleep(100);
  }
}

/**
 * What every fault test asserts of its run: owners were sampled and no partition had two at once, and each
 * key's final value counts every acknowledged increment and at most the abandoned ones besides (an
 * abandoned increment may or may not have been applied).
 */
export function expectSafe(samples: OwnerSamples, stats: LoadStats, finals: readonly number[]): void {
  expect(samples.rounds).toBeGreaterThan(0);
  expect(samples.doubles).toEqual([]);
  finals.forEach((final, k) => {
    expect(final).toBeGreaterThanOrEqual(stats.acknowledged[k]!);
    expect(final).toBeLessThanOrEqual(stats.acknowledged[k]! + stats.abandoned[k]!);
  });
}
