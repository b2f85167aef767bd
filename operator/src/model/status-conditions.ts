import type { Condition, DistributedAppStatus } from '../api/schema.ts';

/** A condition as computed, before its lastTransitionTime is decided. */
export type ConditionUpdate = Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>;

/**
 * The conditions `updates` (in their order) followed by the previous conditions of other types (kept as they
 * were; other writers own them). Each updated condition keeps its previous `lastTransitionTime` while its
 * status stays the same and takes `now` when the status changes or the condition is new.
 */
export function mergeConditions(
  previous: readonly Condition[] | undefined,
  updates: readonly ConditionUpdate[],
  now: Date,
  generation: number | undefined,
): Condition[] {
  const before = new Map((previous ?? []).map((condition) => [condition.type, condition]));
  const updated = updates.map((update): Condition => {
    const old = before.get(update.type);
    const lastTransitionTime =
      old !== undefined && old.status === update.status ? old.lastTransitionTime : now.toISOString();
    return {
      ...update,
      lastTransitionTime,
      ...(generation === undefined ? {} : { observedGeneration: generation }),
    };
  });
  const types = new Set(updates.map((update) => update.type));
  return [...updated, ...(previous ?? []).filter((condition) => !types.has(condition.type))];
}

/** The condition of `type`, if present. */
export function findCondition(status: DistributedAppStatus | undefined, type: string): Condition | undefined {
  return status?.conditions?.find((condition) => condition.type === type);
}

/** JSON with object keys sorted, so key order does not matter. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner !== null && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => a.localeCompare(b)))
      : inner,
  );
}

function withoutTransitionTimes(status: DistributedAppStatus | undefined): unknown {
  if (status === undefined) return {};
  const conditions = status.conditions?.map(({ lastTransitionTime: _ignored, ...rest }) => rest);
  return { ...status, conditions };
}

/**
 * Whether two statuses say the same thing, ignoring conditions' `lastTransitionTime` and key order. The
 * reconciler writes the status only when this is false, so a no-op reconcile writes nothing.
 */
export function statusEqual(
  a: DistributedAppStatus | undefined,
  b: DistributedAppStatus | undefined,
): boolean {
  return canonical(withoutTransitionTimes(a)) === canonical(withoutTransitionTimes(b));
}
