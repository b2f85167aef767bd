/**
 * The per-app ownership summary (pure): from the assignment, who holds each `owners/<p>` node and the live
 * members, how many partitions each worker is assigned, how many are owned (held by their assigned
 * owner), being claimed (assigned to a live member that does not hold them yet), waiting (assigned to a
 * worker that is not a member, inside its rebalance delay) and unassigned.
 */
import type { AssignmentRecord } from '../../../common/src/assignment-record.ts';
import type { OwnershipSummary } from '../model/status-partitions.ts';

/** What the observer read from ZooKeeper. */
export interface OwnershipReading {
  readonly record: AssignmentRecord | undefined;
  /** Version of the assignment node; undefined while it does not exist. */
  readonly version: number | undefined;
  /** The worker holding `owners/<p>`, by partition. */
  readonly holders: ReadonlyMap<number, string>;
  readonly members: ReadonlySet<string>;
}

/** See the module comment. `byWorker` keys are sorted. */
export function summarizeOwnership(reading: OwnershipReading): OwnershipSummary {
  const entries = reading.record?.partitions ?? [];
  const byWorker = new Map<string, number>();
  let owned = 0;
  let claiming = 0;
  let waiting = 0;
  let unassigned = 0;
  entries.forEach((entry, p) => {
    const owner = entry.owner;
    if (owner === undefined) {
      unassigned++;
      return;
    }
    byWorker.set(owner, (byWorker.get(owner) ?? 0) + 1);
    if (reading.holders.get(p) === owner) owned++;
    else if (reading.members.has(owner)) claiming++;
    else waiting++;
  });
  const sorted = [...byWorker].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    count: entries.length,
    ...(reading.version === undefined ? {} : { version: reading.version }),
    byWorker: Object.fromEntries(sorted),
    owned,
    claiming,
    waiting,
    unassigned,
  };
}

/** Partitions of the assignment not held by their assigned owner (unassigned ones included). */
export function unowned(summary: OwnershipSummary): number {
  return summary.count - summary.owned;
}
