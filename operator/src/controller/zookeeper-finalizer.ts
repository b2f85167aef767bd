/**
 * The operator's only finalizer, `capstan.dev/zookeeper-paths`, on apps with an external ZooKeeper: an
 * in-cluster ensemble goes with the app (its pods and volumes), an external one keeps
 * `/capstan/<namespace>/<app>` until the operator removes it. What to do about it now is decided here from
 * what was observed ({@link finalizerStep}, pure); `zookeeper-cleanup.ts` does it. The JSON patches that
 * add and remove the finalizer test what they were computed from (the uid and the finalizer list), so a
 * concurrent writer's finalizers are never clobbered and a stale cache makes the patch fail, not guess.
 *
 * For an app being deleted, in order: its worker StatefulSet is deleted; then the reconciler waits until no
 * worker pod of the app is left and this process runs no coordinator for it (nothing writes the paths any
 * more); then the paths are removed, then the finalizer. Without the app's credentials (its Secret is gone,
 * as a foreground deletion removes dependents first) the nodes cannot be authenticated against: the finalizer
 * is released and a Warning names the path to remove by hand.
 */
import type { AppCredentials } from '../../../common/src/zookeeper-acl.ts';
import type { DistributedApp } from '../api/schema.ts';

/** The finalizer's name. */
export const ZOOKEEPER_PATHS_FINALIZER = 'capstan.dev/zookeeper-paths';

/** What {@link finalizerStep} decides from, besides the app (the caches and the coordinators). */
export interface FinalizerObservation {
  /** The app's worker StatefulSet: `live` exists and is not being deleted, `deleting` is, `absent` is gone. */
  readonly workerSet: 'live' | 'deleting' | 'absent';
  /** How many worker pods of the app the pod cache still holds. */
  readonly workerPods: number;
  /** Whether this process still runs (or is closing) a coordinator of the app. */
  readonly coordinating: boolean;
  /** The app's ZooKeeper credentials from its Secret, or undefined when the Secret is gone. */
  readonly credentials: AppCredentials | undefined;
}

/**
 * What the finalizer step does now:
 * - `none`: nothing (a live app that has it or needs none; an app being deleted without it);
 * - `add`: add it (a live app with an external ZooKeeper);
 * - `delete-workers`: delete the app's worker StatefulSet, then look again;
 * - `wait`: look again soon, until `what` is gone;
 * - `remove-paths`: remove the app's paths from `connectString` as the app's operator, then the finalizer;
 * - `release`: remove the finalizer without touching ZooKeeper: `nothing-to-remove` (no external ZooKeeper),
 *   `no-credentials` (the Secret is gone; the path is left for a person to remove).
 */
export type FinalizerStep =
  | { readonly kind: 'none' }
  | { readonly kind: 'add' }
  | { readonly kind: 'delete-workers' }
  | { readonly kind: 'wait'; readonly what: 'workers' | 'coordinator' }
  | { readonly kind: 'remove-paths'; readonly connectString: string; readonly credentials: AppCredentials }
  | { readonly kind: 'release'; readonly why: 'nothing-to-remove' | 'no-credentials' };

/** Whether the app carries the finalizer. */
export function hasFinalizer(app: DistributedApp): boolean {
  return (app.metadata.finalizers ?? []).includes(ZOOKEEPER_PATHS_FINALIZER);
}

/** The step for an app being deleted that carries the finalizer and has an external ZooKeeper. */
function deletionStep(connectString: string, observed: FinalizerObservation): FinalizerStep {
  if (observed.workerSet === 'live') return { kind: 'delete-workers' };
  if (observed.workerPods > 0) return { kind: 'wait', what: 'workers' };
  if (observed.coordinating) return { kind: 'wait', what: 'coordinator' };
  if (observed.credentials === undefined) return { kind: 'release', why: 'no-credentials' };
  return { kind: 'remove-paths', connectString, credentials: observed.credentials };
}

/** Whether a live app needs the finalizer added: it has an external ZooKeeper and does not carry it yet. */
export function needsFinalizer(app: DistributedApp): boolean {
  return app.spec.coordination.external !== undefined && !hasFinalizer(app);
}

/** See the module comment and {@link FinalizerStep}. Pure. */
export function finalizerStep(app: DistributedApp, observed: FinalizerObservation): FinalizerStep {
  const connectString = app.spec.coordination.external?.connectString;
  if (app.metadata.deletionTimestamp === undefined)
    return needsFinalizer(app) ? { kind: 'add' } : { kind: 'none' };
  if (!hasFinalizer(app)) return { kind: 'none' };
  if (connectString === undefined) return { kind: 'release', why: 'nothing-to-remove' };
  return deletionStep(connectString, observed);
}

/** One RFC 6902 operation. */
export type JsonPatchOperation =
  | { readonly op: 'test' | 'add'; readonly path: string; readonly value: unknown }
  | { readonly op: 'remove'; readonly path: string };

function testUid(app: DistributedApp): JsonPatchOperation {
  return { op: 'test', path: '/metadata/uid', value: app.metadata.uid ?? '' };
}

/**
 * The patch adding the finalizer to `app` as the cache shows it: it tests the uid and the finalizer list
 * (`null` when there is none, which the apiserver's test accepts only while the list is absent).
 */
export function addFinalizerPatch(app: DistributedApp): JsonPatchOperation[] {
  const current = app.metadata.finalizers ?? [];
  if (current.length === 0) {
    return [
      testUid(app),
      { op: 'test', path: '/metadata/finalizers', value: null },
      { op: 'add', path: '/metadata/finalizers', value: [ZOOKEEPER_PATHS_FINALIZER] },
    ];
  }
  return [
    testUid(app),
    { op: 'test', path: '/metadata/finalizers', value: current },
    { op: 'add', path: '/metadata/finalizers/-', value: ZOOKEEPER_PATHS_FINALIZER },
  ];
}

/** The patch removing the finalizer at the index the cache shows, tested there; undefined without it. */
export function removeFinalizerPatch(app: DistributedApp): JsonPatchOperation[] | undefined {
  const index = (app.metadata.finalizers ?? []).indexOf(ZOOKEEPER_PATHS_FINALIZER);
  if (index < 0) return undefined;
  const path = `/metadata/finalizers/${index}`;
  return [testUid(app), { op: 'test', path, value: ZOOKEEPER_PATHS_FINALIZER }, { op: 'remove', path }];
}

/** The kubectl command a person runs to remove the finalizer by hand (the path is then left in ZooKeeper). */
export function removeFinalizerCommand(app: DistributedApp): string {
  const index = Math.max(0, (app.metadata.finalizers ?? []).indexOf(ZOOKEEPER_PATHS_FINALIZER));
  const path = `/metadata/finalizers/${index}`;
  const patch = JSON.stringify([
    { op: 'test', path, value: ZOOKEEPER_PATHS_FINALIZER },
    { op: 'remove', path },
  ]);
  return `kubectl patch dapp ${app.metadata.name ?? ''} -n ${app.metadata.namespace ?? ''} --type=json -p '${patch}'`;
}
