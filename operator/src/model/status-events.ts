import type { DistributedAppStatus } from '../api/schema.ts';
import { findCondition } from './status-conditions.ts';

/** An event to record on the DistributedApp (the reconciler adds the object reference and the time). */
export interface StatusEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

function readyEvents(previous: DistributedAppStatus | undefined, next: DistributedAppStatus): StatusEvent[] {
  const wasReady = findCondition(previous, 'Ready')?.status === 'True';
  const ready = findCondition(next, 'Ready');
  if (ready?.status !== 'True' || wasReady) return [];
  return [{ type: 'Normal', reason: 'Ready', message: ready.message }];
}

function degradedEvents(
  previous: DistributedAppStatus | undefined,
  next: DistributedAppStatus,
): StatusEvent[] {
  const before = findCondition(previous, 'Degraded');
  const after = findCondition(next, 'Degraded');
  const wasDegraded = before?.status === 'True';
  if (after?.status === 'True') {
    const news = !wasDegraded || before?.reason !== after.reason;
    return news ? [{ type: 'Warning', reason: after.reason, message: after.message }] : [];
  }
  return wasDegraded ? [{ type: 'Normal', reason: 'Recovered', message: 'No longer degraded' }] : [];
}

/**
 * The events a person should see when the status moves from `previous` to `next`: the app becoming ready,
 * becoming degraded (or degraded for a new reason), and recovering. Nothing when nothing changed, so a
 * no-op reconcile records no event. Pure.
 */
export function statusEvents(
  previous: DistributedAppStatus | undefined,
  next: DistributedAppStatus,
): StatusEvent[] {
  return [...readyEvents(previous, next), ...degradedEvents(previous, next)];
}
