/**
 * The operator's own health from its prom-client registry (pure, on `registry.getMetricsAsJSON()`): one
 * {@link MetricsSample} holds cumulative counters and current gauges at an instant; {@link pointBetween}
 * turns two samples into rates and a p99 over the interval between them, as Prometheus' `rate()` and
 * `histogram_quantile()` would. Counters that went down (a restart of the registry) count from zero.
 */
/** One value of a metric; histogram values name their series (`..._bucket`, `..._sum`, `..._count`). */
export interface MetricValue {
  readonly value: number;
  readonly labels: Readonly<Partial<Record<string, string | number>>>;
  readonly metricName?: string;
}

/** What `registry.getMetricsAsJSON()` resolves to, as far as it is read here. */
export type MetricsJson = readonly { readonly name: string; readonly values: readonly MetricValue[] }[];

/** Cumulative reconcile-time histogram: `[upper bound in s, count]`, ascending, `+Inf` last. */
export type Buckets = readonly (readonly [number, number])[];

/** The registry at one instant. */
export interface MetricsSample {
  /** ms since the epoch. */
  readonly time: number;
  readonly reconciles: number;
  readonly reconcileErrors: number;
  readonly reconcileBuckets: Buckets;
  readonly queueDepth: number;
  readonly apiRequests: number;
  /** Requests the apiserver answered with 5xx or that got no answer. */
  readonly apiErrors: number;
}

/** One point of the dashboard's charts: the interval ending at `time`. */
export interface HistoryPoint {
  readonly time: number;
  /** Reconciles per second. */
  readonly reconcileRate: number;
  readonly errorRate: number;
  /** p99 reconcile time in seconds over the interval; null without reconciles in it. */
  readonly p99Seconds: number | null;
  readonly queueDepth: number;
  readonly apiRequestRate: number;
}

const RECONCILES = 'controller_runtime_reconcile_total';
const ERRORS = 'controller_runtime_reconcile_errors_total';
const RECONCILE_TIME = 'controller_runtime_reconcile_time_seconds';
const DEPTH = 'workqueue_depth';
const API_REQUESTS = 'rest_client_requests_total';

function values(metrics: MetricsJson, name: string): readonly MetricValue[] {
  return metrics.find((m) => m.name === name)?.values ?? [];
}

function total(metrics: MetricsJson, name: string, filter: (v: MetricValue) => boolean = () => true) {
  return values(metrics, name)
    .filter(filter)
    .reduce((sum, v) => sum + v.value, 0);
}

function bucketsOf(metrics: MetricsJson): Buckets {
  const byBound = new Map<number, number>();
  for (const v of values(metrics, RECONCILE_TIME)) {
    if (v.metricName !== `${RECONCILE_TIME}_bucket`) continue;
    const le = v.labels.le;
    const bound = le === '+Inf' ? Infinity : Number(le);
    byBound.set(bound, (byBound.get(bound) ?? 0) + v.value);
  }
  return [...byBound].sort(([a], [b]) => a - b);
}

function isApiError(v: MetricValue): boolean {
  const code = String(v.labels.code ?? '');
  return code.startsWith('5') || !/^\d+$/.test(code);
}

/** The sample of `metrics` taken at `time`. */
export function sampleOf(metrics: MetricsJson, time: number): MetricsSample {
  return {
    time,
    reconciles: total(metrics, RECONCILES),
    reconcileErrors: total(metrics, ERRORS),
    reconcileBuckets: bucketsOf(metrics),
    queueDepth: total(metrics, DEPTH),
    apiRequests: total(metrics, API_REQUESTS),
    apiErrors: total(metrics, API_REQUESTS, isApiError),
  };
}

/**
 * The `q` quantile of a cumulative histogram, interpolated linearly inside its bucket as
 * `histogram_quantile` does; null when it counts nothing. A quantile in the `+Inf` bucket is the highest
 * finite bound.
 */
export function quantile(buckets: Buckets, q: number): number | null {
  const count = buckets.at(-1)?.[1] ?? 0;
  if (count <= 0) return null;
  const rank = q * count;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const [bound, cumulative] of buckets) {
    if (cumulative >= rank) {
      if (bound === Infinity) return lowerBound;
      const inBucket = cumulative - lowerCount;
      return inBucket === 0 ? bound : lowerBound + ((bound - lowerBound) * (rank - lowerCount)) / inBucket;
    }
    lowerBound = bound;
    lowerCount = cumulative;
  }
  return lowerBound;
}

function delta(next: number, prev: number): number {
  return next >= prev ? next - prev : next;
}

function bucketDelta(next: Buckets, prev: Buckets): Buckets {
  const before = new Map(prev);
  return next.map(([bound, count]) => [bound, delta(count, before.get(bound) ?? 0)] as const);
}

/** Rates and p99 over the interval from `prev` to `next`. */
export function pointBetween(prev: MetricsSample, next: MetricsSample): HistoryPoint {
  const seconds = Math.max(0.001, (next.time - prev.time) / 1000);
  const rate = (a: number, b: number): number => delta(a, b) / seconds;
  return {
    time: next.time,
    reconcileRate: rate(next.reconciles, prev.reconciles),
    errorRate: rate(next.reconcileErrors, prev.reconcileErrors),
    p99Seconds: quantile(bucketDelta(next.reconcileBuckets, prev.reconcileBuckets), 0.99),
    queueDepth: next.queueDepth,
    apiRequestRate: rate(next.apiRequests, prev.apiRequests),
  };
}
