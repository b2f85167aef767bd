/**
 * Run-time trouble the status builder cannot see (a referenced Secret missing, an apply the apiserver
 * refused, a spec the builders reject) laid over the computed status as a Degraded condition whose
 * message names the cause.
 */
import type { DistributedApp, DistributedAppStatus } from '../api/schema.ts';
import { mergeConditions } from '../model/status-conditions.ts';

/** One problem: a CamelCase reason and a sentence naming what is wrong. */
export interface Trouble {
  readonly reason: 'SecretMissing' | 'ApplyFailed' | 'InvalidSpec';
  readonly message: string;
}

/**
 * `status` with Degraded=True (reason of the first trouble, every message joined) and phase Degraded
 * (Failed stays Failed). The condition's lastTransitionTime is carried over from the app's stored
 * status while it stays True. Without trouble, `status` unchanged.
 */
export function withTrouble(
  app: DistributedApp,
  status: DistributedAppStatus,
  trouble: readonly Trouble[],
  now: Date,
): DistributedAppStatus {
  const first = trouble[0];
  if (first === undefined) return status;
  const update = {
    type: 'Degraded',
    status: 'True' as const,
    reason: first.reason,
    message: trouble.map((t) => t.message).join('; '),
  };
  const [degraded] = mergeConditions(app.status?.conditions, [update], now, app.metadata.generation);
  const conditions = (status.conditions ?? []).map((c) => (c.type === 'Degraded' && degraded ? degraded : c));
  return { ...status, conditions, phase: status.phase === 'Failed' ? 'Failed' : 'Degraded' };
}
