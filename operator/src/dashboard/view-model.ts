/**
 * The dashboard's view model (pure): what `/api/v1/...` answers and the page shows, built from an app as the
 * informer cached it, what this process's coordinator read from ZooKeeper, recent rebalances and events,
 * and the operator's own health. Every field is picked by name from the status, never copied wholesale,
 * and nothing of the spec beyond the partition and replica counts is read: no Secret reference, env
 * value or credential can reach the JSON.
 */
import type { DistributedApp } from '../api/schema.ts';
import type { OwnershipReading } from '../coordination/ownership-summary.ts';
import type { RebalanceRecord } from './coordination-log.ts';
import type { HistoryPoint, MetricsSample } from './metrics-sample.ts';
import { quantile } from './metrics-sample.ts';

/** A condition as shown. */
export interface ConditionView {
  readonly type: string;
  readonly status: string;
  readonly reason: string;
  readonly message: string;
  readonly lastTransitionTime: string;
}

/** One row of `/api/v1/apps`. */
export interface AppSummary {
  readonly namespace: string;
  readonly name: string;
  readonly phase: string;
  readonly conditions: readonly ConditionView[];
  readonly workers: { readonly desired: number; readonly ready: number };
  readonly partitions: {
    readonly count: number;
    readonly owned: number | null;
    readonly version: number | null;
  };
  readonly lastRebalance: { readonly time: string; readonly reason: string; readonly moved: number } | null;
  /** Whether this process's coordinator has read the app's ZooKeeper (only the leader's does). */
  readonly observed: boolean;
}

/**
 * A partition's state: `owned` (held by its assigned owner), `moving` (assigned to a live worker that does
 * not hold it yet; `holder` is the previous owner while it still does), `waiting` (assigned to a worker
 * that is not registered, inside its rebalance delay) or `unassigned`.
 */
export type PartitionState = 'owned' | 'moving' | 'waiting' | 'unassigned';

/** One cell of the partition map. */
export interface PartitionCell {
  readonly partition: number;
  readonly owner: string | null;
  readonly epoch: number;
  /** The worker holding `owners/<p>`, null when none does. */
  readonly holder: string | null;
  readonly state: PartitionState;
}

/** The app's partitions as its coordinator read them. */
export interface PartitionMapView {
  /** Version of the assignment node; null without one. */
  readonly version: number | null;
  readonly members: readonly string[];
  readonly partitions: readonly PartitionCell[];
  /** Partitions not in state `owned`. */
  readonly unowned: number;
}

/** An Event of the app. */
export interface EventView {
  readonly time: string;
  readonly type: string;
  readonly reason: string;
  readonly message: string;
  readonly count: number;
}

/** `/api/v1/apps/{namespace}/{name}`. */
export interface AppDetail extends AppSummary {
  /** null while this process's coordinator has not read the app (a standby, or not yet). */
  readonly partitionMap: PartitionMapView | null;
  readonly rebalances: readonly RebalanceRecord[];
  readonly events: readonly EventView[];
}

/** What the operator view is built from. */
export interface OperatorInput {
  readonly identity: string;
  readonly leading: boolean;
  /** The Lease holder last seen; undefined without leader election. */
  readonly observedLeader: string | undefined;
  readonly latest: MetricsSample | undefined;
  readonly intervalMs: number;
  readonly points: readonly HistoryPoint[];
}

/** `/api/v1/operator`. */
export interface OperatorView {
  readonly identity: string;
  readonly leader: {
    readonly leading: boolean;
    readonly electionEnabled: boolean;
    /** Who holds the Lease as this replica saw it ('' while nobody). */
    readonly holder: string;
  };
  readonly totals: {
    readonly reconciles: number;
    readonly reconcileErrors: number;
    /** p99 reconcile time since start, in seconds; null before the first reconcile. */
    readonly p99Seconds: number | null;
    readonly queueDepth: number;
    readonly apiRequests: number;
    readonly apiErrors: number;
  } | null;
  readonly history: { readonly intervalMs: number; readonly points: readonly HistoryPoint[] };
}

function conditionsOf(app: DistributedApp): ConditionView[] {
  return (app.status?.conditions ?? []).map((c) => ({
    type: c.type,
    status: c.status,
    reason: c.reason,
    message: c.message,
    lastTransitionTime: c.lastTransitionTime,
  }));
}

function lastRebalanceOf(app: DistributedApp): AppSummary['lastRebalance'] {
  const last = app.status?.lastRebalance;
  if (last?.time === undefined) return null;
  return { time: last.time, reason: last.reason ?? '', moved: last.moved ?? 0 };
}

function workersOf(app: DistributedApp): AppSummary['workers'] {
  const workers = app.status?.workers;
  return { desired: workers?.desired ?? app.spec.workers?.replicas ?? 0, ready: workers?.ready ?? 0 };
}

/** From the coordinator's reading when there is one, else from the status the leader wrote. */
function partitionsOf(app: DistributedApp, map: PartitionMapView | undefined): AppSummary['partitions'] {
  const stored = app.status?.partitions;
  if (map !== undefined) {
    return { count: map.partitions.length, owned: map.partitions.length - map.unowned, version: map.version };
  }
  return { count: stored?.count ?? 0, owned: stored?.owned ?? null, version: stored?.epoch ?? null };
}

/** The row of `app`; `reading` is its coordinator's, if this process has one. */
export function appSummary(app: DistributedApp, reading?: OwnershipReading): AppSummary {
  return {
    namespace: app.metadata.namespace ?? '',
    name: app.metadata.name ?? '',
    phase: app.status?.phase ?? 'Pending',
    conditions: conditionsOf(app),
    workers: workersOf(app),
    partitions: partitionsOf(app, reading === undefined ? undefined : partitionMap(reading)),
    lastRebalance: lastRebalanceOf(app),
    observed: reading !== undefined,
  };
}

function stateOf(owner: string | undefined, holder: string | undefined, members: ReadonlySet<string>) {
  if (owner === undefined) return 'unassigned';
  if (holder === owner) return 'owned';
  return members.has(owner) ? 'moving' : 'waiting';
}

/** Every partition of the reading with its owner, epoch, holder and {@link PartitionState}. */
export function partitionMap(reading: OwnershipReading): PartitionMapView {
  const partitions = (reading.record?.partitions ?? []).map((entry, p): PartitionCell => {
    const holder = reading.holders.get(p);
    return {
      partition: p,
      owner: entry.owner ?? null,
      epoch: entry.epoch,
      holder: holder ?? null,
      state: stateOf(entry.owner, holder, reading.members),
    };
  });
  return {
    version: reading.version ?? null,
    members: [...reading.members].sort(),
    partitions,
    unowned: partitions.filter((c) => c.state !== 'owned').length,
  };
}

/** `/api/v1/apps/{namespace}/{name}`. */
export function appDetail(
  app: DistributedApp,
  reading: OwnershipReading | undefined,
  rebalances: readonly RebalanceRecord[],
  events: readonly EventView[],
): AppDetail {
  return {
    ...appSummary(app, reading),
    partitionMap: reading === undefined ? null : partitionMap(reading),
    rebalances,
    events,
  };
}

/** `/api/v1/operator`. */
export function operatorView(input: OperatorInput): OperatorView {
  const latest = input.latest;
  return {
    identity: input.identity,
    leader: {
      leading: input.leading,
      electionEnabled: input.observedLeader !== undefined,
      holder: input.observedLeader ?? (input.leading ? input.identity : ''),
    },
    totals:
      latest === undefined
        ? null
        : {
            reconciles: latest.reconciles,
            reconcileErrors: latest.reconcileErrors,
            p99Seconds: quantile(latest.reconcileBuckets, 0.99),
            queueDepth: latest.queueDepth,
            apiRequests: latest.apiRequests,
            apiErrors: latest.apiErrors,
          },
    history: { intervalMs: input.intervalMs, points: input.points },
  };
}
