/**
 * The DistributedApp reconciler. Each reconcile, level-triggered from the caches:
 *  1. read the app (gone or being deleted: garbage collection removes what it owned); with an external ZooKeeper,
 *     keep its finalizer: added while live, run once deleted (zookeeper-cleanup.ts; coordinating operators only);
 *  2. observe the inputs of the builders (generated ZooKeeper credentials and Redis password, referenced Secrets);
 *  3. build the desired objects (pure builders, in dependency order);
 *  4. apply each through the server-side-apply helper (no write when already applied);
 *  5. prune objects it owns that are no longer wanted (e.g. Redis after switching to an external one);
 *  6. restart the next out-of-date ZooKeeper member, one at a time while the ensemble keeps quorum;
 *  7. compute the status (with what the app's partition coordinator observed), lay run-time trouble over
 *     it, write it only when it changed;
 *  8. record events for the transitions a person should see;
 *  9. retry with backoff while something is wrong; look again soon while ZooKeeper is rolling.
 */
import type { KubeConfig, KubernetesObject, V1StatefulSet } from '@kubernetes/client-node';
import type { DistributedApp } from '../api/schema.ts';
import { desiredState, type DesiredObject } from '../model/desired-state.ts';
import { ModelInputError } from '../model/model-error.ts';
import { appNames } from '../model/names.ts';
import type { Observed, OperatorPeer } from '../model/observed.ts';
import { computeStatus, type ObservedChildren } from '../model/status.ts';
import type { PartitionInput } from '../model/status-partitions.ts';
import { statusEvents } from '../model/status-events.ts';
import {
  done,
  requeueAfter,
  retry,
  systemClock,
  terminal,
  type Clock,
  type Logger,
  type ReconcileContext,
  type Reconciler,
  type Request,
  type Result,
} from '../runtime/index.ts';
import { partitionInput, type PartitionObservationSource } from '../coordination/partition-observations.ts';
import { applyObject, deleteObject, type ApplyObject } from './apply.ts';
import { failingReasons } from './cache-views.ts';
import { ControllerError } from './errors.ts';
import type { EventRecorder } from './events.ts';
import { redisPassword, zooKeeperCredentials } from './generated-secrets.ts';
import { describeMissing, missingSecrets, secretHasKey } from './referenced-secrets.ts';
import { OWNED_RESOURCES, type OwnedKind } from './resources.ts';
import type { StatusWriter } from './status-writer.ts';
import { withTrouble, type Trouble } from './trouble.ts';
import type { AppCaches } from './watches.ts';
import { ROLL_POLL_MS, ZooKeeperRoller, type ZooKeeperModeProbe } from './zookeeper-roll.ts';
import { ZooKeeperCleanup } from './zookeeper-cleanup.ts';
import type { CoordinatorActivitySource } from '../coordination/coordinator-activity.ts';
import { workerReplicas, type WorkerDrain } from '../model/scale-down.ts';
import { appIndexKey, BY_APP_INDEX } from '../model/labels.ts';

/** Options of `DistributedAppReconciler`. */
export interface DistributedAppReconcilerOptions {
  readonly kubeConfig: KubeConfig;
  readonly caches: AppCaches;
  readonly status: StatusWriter;
  readonly events: EventRecorder;
  readonly logger: Logger;
  /** Cluster DNS domain for the builders; default theirs (`cluster.local`). */
  readonly clusterDomain?: string;
  /** The operator's pods, allowed through the NetworkPolicies; default the chart's. */
  readonly operatorPeer?: OperatorPeer;
  /** What the partition coordinators observed; absent: this operator does not coordinate (`--coordinate=false`). */
  readonly partitions?: PartitionObservationSource;
  /** How ZooKeeper members are asked their role during a roll; default none (rolls by ordinal). */
  readonly modeProbe?: ZooKeeperModeProbe;
  /**
   * Which apps the coordinators of this process run for; with it, apps with an external ZooKeeper carry the
   * finalizer that removes their paths there. Absent: this operator does not coordinate and keeps no finalizer.
   */
  readonly coordinators?: CoordinatorActivitySource;
  readonly clock?: Clock;
}

function key(kind: string, name: string): string {
  return `${kind}/${name}`;
}

function controlledBy(obj: KubernetesObject, uid: string): boolean {
  return (obj.metadata?.ownerReferences ?? []).some((ref) => ref.controller === true && ref.uid === uid);
}

/** See the module comment. */
export class DistributedAppReconciler implements Reconciler {
  readonly #o: DistributedAppReconcilerOptions;
  readonly #clock: Clock;
  readonly #zooKeeper: ZooKeeperRoller;
  readonly #cleanup: ZooKeeperCleanup | undefined;

  constructor(options: DistributedAppReconcilerOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#zooKeeper = new ZooKeeperRoller(options);
    const coordinators = options.coordinators;
    this.#cleanup =
      coordinators === undefined ? undefined : new ZooKeeperCleanup({ ...options, coordinators });
  }

  async reconcile(request: Request, { signal }: ReconcileContext): Promise<Result> {
    const cached = this.#o.caches.apps.get(request.namespace, request.name);
    if (cached === undefined) return done();
    if (cached.metadata.deletionTimestamp !== undefined) return this.#finalize(cached, signal);
    const app = this.#o.status.current(await this.#withFinalizer(cached, signal));
    const scale = this.#workerScale(app);
    const observed = { ...(await this.#observe(app, signal)), workerReplicas: scale.replicas };
    let desired: DesiredObject[];
    try {
      desired = desiredState(app, observed);
    } catch (error: unknown) {
      if (!(error instanceof ModelInputError)) throw error;
      await this.#report(app, [{ reason: 'InvalidSpec', message: error.message }], signal);
      return terminal(error);
    }
    const trouble = [...this.#secretTrouble(app), ...(await this.#applyAll(desired, signal))];
    if (trouble.length === 0) await this.#prune(app, desired, signal);
    if (trouble.length === 0) await this.#recordDrain(app, scale);
    const zooKeeper = trouble.length === 0 ? await this.#zooKeeper.step(app, signal) : 'idle';
    await this.#report(app, trouble, signal);
    if (trouble.length === 0) return zooKeeper === 'rolling' ? requeueAfter(ROLL_POLL_MS) : done();
    return retry(new ControllerError('ERR_APP_DEGRADED', trouble.map((t) => t.message).join('; ')));
  }

  /** Being deleted: the finalizer's next step when this operator keeps one (see zookeeper-cleanup.ts). */
  async #finalize(app: DistributedApp, signal: AbortSignal): Promise<Result> {
    return this.#cleanup === undefined ? done() : this.#cleanup.finalize(app, signal);
  }

  /** The app with the finalizer added when it needs it (the stored app after that write). */
  async #withFinalizer(app: DistributedApp, signal: AbortSignal): Promise<DistributedApp> {
    return this.#cleanup === undefined ? app : this.#cleanup.ensure(app, signal);
  }

  async #observe(app: DistributedApp, signal: AbortSignal): Promise<Observed> {
    const { caches, kubeConfig } = this.#o;
    const sentry = app.spec.errorReporting?.sentry?.dsnSecretRef;
    const namespace = app.metadata.namespace ?? '';
    const secrets = { kubeConfig, secrets: caches.secrets, signal };
    return {
      zooKeeperCredentials: await zooKeeperCredentials(app, secrets),
      ...(app.spec.cache.redis === undefined ? {} : { redisPassword: await redisPassword(app, secrets) }),
      ...(sentry === undefined
        ? {}
        : {
            sentryDsnSecretExists: secretHasKey(caches.secrets, namespace, {
              name: sentry.name,
              key: sentry.key ?? 'dsn',
              field: '',
            }),
          }),
      ...(this.#o.clusterDomain === undefined ? {} : { clusterDomain: this.#o.clusterDomain }),
      ...(this.#o.operatorPeer === undefined ? {} : { operator: this.#o.operatorPeer }),
    };
  }

  #secretTrouble(app: DistributedApp): Trouble[] {
    const missing = missingSecrets(app, this.#o.caches.secrets);
    return missing.length === 0 ? [] : [{ reason: 'SecretMissing', message: describeMissing(missing) }];
  }

  /** Applies every object in order; a rejected object becomes trouble and the others are still applied. */
  async #applyAll(desired: readonly DesiredObject[], signal: AbortSignal): Promise<Trouble[]> {
    const trouble: Trouble[] = [];
    let applied = 0;
    for (const object of desired) {
      const live = this.#o.caches.owned[object.kind as OwnedKind].get(
        object.metadata.namespace,
        object.metadata.name,
      );
      try {
        if ((await applyObject(this.#o.kubeConfig, object, live, signal)) === 'applied') applied++;
      } catch (error: unknown) {
        if (!(error instanceof ControllerError) || error.code !== 'ERR_APPLY_REJECTED') throw error;
        trouble.push({ reason: 'ApplyFailed', message: error.message });
      }
    }
    if (applied > 0) this.#o.logger.info({ applied, objects: desired.length }, 'applied changed objects');
    return trouble;
  }

  /** Deletes objects this app controls that are no longer desired. */
  async #prune(app: DistributedApp, desired: readonly DesiredObject[], signal: AbortSignal): Promise<void> {
    const wanted = new Set(desired.map((o) => key(o.kind, o.metadata.name)));
    const namespace = app.metadata.namespace ?? '';
    const uid = app.metadata.uid ?? '';
    for (const kind of Object.keys(OWNED_RESOURCES) as OwnedKind[]) {
      const stale = this.#o.caches.owned[kind]
        .byIndex(BY_APP_INDEX, appIndexKey(namespace, app.metadata.name ?? ''))
        .filter((obj) => controlledBy(obj, uid) && !wanted.has(key(kind, obj.metadata?.name ?? '')));
      for (const obj of stale) {
        this.#o.logger.info({ kind, name: obj.metadata?.name }, 'deleting object no longer wanted');
        await deleteObject(this.#o.kubeConfig, { ...obj, kind } as ApplyObject, signal);
      }
    }
  }

  #children(app: DistributedApp): ObservedChildren {
    const { owned, pods } = this.#o.caches;
    const namespace = app.metadata.namespace ?? '';
    const names = appNames(app.metadata.name ?? '');
    const failingPods = pods
      .byIndex(BY_APP_INDEX, appIndexKey(namespace, app.metadata.name ?? ''))
      .flatMap((pod) =>
        failingReasons(pod)
          .slice(0, 1)
          .map((reason) => ({ name: pod.metadata?.name ?? '', reason })),
      );
    return {
      zookeeper: owned.StatefulSet.get(namespace, names.zookeeper),
      redis: owned.Deployment.get(namespace, names.redis),
      workers: owned.StatefulSet.get(namespace, names.workers),
      haproxy: owned.Deployment.get(namespace, names.haproxy),
      failingPods,
      partitions: this.#partitions(app),
    };
  }

  /** The worker StatefulSet's size: the spec's, or its current one while a scale-down drains. */
  #workerScale(app: DistributedApp): WorkerScale {
    const set: V1StatefulSet | undefined = this.#o.caches.owned.StatefulSet.get(
      app.metadata.namespace ?? '',
      appNames(app.metadata.name ?? '').workers,
    );
    const current = set?.spec?.replicas;
    const partitions = this.#partitions(app);
    return {
      ...workerReplicas(app, current, partitions),
      current,
      observed: partitions.state === 'observed',
    };
  }

  /** DrainStarted while a scale-down waits for partitions to move; DrainFinished when it may shrink. */
  async #recordDrain(app: DistributedApp, scale: WorkerScale): Promise<void> {
    const target = app.spec.workers.replicas;
    if (scale.drain !== undefined) {
      const who = scale.drain.draining.length > 0 ? scale.drain.draining.join(', ') : 'the workers that go';
      const message = `Scaling down to ${target} workers: moving the partitions of ${who} before their pods stop`;
      await this.#o.events.record(app, { type: 'Normal', reason: 'DrainStarted', message });
    } else if (scale.observed && scale.current !== undefined && scale.current > target) {
      const message = `Partitions moved off the workers that go; scaling down from ${scale.current} to ${target} workers`;
      await this.#o.events.record(app, { type: 'Normal', reason: 'DrainFinished', message });
    }
  }

  #partitions(app: DistributedApp): PartitionInput {
    const source = this.#o.partitions;
    if (source === undefined) return { state: 'off' };
    return partitionInput(source.get(app.metadata.namespace ?? '', app.metadata.name ?? ''));
  }

  /** Writes the status when it changed, then records the events of the change. */
  async #report(app: DistributedApp, trouble: readonly Trouble[], signal: AbortSignal): Promise<void> {
    const now = new Date(this.#clock.now());
    const children = this.#children(app);
    const sentry = app.spec.errorReporting?.sentry;
    if (sentry !== undefined) {
      children.sentryDsnSecretExists = secretHasKey(this.#o.caches.secrets, app.metadata.namespace ?? '', {
        name: sentry.dsnSecretRef.name,
        key: sentry.dsnSecretRef.key ?? 'dsn',
        field: '',
      });
    }
    const next = withTrouble(app, computeStatus(app, children, now), trouble, now);
    if (!(await this.#o.status.write(app, next, signal))) return;
    for (const event of statusEvents(app.status, next)) await this.#o.events.record(app, event);
  }
}

/** What {@link workerReplicas} decided, with what it decided from. */
interface WorkerScale {
  readonly replicas: number;
  readonly drain?: WorkerDrain;
  readonly current: number | undefined;
  readonly observed: boolean;
}
