/**
 * Reconcile-style bookkeeping of the coordinator set (pure): the coordinators the apps in the cache
 * want, and what to do to get from the running ones there.
 */
import type { DistributedApp } from '../api/schema.ts';
import { coordinatorKey, sameSpec, type CoordinatorSpec, type CredentialSource } from './coordinator-spec.ts';

/** What to change: `stop` keys first, then `start` specs (a changed spec is in both: a restart). */
export interface CoordinatorDiff {
  readonly start: readonly CoordinatorSpec[];
  readonly stop: readonly string[];
}

/**
 * The coordinator of every app that needs one, by {@link coordinatorKey}. With `credentials`, an app whose
 * credentials are not there yet (the reconciler has not created its Secret) gets none until they are.
 * `specOf` is `coordinatorSpec` of coordinator-spec.ts, or remembers what that gave: it is asked for
 * every app at every sync.
 */
export function desiredCoordinators(
  apps: readonly DistributedApp[],
  specOf: (app: DistributedApp) => CoordinatorSpec | undefined,
  credentials?: CredentialSource,
): Map<string, CoordinatorSpec> {
  const desired = new Map<string, CoordinatorSpec>();
  for (const app of apps) {
    const spec = specOf(app);
    if (spec === undefined) continue;
    if (credentials === undefined) desired.set(coordinatorKey(spec), spec);
    else {
      const found = credentials(spec);
      if (found !== undefined) desired.set(coordinatorKey(spec), { ...spec, credentials: found });
    }
  }
  return desired;
}

/**
 * Start what is desired and not running, stop what runs and is not desired, restart (stop and start)
 * what runs with a different spec; leave the rest. Both lists are sorted by key.
 */
export function diffCoordinators(
  desired: ReadonlyMap<string, CoordinatorSpec>,
  running: ReadonlyMap<string, CoordinatorSpec>,
): CoordinatorDiff {
  const stop = [...running]
    .filter(([key, spec]) => {
      const wanted = desired.get(key);
      return wanted === undefined || !sameSpec(wanted, spec);
    })
    .map(([key]) => key)
    .sort();
  const start = [...desired]
    .filter(([key, spec]) => {
      const current = running.get(key);
      return current === undefined || !sameSpec(current, spec);
    })
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, spec]) => spec);
  return { start, stop };
}
