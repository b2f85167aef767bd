/**
 * The one way the operator writes its objects: server-side apply under the field manager `capstan`
 * (forcing ownership of the fields it sets), skipped when the live object already carries the hash of
 * exactly this desired object. The hash only covers what the operator sets, so server defaults, status
 * and fields other managers own never cause a write; a no-op reconcile writes nothing.
 */
import { createHash } from 'node:crypto';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { send, statusMessage } from './api-client.ts';
import { ControllerError } from './errors.ts';
import { objectPath, resourceOf } from './resources.ts';
import { toWire } from './wire.ts';

/** The field manager of every write the operator makes. */
export const FIELD_MANAGER = 'capstan';

/** Annotation holding the hash of the desired object last applied. */
export const APPLIED_HASH_ANNOTATION = 'capstan.dev/applied-hash';

/** An object to apply: kind, apiVersion, name and namespace set. */
export interface ApplyObject extends KubernetesObject {
  apiVersion: string;
  kind: string;
  metadata: KubernetesObject['metadata'] & { name: string; namespace: string };
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner !== null && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner,
  );
}

/** Hex sha256 of the desired object in canonical JSON (key order does not matter). */
export function appliedHash(desired: KubernetesObject): string {
  return createHash('sha256').update(canonical(desired)).digest('hex');
}

/** `desired` with its hash in the `capstan.dev/applied-hash` annotation. Does not mutate `desired`. */
export function withAppliedHash<T extends ApplyObject>(desired: T): T {
  const annotations = { ...desired.metadata.annotations, [APPLIED_HASH_ANNOTATION]: appliedHash(desired) };
  return { ...desired, metadata: { ...desired.metadata, annotations } };
}

/** Whether `live` (from the cache) was last applied from exactly `desired`. */
export function isUpToDate(desired: KubernetesObject, live: KubernetesObject | undefined): boolean {
  const applied = live?.metadata?.annotations?.[APPLIED_HASH_ANNOTATION];
  return (
    applied !== undefined &&
    applied === appliedHash(desired) &&
    live?.metadata?.deletionTimestamp === undefined
  );
}

/** What `applyObject` did. */
export type ApplyOutcome = 'unchanged' | 'applied';

function describeObject(obj: ApplyObject): string {
  return `${obj.kind} ${obj.metadata.namespace}/${obj.metadata.name}`;
}

/**
 * Applies `desired` (a client-node model, serialized to its wire form here) unless `live` is already up to date. Throws `ControllerError` `ERR_APPLY_REJECTED`
 * when the apiserver answered with an error (the message is the server's) and `ERR_NO_RESPONSE` when it
 * did not answer; both are worth retrying with backoff.
 */
export async function applyObject(
  kc: KubeConfig,
  desired: ApplyObject,
  live: KubernetesObject | undefined,
  signal?: AbortSignal,
): Promise<ApplyOutcome> {
  const wire = toWire(desired, desired.kind);
  if (isUpToDate(wire, live)) return 'unchanged';
  const { namespace, name } = desired.metadata;
  const response = await send(kc, {
    method: 'PATCH',
    path: objectPath(resourceOf(desired.kind), namespace, name),
    query: { fieldManager: FIELD_MANAGER, force: true },
    body: withAppliedHash(wire),
    contentType: 'application/apply-patch+yaml',
    signal,
  });
  if (response.status >= 200 && response.status < 300) return 'applied';
  throw new ControllerError(
    'ERR_APPLY_REJECTED',
    `apply of ${describeObject(desired)} failed: ${statusMessage(response)}`,
    {
      statusCode: response.status,
    },
  );
}

/**
 * Deletes an object the operator no longer wants, only if it still has the uid it was seen with (so a
 * newer object of the same name is left alone), with background propagation. A 404 or 409 counts as done.
 */
export async function deleteObject(kc: KubeConfig, obj: ApplyObject, signal?: AbortSignal): Promise<void> {
  const { namespace, name, uid } = obj.metadata;
  const response = await send(kc, {
    method: 'DELETE',
    path: objectPath(resourceOf(obj.kind), namespace, name),
    body: {
      kind: 'DeleteOptions',
      apiVersion: 'v1',
      propagationPolicy: 'Background',
      preconditions: { uid },
    },
    signal,
  });
  if (response.status < 300 || response.status === 404 || response.status === 409) return;
  throw new ControllerError(
    'ERR_DELETE_FAILED',
    `delete of ${describeObject(obj)} failed: ${statusMessage(response)}`,
    {
      statusCode: response.status,
    },
  );
}
