/**
 * Event handlers turn cache changes into queue keys (like controller-runtime's pkg/handler): the
 * object's own key, or the key of its controlling owner for owned kinds.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { EventHandler } from './informer.ts';
import type { Request } from './reconciler.ts';
import { namespaceOf } from './store.ts';

/** Maps one object to the requests it should trigger. */
export type ObjectMapper<T extends KubernetesObject> = (obj: T) => Request[];

/** Receives requests (a controller's `enqueue`). */
export type Enqueue = (request: Request) => void;

/** Decides whether an update is worth a reconcile. */
export type UpdatePredicate<T extends KubernetesObject> = (oldObj: T, newObj: T) => boolean;

/** Maps an object to its own request. */
export function requestForObject<T extends KubernetesObject>(obj: T): Request[] {
  const name = obj.metadata?.name;
  return name === undefined ? [] : [{ namespace: namespaceOf(obj), name }];
}

/** Identifies an owner kind: `apiVersion`'s group (version is ignored, like controller-runtime) and kind. */
export interface OwnerKind {
  readonly apiVersion: string;
  readonly kind: string;
  /** Only the owner reference with `controller: true`. Default true. */
  readonly controllerOnly?: boolean;
}

function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/**
 * Maps an owned object to the requests of its owners of `owner`'s kind, in the object's namespace
 * (owner references are namespace-local).
 */
export function requestsForOwner<T extends KubernetesObject>(owner: OwnerKind): ObjectMapper<T> {
  const group = groupOf(owner.apiVersion);
  const controllerOnly = owner.controllerOnly ?? true;
  return (obj) =>
    (obj.metadata?.ownerReferences ?? [])
      .filter((ref) => ref.kind === owner.kind && groupOf(ref.apiVersion) === group)
      .filter((ref) => !controllerOnly || ref.controller === true)
      .map((ref) => ({ namespace: namespaceOf(obj), name: ref.name }));
}

/** Skips updates that changed nothing but status or metadata other than labels/annotations. */
export function generationOrMetadataChanged<T extends KubernetesObject>(oldObj: T, newObj: T): boolean {
  const a = oldObj.metadata;
  const b = newObj.metadata;
  if (a?.generation === undefined || b?.generation === undefined) return true;
  return (
    a.generation !== b.generation ||
    JSON.stringify(a.labels ?? {}) !== JSON.stringify(b.labels ?? {}) ||
    JSON.stringify(a.annotations ?? {}) !== JSON.stringify(b.annotations ?? {}) ||
    a.deletionTimestamp !== b.deletionTimestamp
  );
}

/** Options of `enqueueHandler`. */
export interface EnqueueHandlerOptions<T extends KubernetesObject> {
  /** Default `requestForObject`. */
  readonly map?: ObjectMapper<T>;
  /** Filters updates. Default: every update with a new resourceVersion. */
  readonly updatePredicate?: UpdatePredicate<T>;
}

/**
 * An informer handler that enqueues the mapped requests of added, updated (old and new object, so a
 * changed owner is seen by both) and deleted objects.
 */
export function enqueueHandler<T extends KubernetesObject>(
  enqueue: Enqueue,
  options: EnqueueHandlerOptions<T> = {},
): EventHandler<T> {
  const map = options.map ?? requestForObject;
  const emit = (obj: T): void => map(obj).forEach(enqueue);
  return {
    onAdd: emit,
    onUpdate: (oldObj, newObj) => {
      if (options.updatePredicate !== undefined && !options.updatePredicate(oldObj, newObj)) return;
      emit(oldObj);
      emit(newObj);
    },
    onDelete: emit,
  } satisfies EventHandler<T>;
}
