/**
 * The Kubernetes Event a rebalance records on its DistributedApp (pure): reason `Rebalanced`, a message
 * with the counts a person wants (moved, total, owning workers, unassigned) and the rebalancer's reason.
 */
import type { RebalanceResult } from '../../../common/src/rebalancer.ts';
import type { StatusEvent } from '../model/status-events.ts';

/** Reason of the event. */
export const REBALANCED_REASON = 'Rebalanced';

/** `Moved 3 of 12 partitions; 4 workers own partitions, 0 unassigned (members changed (joined: w-d))`. */
export function rebalanceEvent(result: Pick<RebalanceResult, 'reason' | 'moved' | 'record'>): StatusEvent {
  const entries = result.record.partitions;
  const owners = new Set(entries.flatMap((entry) => (entry.owner === undefined ? [] : [entry.owner])));
  const unassigned = entries.filter((entry) => entry.owner === undefined).length;
  const workers = owners.size === 1 ? '1 worker owns' : `${owners.size} workers own`;
  return {
    type: 'Normal',
    reason: REBALANCED_REASON,
    message:
      `Moved ${result.moved.length} of ${entries.length} partitions; ${workers} partitions, ` +
      `${unassigned} unassigned (${result.reason})`,
  };
}
