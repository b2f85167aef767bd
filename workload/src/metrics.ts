import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The worker's Prometheus instruments, on their own registry (no process-wide default registry). */
export interface WorkloadMetrics {
  registry: Registry;
  requests: Counter<'route' | 'method' | 'code'>;
  duration: Histogram<'route' | 'method'>;
  cacheHits: Counter;
  cacheMisses: Counter;
  /** Cache misses that joined a fetch already in flight for their key at this owner (single-flight). */
  coalescedMisses: Counter;
  /** Cache operations that failed (Redis down or slow): the request was served from the upstream. */
  cacheErrors: Counter<'operation'>;
  upstreamFetches: Counter<'result'>;
  forwards: Counter<'result'>;
  /** Requests answered 503 because their partition had no reachable owner within the move wait. */
  movingRejections: Counter;
  /** Writes the fenced store rejected because their epoch was older than the newest it had seen. */
  staleWrites: Counter;
  /**
   * Writes the fenced store did not complete because Redis failed, by `outcome`: `not_applied` (503, safe
   * to retry) or `unknown` (504 OUTCOME_UNKNOWN, it may have been applied).
   */
  storeUnavailable: Counter<'outcome'>;
  ownedPartitions: Gauge;
  /** Requests running their handler at this worker now (owner side). */
  inFlight: Gauge;
  /** 1 while the worker's ZooKeeper session is connected. */
  zookeeperConnected: Gauge;
  /** 1 for the current state (connected, disconnected, expired, closed), 0 for the others. */
  zookeeperState: Gauge<'state'>;
}

/** Creates the instruments; `defaultMetrics` adds prom-client's process metrics (off in tests). */
export function createWorkloadMetrics(options: { defaultMetrics?: boolean } = {}): WorkloadMetrics {
  const registry = new Registry();
  // The event-loop delay histogram samples every 100 ms, not prom-client's 10 ms: 100 timer wake-ups a
  // second cost an idle worker about 0.4% of a core, for no better percentiles.
  if (options.defaultMetrics)
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 });
  const registers = [registry];
  return {
    registry,
    requests: new Counter({
      name: 'capstan_worker_requests_total',
      help: 'HTTP requests by route template, method and status code.',
      labelNames: ['route', 'method', 'code'],
      registers,
    }),
    duration: new Histogram({
      name: 'capstan_worker_request_duration_seconds',
      help: 'HTTP request latency by route template and method.',
      labelNames: ['route', 'method'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    cacheHits: new Counter({ name: 'capstan_worker_cache_hits_total', help: 'Cache hits.', registers }),
    cacheMisses: new Counter({ name: 'capstan_worker_cache_misses_total', help: 'Cache misses.', registers }),
    coalescedMisses: new Counter({
      name: 'capstan_worker_coalesced_misses_total',
      help: 'Cache misses that waited for a fetch of the same key already in flight instead of fetching.',
      registers,
    }),
    cacheErrors: cacheErrors(registers),
    upstreamFetches: new Counter({
      name: 'capstan_worker_upstream_fetches_total',
      help: 'Fetches from the upstream service by result (ok, error).',
      labelNames: ['result'],
      registers,
    }),
    forwards: new Counter({
      name: 'capstan_worker_forwards_total',
      help: 'Requests forwarded to the owner of their partition, by result (ok, misdirected, error).',
      labelNames: ['result'],
      registers,
    }),
    movingRejections: new Counter({
      name: 'capstan_worker_partition_unavailable_total',
      help: 'Requests answered 503 because their partition had no reachable owner in time.',
      registers,
    }),
    staleWrites: new Counter({
      name: 'capstan_worker_stale_epoch_writes_total',
      help: 'Writes rejected by the fenced store because their partition epoch was stale.',
      registers,
    }),
    storeUnavailable: storeUnavailable(registers),
    ownedPartitions: new Gauge({
      name: 'capstan_worker_owned_partitions',
      help: 'Partitions this worker serves now.',
      registers,
    }),
    inFlight: new Gauge({
      name: 'capstan_worker_in_flight_requests',
      help: 'Requests whose handler runs at this worker now.',
      registers,
    }),
    zookeeperConnected: new Gauge({
      name: 'capstan_worker_zookeeper_connected',
      help: '1 while the ZooKeeper session is connected.',
      registers,
    }),
    zookeeperState: new Gauge({
      name: 'capstan_worker_zookeeper_state',
      help: 'ZooKeeper session state: 1 for the current state.',
      labelNames: ['state'],
      registers,
    }),
  };
}

// The counters below start with every label value at 0, so rate(), dashboards and alerts see a 0 rather
// than no series before the first failure.

function cacheErrors(registers: Registry[]): Counter<'operation'> {
  const counter = new Counter({
    name: 'capstan_worker_cache_errors_total',
    help: 'Cache operations that failed; the request was served without the cache (degraded).',
    labelNames: ['operation'],
    registers,
  });
  for (const operation of ['get', 'set']) counter.inc({ operation }, 0);
  return counter;
}

function storeUnavailable(registers: Registry[]): Counter<'outcome'> {
  const counter = new Counter({
    name: 'capstan_worker_store_unavailable_total',
    help: 'Fenced writes not completed because the store failed, by outcome (not_applied, unknown).',
    labelNames: ['outcome'],
    registers,
  });
  for (const outcome of ['not_applied', 'unknown']) counter.inc({ outcome }, 0);
  return counter;
}

/**
 * `capstan_worker_forwards_total` by `result`, read from a worker's `/metrics` text (for benchmarks and
 * tests that count the hops between workers).
 */
export function forwardsFrom(metricsText: string): Record<string, number> {
  const byResult: Record<string, number> = {};
  for (const [, result, value] of metricsText.matchAll(
    /^capstan_worker_forwards_total\{result="(\w+)"\} (\d+)$/gm,
  ))
    byResult[result!] = (byResult[result!] ?? 0) + Number(value);
  return byResult;
}
