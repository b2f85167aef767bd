/**
 * The steps of the `capstan.dev/zookeeper-paths` finalizer (what to do when is `finalizerStep`, in
 * zookeeper-finalizer.ts). Used only by an operator that coordinates: one run with `--coordinate=false` talks
 * to no ZooKeeper, so it neither adds the finalizer nor acts on it.
 *
 * - A live app with an external ZooKeeper gets the finalizer (one JSON patch; none once it is there).
 * - An app being deleted that carries it: its worker StatefulSet is deleted (uid precondition); the reconciler
 *   looks again every `CLEANUP_POLL_MS` (and on every pod event of the app) until no worker pod is left and
 *   no coordinator of the app runs here; then a client authenticated as the app's operator removes
 *   `/capstan/<namespace>/<app>` (`removeAppTree`) and the finalizer is removed. Events:
 *   `ZooKeeperPathsRemoved` (Normal); `ZooKeeperCleanupFailed` (Warning: why, and the command that removes
 *   the finalizer by hand), after which the reconcile is retried with backoff; `ZooKeeperCleanupSkipped`
 *   (Warning naming the path to remove by hand) when the app's credentials Secret is already gone and the
 *   finalizer is released without touching ZooKeeper.
 */
import type { KubeConfig, KubernetesObject, V1StatefulSet } from '@kubernetes/client-node';
import { removeAppTree } from '../../../common/src/app-tree.ts';
import { operatorAccess } from '../../../common/src/zookeeper-acl.ts';
import { connect, type ConnectOptions, type ZooKeeperClient } from '../../../common/src/zookeeper-client.ts';
import { appRoot, type AppRef } from '../../../common/src/zk-paths.ts';
import type { DistributedApp } from '../api/schema.ts';
import type { CoordinatorActivitySource } from '../coordination/coordinator-activity.ts';
import { DEFAULT_ZOOKEEPER_TIMEOUTS, type ZooKeeperTimeouts } from '../coordination/rebalancer-session.ts';
import { appNames, workerOrdinal } from '../model/names.ts';
import { done, requeueAfter, retry, type Logger, type Result } from '../runtime/index.ts';
import { send, statusMessage } from './api-client.ts';
import { deleteObject, type ApplyObject } from './apply.ts';
import { ControllerError } from './errors.ts';
import type { EventRecorder } from './events.ts';
import { credentialsOf } from './generated-secrets.ts';
import { DISTRIBUTED_APPS, objectPath } from './resources.ts';
import type { AppCaches } from './watches.ts';
import { appIndexKey, BY_APP_INDEX } from '../model/labels.ts';
import {
  addFinalizerPatch,
  finalizerStep,
  needsFinalizer,
  removeFinalizerCommand,
  removeFinalizerPatch,
  type FinalizerObservation,
  type FinalizerStep,
  type JsonPatchOperation,
} from './zookeeper-finalizer.ts';

/** How long the reconciler waits before it looks again at a deletion waiting for workers or a coordinator. */
export const CLEANUP_POLL_MS = 2_000;

/** Options of {@link ZooKeeperCleanup}. */
export interface ZooKeeperCleanupOptions {
  readonly kubeConfig: KubeConfig;
  readonly caches: AppCaches;
  readonly events: EventRecorder;
  readonly logger: Logger;
  /** Which apps this process still coordinates (their paths are not removed while it does). */
  readonly coordinators: CoordinatorActivitySource;
  /** Client timeouts; default the coordinators' ({@link DEFAULT_ZOOKEEPER_TIMEOUTS}). */
  readonly timeouts?: ZooKeeperTimeouts;
  /** Opens a ZooKeeper client; default the real one. */
  readonly connect?: (options: ConnectOptions) => Promise<ZooKeeperClient>;
}

function refOf(app: DistributedApp): AppRef {
  return { namespace: app.metadata.namespace ?? '', app: app.metadata.name ?? '' };
}

function controlledBy(obj: KubernetesObject, uid: string): boolean {
  return (obj.metadata?.ownerReferences ?? []).some((ref) => ref.controller === true && ref.uid === uid);
}

/** A failed patch of the finalizer: 409 and 422 mean the cache was stale (a test failed); retried. */
function patchError(app: DistributedApp, status: number, message: string): ControllerError {
  const what = `the finalizer of ${app.metadata.namespace ?? ''}/${app.metadata.name ?? ''}`;
  const code = status === 409 || status === 422 ? 'ERR_FINALIZER_CONFLICT' : 'ERR_FINALIZER_PATCH';
  return new ControllerError(code, `patching ${what}: ${message}`, { statusCode: status });
}

/** See the module comment. */
export class ZooKeeperCleanup {
  readonly #o: ZooKeeperCleanupOptions;

  constructor(options: ZooKeeperCleanupOptions) {
    this.#o = options;
  }

  /**
   * For a live app: adds the finalizer when it needs it. Returns the app as the write stored it, or `app` when
   * nothing was written (or the app is gone). Throws `ControllerError` `ERR_FINALIZER_CONFLICT` when the cache
   * was stale, `ERR_FINALIZER_PATCH` when the apiserver refused; both are worth retrying.
   */
  async ensure(app: DistributedApp, signal: AbortSignal): Promise<DistributedApp> {
    if (app.metadata.deletionTimestamp !== undefined || !needsFinalizer(app)) return app;
    const stored = await this.#patch(app, addFinalizerPatch(app), signal);
    if (stored !== undefined) this.#o.logger.info(refOf(app), 'added the ZooKeeper finalizer');
    return stored ?? app;
  }

  /** For an app being deleted: one step of the module comment; returns what the reconcile returns. */
  async finalize(app: DistributedApp, signal: AbortSignal): Promise<Result> {
    const step = finalizerStep(app, this.#observe(app));
    switch (step.kind) {
      case 'none':
      case 'add':
        return done();
      case 'delete-workers':
        await this.#deleteWorkers(app, signal);
        return requeueAfter(CLEANUP_POLL_MS);
      case 'wait':
        this.#o.logger.debug({ ...refOf(app), waitingFor: step.what }, 'ZooKeeper finalizer waits');
        return requeueAfter(CLEANUP_POLL_MS);
      case 'release':
        if (step.why === 'no-credentials') await this.#recordSkipped(app);
        return this.#release(app, signal);
      case 'remove-paths':
        return this.#removePaths(app, step, signal);
    }
  }

  #observe(app: DistributedApp): FinalizerObservation {
    const { namespace, app: name } = refOf(app);
    const names = appNames(name);
    const set: V1StatefulSet | undefined = this.#o.caches.owned.StatefulSet.get(namespace, names.workers);
    const ours = set !== undefined && controlledBy(set, app.metadata.uid ?? '');
    const workerPods = this.#o.caches.pods
      .byIndex(BY_APP_INDEX, appIndexKey(namespace, name))
      .filter((pod) => workerOrdinal(name, pod.metadata?.name ?? '') !== undefined).length;
    return {
      workerSet: !ours ? 'absent' : set.metadata?.deletionTimestamp === undefined ? 'live' : 'deleting',
      workerPods,
      coordinating: this.#o.coordinators.isCoordinating({ namespace, app: name }),
      credentials: credentialsOf(this.#o.caches.secrets.get(namespace, names.zookeeperAuth)),
    };
  }

  async #deleteWorkers(app: DistributedApp, signal: AbortSignal): Promise<void> {
    const { namespace, app: name } = refOf(app);
    const set = this.#o.caches.owned.StatefulSet.get(namespace, appNames(name).workers);
    if (set === undefined) return;
    this.#o.logger.info(
      { ...refOf(app), statefulSet: set.metadata?.name },
      'deleting the workers before the ZooKeeper paths',
    );
    await deleteObject(this.#o.kubeConfig, { ...set, kind: 'StatefulSet' } as ApplyObject, signal);
  }

  async #removePaths(
    app: DistributedApp,
    step: Extract<FinalizerStep, { kind: 'remove-paths' }>,
    signal: AbortSignal,
  ): Promise<Result> {
    const ref = refOf(app);
    const path = appRoot(ref);
    try {
      await this.#removeTree(ref, step);
    } catch (error: unknown) {
      const reason = error instanceof Error ? error.message : String(error);
      const message =
        `Cannot remove ${path} from ZooKeeper ${step.connectString}: ${reason}; retrying. ` +
        `To delete the app and leave the path there: ${removeFinalizerCommand(app)}`;
      await this.#o.events.record(app, { type: 'Warning', reason: 'ZooKeeperCleanupFailed', message });
      return retry(new ControllerError('ERR_ZOOKEEPER_CLEANUP', message, { cause: error }));
    }
    this.#o.logger.info({ ...ref, path, connectString: step.connectString }, 'removed the ZooKeeper paths');
    await this.#o.events.record(app, {
      type: 'Normal',
      reason: 'ZooKeeperPathsRemoved',
      message: `Removed ${path} from ZooKeeper ${step.connectString}`,
    });
    return this.#release(app, signal);
  }

  async #removeTree(ref: AppRef, step: Extract<FinalizerStep, { kind: 'remove-paths' }>): Promise<void> {
    const open = this.#o.connect ?? connect;
    const client = await open({
      connectString: step.connectString,
      ...(this.#o.timeouts ?? DEFAULT_ZOOKEEPER_TIMEOUTS),
      ...operatorAccess(step.credentials),
    });
    try {
      await removeAppTree(client, ref);
    } finally {
      await client.close();
    }
  }

  async #recordSkipped(app: DistributedApp): Promise<void> {
    const path = appRoot(refOf(app));
    const secret = appNames(app.metadata.name ?? '').zookeeperAuth;
    const where = app.spec.coordination.external?.connectString ?? '';
    await this.#o.events.record(app, {
      type: 'Warning',
      reason: 'ZooKeeperCleanupSkipped',
      message:
        `The Secret ${secret} with the app's ZooKeeper credentials is gone, so ${path} cannot be removed ` +
        `from ZooKeeper ${where}; remove it there by hand (as a ZooKeeper superuser: deleteall ${path})`,
    });
  }

  /** Removes the finalizer; done when it is gone (or the app is). */
  async #release(app: DistributedApp, signal: AbortSignal): Promise<Result> {
    const patch = removeFinalizerPatch(app);
    if (patch !== undefined) await this.#patch(app, patch, signal);
    return done();
  }

  /** Sends `patch`; the stored app, or undefined when the app is gone. See {@link ensure} for the errors. */
  async #patch(
    app: DistributedApp,
    patch: JsonPatchOperation[],
    signal: AbortSignal,
  ): Promise<DistributedApp | undefined> {
    const { namespace, app: name } = refOf(app);
    const response = await send(this.#o.kubeConfig, {
      method: 'PATCH',
      path: objectPath(DISTRIBUTED_APPS, namespace, name),
      body: patch,
      contentType: 'application/json-patch+json',
      signal,
    });
    if (response.status === 404) return undefined;
    if (response.status >= 300) throw patchError(app, response.status, statusMessage(response));
    return response.body as DistributedApp;
  }
}
