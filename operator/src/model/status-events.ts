import type { DistributedAppStatus } from '../api/schema.ts';
import { findCondition } from './status-conditions.ts';

/** An event to record on the DistributedApp (the reconciler adds the object reference and the time). */
export interface StatusEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
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
  const events: StatusEvent[] = [];
  const wasReady = findCondition(previous, 'Ready')?.status === 'True';
  const ready = findCondition(next, 'Ready');
  if (ready?.status === 'True' && !wasReady) {
    events.push({ type: 'Normal', reason: 'Ready', message: ready.message });
  }
  const before = findCondition(previous, 'Degraded');
  const degraded = findCondition(next, 'Degraded');
  const wasDegraded = before?.status === 'True';
  if (degraded?.status === 'True' && (!wasDegraded || before?.reason !== degraded.reason)) {
    events.push({ type: 'Warning', reason: degraded.reason, message: degraded.message });
  }
  if (wasDegraded && degraded?.status !== 'True') {
    events.push({ type: 'Normal', reason: 'Recovered', message: 'No longer degraded' });
  }
  return events;
}
