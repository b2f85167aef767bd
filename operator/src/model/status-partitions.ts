/**
 * The partition part of the status (pure): `status.partitions`, `status.lastRebalance` and the
 * `Rebalancing` condition, from what the app's coordinator observed in ZooKeeper ({@link PartitionInput}).
 *
 * - `observed`: count, assignment version, per-worker counts and `owned` from the summary; Rebalancing
 *   True (`PartitionsMoving`) while partitions assigned to a live member are not yet claimed by it, else
 *   False (`Balanced`).
 * - `unreachable` / `off`: nothing live is known, so `owned` is left unset and Rebalancing is Unknown
 *   (`ZooKeeperUnreachable` / `NotCoordinated`); the other stored partition fields are kept.
 * - `pending` (a coordinator that has not reported yet, e.g. just after a leader change): everything is kept
 *   as stored, so a new leader writes nothing until it knows more.
 *
 * `lastRebalance` is replaced only by a rebalance the coordinator saw; otherwise the stored one is kept, so
 * it survives an operator restart. Nothing here depends on the clock: the status changes only when the input does.
 */
import type { DistributedApp, DistributedAppStatus } from '../api/schema.ts';
import type { ConditionUpdate } from './status-conditions.ts';

/** One app's partition ownership as read from ZooKeeper (the assignment, `owners/` and `members/`). */
export interface OwnershipSummary {
  /** Partitions in the assignment (0 before the first one is written). */
  readonly count: number;
  /** Version of the assignment node (0 for the first write); undefined without an assignment. */
  readonly version?: number;
  /** Partitions assigned to each worker. */
  readonly byWorker: Readonly<Record<string, number>>;
  /** Partitions whose `owners/<p>` is held by their assigned owner. */
  readonly owned: number;
  /** Not owned, assigned to a live member: handed over, not yet claimed by the new owner. */
  readonly claiming: number;
  /** Not owned, assigned to a worker that is not a member (inside its rebalance delay). */
  readonly waiting: number;
  /** Without an owner (no worker registered). */
  readonly unassigned: number;
}

/** The most recent rebalance as the status shows it. */
export interface LastRebalance {
  /** RFC 3339. */
  readonly time: string;
  readonly reason: string;
  readonly moved: number;
}

/** What the coordinator knows of an app, as the status builder takes it. */
export type PartitionInput =
  | { readonly state: 'off' }
  | { readonly state: 'pending' }
  | { readonly state: 'unreachable'; readonly lastRebalance?: LastRebalance }
  | {
      readonly state: 'observed';
      readonly ownership: OwnershipSummary;
      readonly lastRebalance?: LastRebalance;
    };

/**
 * The partition fields of the status (the stored ones where nothing newer is known; undefined only when
 * nothing is stored either) and the Rebalancing condition to set (none: keep the stored one).
 */
export interface PartitionStatus {
  readonly partitions?: DistributedAppStatus['partitions'];
  readonly lastRebalance?: DistributedAppStatus['lastRebalance'];
  readonly rebalancing?: ConditionUpdate;
}

const REASON_MAX_LENGTH = 256;

function lastRebalanceStatus(
  stored: DistributedAppStatus | undefined,
  seen: LastRebalance | undefined,
): DistributedAppStatus['lastRebalance'] {
  if (seen === undefined) return stored?.lastRebalance;
  return { time: seen.time, reason: seen.reason.slice(0, REASON_MAX_LENGTH), moved: seen.moved };
}

function withoutOwned(
  partitions: DistributedAppStatus['partitions'],
  count: number,
): NonNullable<DistributedAppStatus['partitions']> {
  const { owned: _unknown, ...rest } = partitions ?? {};
  return { count, ...rest };
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

function rebalancingCondition(o: OwnershipSummary): ConditionUpdate {
  const base = { type: 'Rebalancing' };
  if (o.claiming > 0) {
    return {
      ...base,
      status: 'True',
      reason: 'PartitionsMoving',
      message: `${o.claiming} of ${o.count} partitions not yet claimed by their new owners; ${o.owned} owned`,
    };
  }
  const extra = [
    o.waiting > 0 ? `${plural(o.waiting, 'waits', 'wait')} for a departed worker` : '',
    o.unassigned > 0 ? `${o.unassigned} unassigned` : '',
  ].filter(Boolean);
  const owned = o.count === 0 ? 'No assignment yet' : `${o.owned} of ${o.count} partitions owned`;
  return {
    ...base,
    status: 'False',
    reason: 'Balanced',
    message: [owned, ...extra].join('; '),
  };
}

function unknownRebalancing(reason: string, message: string): ConditionUpdate {
  return { type: 'Rebalancing', status: 'Unknown', reason, message };
}

/** See the module comment. `app.status` is the stored status. */
export function partitionStatus(app: DistributedApp, input: PartitionInput | undefined): PartitionStatus {
  const stored = app.status;
  if (input === undefined || input.state === 'pending') {
    return { partitions: stored?.partitions, lastRebalance: stored?.lastRebalance };
  }
  const count = app.spec.workers.partitions;
  if (input.state === 'off') {
    return {
      partitions: withoutOwned(stored?.partitions, count),
      lastRebalance: stored?.lastRebalance,
      rebalancing: unknownRebalancing(
        'NotCoordinated',
        'This operator does not coordinate partitions (--coordinate=false); ownership is unknown',
      ),
    };
  }
  if (input.state === 'unreachable') {
    return {
      partitions: withoutOwned(stored?.partitions, count),
      lastRebalance: lastRebalanceStatus(stored, input.lastRebalance),
      rebalancing: unknownRebalancing(
        'ZooKeeperUnreachable',
        "The coordinator cannot reach the app's ZooKeeper; partition ownership is unknown",
      ),
    };
  }
  const o = input.ownership;
  return {
    partitions: {
      count: o.count,
      ...(o.version === undefined ? {} : { epoch: o.version }),
      byWorker: { ...o.byWorker },
      owned: o.owned,
    },
    lastRebalance: lastRebalanceStatus(stored, input.lastRebalance),
    rebalancing: rebalancingCondition(o),
  };
}
