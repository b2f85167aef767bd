/**
 * The local half of the demo flow, shared by `make demo` (hack/demo.ts) and the e2e test
 * (test/e2e/demo.test.ts): run the example app for real on loopback with the local fleet (ZooKeeper,
 * Redis, HAProxy, workers, the rebalancer and a tiny upstream), send bounded bursts through HAProxy,
 * and `kill -9` a worker to measure failover.
 */
import { fleetOptionsFrom, readAppFile } from '../../workload/src/dev-runner.ts';
import { LocalFleet } from '../../workload/src/local-fleet.ts';
import type { FleetOptions, PartitionState } from '../../workload/src/local-fleet.ts';
import { runLoad } from '../../workload/src/local/load.ts';

/** The fleet options `capstan dev <file>` would use, in `namespace`. */
export async function demoFleetOptions(file: string, namespace: string): Promise<FleetOptions> {
  return { ...fleetOptionsFrom(await readAppFile(file)), namespace };
}

/**
 * Starts the fleet. On failure stops what started and throws an error carrying the tails of the
 * workers' logs (read before the stop removes them).
 */
export async function startFleet(options: FleetOptions): Promise<LocalFleet> {
  const fleet = new LocalFleet(options);
  try {
    await fleet.start();
  } catch (error) {
    const tails = workerLogTails(fleet);
    await fleet.stop().catch(() => undefined);
    const why = error instanceof Error ? error.message : String(error);
    throw new Error(`the local fleet did not start: ${why}\n${tails}`, { cause: error });
  }
  return fleet;
}

/** Tails of every worker's log, for failure messages. */
export function workerLogTails(fleet: LocalFleet, lines = 15): string {
  return [...fleet.workers.values()]
    .map((w) => `--- worker ${w.id} (${w.process.describeExit() ?? 'running'})\n${w.process.logTail(lines)}`)
    .join('\n');
}

/** Options of {@link burst}. */
export interface BurstOptions {
  /** Keys are `<prefix>-0` .. `<prefix>-<keys - 1>`. */
  prefix: string;
  requests: number;
  keys: number;
  concurrency?: number;
  maxMs?: number;
}

/** Outcome of one {@link burst}. */
export interface BurstResult {
  requests: number;
  ok: number;
  failed: number;
  failures: Record<string, number>;
  keys: number;
  /** Upstream fetches of this burst's keys, in total and the most for one key. */
  upstreamFetches: number;
  maxFetchesPerKey: number;
  elapsedMs: number;
  p50Ms: number;
  p99Ms: number;
}

function percentile(sorted: number[], q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/**
 * Sends `requests` GET /v1/cache/<key> requests over `keys` keys through HAProxy (127.0.0.1), bounded
 * in count and time, and counts the upstream fetches of those keys.
 */
export async function burst(fleet: LocalFleet, options: BurstOptions): Promise<BurstResult> {
  const started = performance.now();
  const result = await runLoad({
    url: (i) => `${fleet.url}/v1/cache/${options.prefix}-${i % options.keys}`,
    concurrency: options.concurrency ?? 20,
    total: options.requests,
    maxMs: options.maxMs ?? 30_000,
  });
  const elapsedMs = performance.now() - started;
  const fetches = [...(fleet.upstream?.fetches() ?? new Map<string, number>())]
    .filter(([key]) => key.startsWith(`${options.prefix}-`))
    .map(([, n]) => n);
  const latencies = [...result.latenciesMs].sort((a, b) => a - b);
  return {
    requests: options.requests,
    ok: result.ok,
    failed: result.failed,
    failures: Object.fromEntries(result.failures),
    keys: options.keys,
    upstreamFetches: fetches.reduce((a, b) => a + b, 0),
    maxFetchesPerKey: Math.max(0, ...fetches),
    elapsedMs,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
  };
}

/** Partitions held per worker (every worker of the fleet listed, 0 when it holds none). */
export function ownershipByWorker(fleet: LocalFleet, states: PartitionState[]): Map<string, number> {
  const counts = new Map<string, number>([...fleet.workers.keys()].map((id) => [id, 0]));
  for (const s of states) if (s.holder !== undefined) counts.set(s.holder, (counts.get(s.holder) ?? 0) + 1);
  return counts;
}

/** Outcome of {@link killWorkerAndWaitFailover}. */
export interface FailoverResult {
  victim: string;
  /** The signal that ended the victim's process (SIGKILL). */
  victimSignal: string | null;
  /** Partitions the victim held before the kill. */
  owned: number;
  /** Partitions whose assigned owner changed. */
  moved: number;
  /** Moved partitions that the victim had not owned (should be none). */
  movedFromOthers: number;
  /** From the kill until every partition is held again by its assigned owner, a live worker. */
  failoverMs: number;
  /** Partitions held per surviving worker afterwards. */
  after: Map<string, number>;
  /** Partitions whose holder is not a live worker afterwards (should be none). */
  unowned: number;
  spread: number;
}

/**
 * Sends SIGKILL to the worker `victim` (default: the first), waits until every partition is held again
 * by its assigned owner among the survivors, and measures what moved. The victim leaves `fleet.workers`.
 */
export async function killWorkerAndWaitFailover(
  fleet: LocalFleet,
  victim = [...fleet.workers.keys()][0]!,
  timeoutMs = 60_000,
): Promise<FailoverResult> {
  const worker = fleet.workers.get(victim);
  if (worker === undefined) throw new Error(`no worker ${victim} in the fleet`);
  const before = await fleet.waitAllServed(20_000);
  const killedAt = Date.now();
  worker.process.signal('SIGKILL');
  const states = await fleet.waitAllServed(timeoutMs, [victim]);
  const failoverMs = Date.now() - killedAt;
  const exit = await worker.process.exited;
  fleet.workers.delete(victim);
  const moved = states.flatMap((s, p) => (s.assigned !== before[p]!.assigned ? [p] : []));
  const live = new Set(fleet.workers.keys());
  const after = ownershipByWorker(fleet, states);
  const counts = [...after.values()];
  return {
    victim,
    victimSignal: exit.signal,
    owned: before.filter((s) => s.holder === victim).length,
    moved: moved.length,
    movedFromOthers: moved.filter((p) => before[p]!.holder !== victim).length,
    failoverMs,
    after,
    unowned: states.filter((s) => s.holder === undefined || !live.has(s.holder)).length,
    spread: Math.max(...counts) - Math.min(...counts),
  };
}

/** One line per worker: `  <id>  <n> partitions`. */
export function describeOwnership(counts: Map<string, number>): string {
  return [...counts].map(([id, n]) => `  ${id.padEnd(12)} ${String(n).padStart(3)} partitions`).join('\n');
}

/** A burst as a few lines of text. */
export function describeBurst(result: BurstResult): string {
  const failures = result.failed === 0 ? '' : ` ${JSON.stringify(result.failures)}`;
  return [
    `  requests ${result.requests} over ${result.keys} keys: ${result.ok} ok, ${result.failed} failed${failures}` +
      ` in ${(result.elapsedMs / 1000).toFixed(2)} s (p50 ${result.p50Ms.toFixed(1)} ms, p99 ${result.p99Ms.toFixed(1)} ms)`,
    `  upstream fetches for these keys: ${result.upstreamFetches} (${result.keys} distinct keys, ` +
      `at most ${result.maxFetchesPerKey} per key: ${result.upstreamFetches === result.keys ? 'one fetch per key' : 'NOT coalesced'})`,
  ].join('\n');
}

/** What is wrong with a burst: a failed request, or more upstream fetches than distinct keys. */
export function burstProblems(result: BurstResult): string[] {
  const problems: string[] = [];
  if (result.ok !== result.requests)
    problems.push(
      `${result.requests - result.ok} of ${result.requests} requests failed: ${JSON.stringify(result.failures)}`,
    );
  if (result.upstreamFetches !== result.keys)
    problems.push(
      `${result.upstreamFetches} upstream fetches for ${result.keys} keys (expected one per key)`,
    );
  return problems;
}

/** What is wrong after a failover: unowned partitions, extra moves, or an unbalanced spread. */
export function failoverProblems(result: FailoverResult): string[] {
  const problems: string[] = [];
  if (result.unowned > 0) problems.push(`${result.unowned} partitions not held by a live worker`);
  if (result.moved !== result.owned)
    problems.push(`${result.moved} partitions moved, but ${result.victim} owned ${result.owned}`);
  if (result.movedFromOthers > 0) problems.push(`${result.movedFromOthers} partitions of survivors moved`);
  if (result.spread > 1) problems.push(`partitions per survivor differ by ${result.spread} (max-min > 1)`);
  return problems;
}

/** HAProxy's view of the worker backend: `<server> <status>` pairs from its stats CSV. */
export async function haproxyWorkerStatus(fleet: LocalFleet): Promise<string> {
  const csv = await (await fetch(`${fleet.haproxy.statsUrl}/stats;csv`)).text();
  return csv
    .split('\n')
    .map((line) => line.split(','))
    .filter((cols) => cols[0] === 'workers' && cols[1] !== 'FRONTEND' && cols[1] !== 'BACKEND')
    .map((cols) => `${cols[1]} ${cols[17]}`)
    .join(', ');
}
