import { request } from 'undici';
import { runLoad, type LoadResult } from '../../workload/src/local/load.ts';

/** What {@link sampleOwners} saw: how many rounds, and every partition two workers served in one round. */
export interface OwnerSamples {
  rounds: number;
  doubles: { partition: number; workers: string[] }[];
}

/** A worker's `/_capstan/status` (its id and the partitions it serves), or undefined when it does not answer in 1 s. */
export async function workerStatus(url: string): Promise<{ workerId: string; owned: number[] } | undefined> {
  try {
    const response = await request(`${url}/_capstan/status`, { headersTimeout: 1000, bodyTimeout: 1000 });
    if (response.statusCode !== 200) {
      await response.body.dump();
      return undefined;
    }
    return (await response.body.json()) as { workerId: string; owned: number[] };
  } catch {
    return undefined; // a worker that is down serves nothing
  }
}

/**
 * Reads every worker's `/_capstan/status` in rounds until `stop()` (bounded by `maxMs`) and records any
 * partition that two workers said they served in the same round. A round is not one instant, so a
 * clean result is evidence, not proof; a double is a real overlap unless a move happened between reads.
 */
export async function sampleOwners(
  workerUrls: string[],
  stop: () => boolean,
  maxMs = 180_000,
): Promise<OwnerSamples> {
  const result: OwnerSamples = { rounds: 0, doubles: [] };
  const deadline = Date.now() + maxMs;
  while (!stop() && Date.now() < deadline) {
    const statuses = await Promise.all(workerUrls.map(workerStatus));
    const servedBy = new Map<number, string[]>();
    for (const status of statuses) {
      for (const p of status?.owned ?? []) servedBy.set(p, [...(servedBy.get(p) ?? []), status!.workerId]);
    }
    for (const [partition, workers] of servedBy)
      if (workers.length > 1) result.doubles.push({ partition, workers });
    result.rounds++;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return result;
}

/** What ran beside a failure: GETs through the load balancer and owner samples of the workers. */
export interface FailoverObservation {
  load: LoadResult;
  owners: OwnerSamples;
}

/** Options of {@link observeFailover}. */
export interface ObserveFailoverOptions {
  /** The load balancer's base URL; GETs go to `/v1/cache/<prefix>-<n>` over `keys` keys. */
  readonly haproxy: string;
  readonly prefix: string;
  readonly keys: number;
  /** The workers' base URLs to sample (`http://<pod IP>:8080`). */
  readonly workerUrls: readonly string[];
  /** Bound of both, whatever happens; default 180 s. */
  readonly maxMs?: number;
}

/** What {@link observeFailover} started: `stop()` (idempotent) ends it and resolves what it saw. */
export interface FailoverObservers {
  stop(): Promise<FailoverObservation>;
}

/** Starts GETs (4 at a time) through the load balancer and the owner sampler. */
export function observeFailover(options: ObserveFailoverOptions): FailoverObservers {
  const maxMs = options.maxMs ?? 180_000;
  let stopped = false;
  const load = runLoad({
    url: (i) => `${options.haproxy}/v1/cache/${options.prefix}-${i % options.keys}`,
    concurrency: 4,
    total: 1_000_000,
    maxMs,
    stop: () => stopped,
  });
  const owners = sampleOwners([...options.workerUrls], () => stopped, maxMs);
  let result: Promise<FailoverObservation> | undefined;
  return {
    stop: () => {
      stopped = true;
      result ??= Promise.all([load, owners]).then(([l, o]) => ({ load: l, owners: o }));
      return result;
    },
  };
}
