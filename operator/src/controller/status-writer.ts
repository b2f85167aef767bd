/**
 * Writes a DistributedApp's `/status` only when `statusEqual` says it changed, as a JSON merge patch
 * carrying the resourceVersion it was computed from (a concurrent change makes it fail with 409 and the
 * reconcile is retried); a field the new status no longer has is sent as null, so the patch removes it
 * (e.g. `partitions.owned` once ZooKeeper cannot be observed). Until the cache shows the write, the written status is used as the current
 * one, so a reconcile right after a write does not write the same status again.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { DistributedApp, DistributedAppStatus } from '../api/schema.ts';
import { statusEqual } from '../model/status.ts';
import { send, statusMessage } from './api-client.ts';
import { ControllerError } from './errors.ts';
import { DISTRIBUTED_APPS } from './resources.ts';

interface Written {
  /** resourceVersion of the cached app the status was computed from. */
  from: string;
  /** resourceVersion the write produced. */
  to: string;
  status: DistributedAppStatus;
}

const MAX_REMEMBERED = 10_000;

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** `after` as an RFC 7386 merge patch over `before`: objects merged key by key, removed keys null. */
export function mergePatch(before: unknown, after: unknown): unknown {
  if (!isObject(before) || !isObject(after)) return after;
  const patch: Record<string, unknown> = {};
  for (const k of Object.keys(before)) if (!(k in after) || after[k] === undefined) patch[k] = null;
  for (const [k, v] of Object.entries(after)) if (v !== undefined) patch[k] = mergePatch(before[k], v);
  return patch;
}

function statusPath(namespace: string, name: string): string {
  const { group, version, plural } = DISTRIBUTED_APPS;
  return `/apis/${group}/${version}/namespaces/${namespace}/${plural}/${name}/status`;
}

/** See the module comment. */
export class StatusWriter {
  readonly #kc: KubeConfig;
  readonly #written = new Map<string, Written>();

  constructor(kubeConfig: KubeConfig) {
    this.#kc = kubeConfig;
  }

  /** `app` from the cache, with the status this writer wrote if the cache does not show it yet. */
  current(app: DistributedApp): DistributedApp {
    const uid = app.metadata.uid ?? '';
    const written = this.#written.get(uid);
    if (written === undefined) return app;
    if (written.from !== app.metadata.resourceVersion) {
      this.#written.delete(uid);
      return app;
    }
    return { ...app, metadata: { ...app.metadata, resourceVersion: written.to }, status: written.status };
  }

  /**
   * Writes `next` as the status of `app` (as returned by `current`) unless it equals the current status.
   * Returns whether it wrote. Throws `ControllerError` `ERR_STATUS_CONFLICT` (409) or `ERR_STATUS_WRITE`.
   */
  async write(app: DistributedApp, next: DistributedAppStatus, signal?: AbortSignal): Promise<boolean> {
    if (statusEqual(app.status, next)) return false;
    const { namespace = '', name = '', uid = '', resourceVersion = '' } = app.metadata;
    const response = await send(this.#kc, {
      method: 'PATCH',
      path: statusPath(namespace, name),
      body: { metadata: { resourceVersion }, status: mergePatch(app.status ?? {}, next) },
      contentType: 'application/merge-patch+json',
      signal,
    });
    if (response.status >= 300) {
      const code = response.status === 409 ? 'ERR_STATUS_CONFLICT' : 'ERR_STATUS_WRITE';
      throw new ControllerError(code, `status of ${namespace}/${name}: ${statusMessage(response)}`, {
        statusCode: response.status,
      });
    }
    this.#remember(uid, resourceVersion, response.body as DistributedApp | undefined, next);
    return true;
  }

  #remember(
    uid: string,
    resourceVersion: string,
    stored: DistributedApp | undefined,
    next: DistributedAppStatus,
  ): void {
    const to = stored?.metadata.resourceVersion ?? resourceVersion;
    const from = this.#written.get(uid)?.from ?? resourceVersion;
    this.#written.delete(uid);
    this.#written.set(uid, { from, to, status: next });
    if (this.#written.size > MAX_REMEMBERED) this.#written.delete(this.#written.keys().next().value ?? '');
  }
}
