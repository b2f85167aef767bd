/**
 * Acts on what Kubernetes proves about an app's workers (DESIGN section 6): each run judges the app's
 * worker pods ({@link workerVerdicts}) and takes these named steps, each at most once per pod:
 *  1. `removeDead`: a proven-dead worker's stale session is removed ({@link removeStaleSession}), unless a
 *     successor pod of the same name is in the cache (then its session may be the successor's: expiry fences);
 *  2. `reportCrashLoop`: a Warning event `WorkerCrashLooping` naming the pod and its last exit (the Degraded
 *     condition comes from the status builder, which sees the CrashLoopBackOff pod);
 *  3. `noticeCrashLoop`: while the crash-looping process is dead, its leaving notice ({@link noticeLeaving});
 *  4. `restartCrashLoop`: the pod is deleted (uid precondition) once it has crash-looped for
 *     `spec.failurePolicy.crashLoopRestartAfterSeconds`, so the StatefulSet recreates it.
 * A worker that merely restarted gets nothing: its partitions wait for `rebalanceDelaySeconds`. Runs of one
 * app never overlap (a run asked for meanwhile follows). Failures are logged and retried on the next run.
 */
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { DistributedApp } from '../api/schema.ts';
import type { StatusEvent } from '../model/status-events.ts';
import type { OwnershipSummary } from '../model/status-partitions.ts';
import type { Clock, Logger, Store } from '../runtime/index.ts';
import { workerApp, type PodHistory } from './pod-history.ts';
import type { RemediationMetrics } from './remediation-metrics.ts';
import type { StaleSessionRemoval } from './stale-session.ts';
import { workerVerdicts, type WorkerVerdict } from './worker-verdicts.ts';
import { nodeHealth } from './failed-nodes.ts';
import { appIndexKey, BY_APP_INDEX } from '../model/labels.ts';

/** The app's coordinator session as the steps use it; both resolve undefined while no session is open. */
export interface RemediationTarget {
  removeStaleSession(
    worker: string,
    provenDead: ReadonlySet<string>,
  ): Promise<StaleSessionRemoval | undefined>;
  noticeLeaving(worker: string): Promise<true | undefined>;
  /** Whether `members/<worker>` is registered (its session lives); undefined while no session is open. */
  isMember(worker: string): boolean | undefined;
}

/** Deletes a pod if it still has `uid` (404 and 409 are success); `force`: with no grace period. */
export type PodDeleter = (
  namespace: string,
  name: string,
  uid: string,
  options?: { force?: boolean },
) => Promise<void>;

/** Options of {@link WorkerRemediation}. */
export interface WorkerRemediationOptions {
  readonly pods: Store<V1Pod>;
  readonly history: PodHistory;
  readonly metrics: RemediationMetrics;
  readonly deletePod: PodDeleter;
  /** The nodes (cluster-scoped cache); without it pods on failed nodes are left to session expiry. */
  readonly nodes?: Store<V1Node>;
  readonly events?: { record(app: DistributedApp, event: StatusEvent): Promise<void> };
  readonly logger: Logger;
  readonly clock: Clock;
}

type Verdict<K extends WorkerVerdict['kind']> = Extract<WorkerVerdict, { kind: K }>;

/** `namespace/name`: what the per-app records are kept under. */
function appKey(app: DistributedApp): string {
  return `${app.metadata.namespace ?? ''}/${app.metadata.name ?? ''}`;
}

/** A worker pod on a failed node. */
interface FailedNodePod {
  readonly worker: string;
  readonly uid: string;
  readonly node: string;
}

/** See the module comment. */
export class WorkerRemediation {
  readonly #o: WorkerRemediationOptions;
  /**
   * Steps done, by app (`namespace/name`): `step:uid` (`notice:uid:restarts` for notices). Each run keeps
   * only the keys of pods the app still has or had recently, so the sets do not grow with pod churn.
   */
  readonly #done = new Map<string, Set<string>>();
  /** Crash-looping pods: uid -> the app they belong to and when the loop was first seen. */
  readonly #loopingSince = new Map<string, { app: string; since: number }>();
  /** Deaths whose failover is not observed complete yet: `namespace/app/worker` -> time observed. */
  readonly #failovers = new Map<string, number>();
  readonly #running = new Map<string, Promise<void>>();
  readonly #again = new Set<string>();

  constructor(options: WorkerRemediationOptions) {
    this.#o = options;
  }

  /** Runs the steps for `app` on `target`; resolves when done (never rejects). */
  run(app: DistributedApp, target: RemediationTarget): Promise<void> {
    const key = appKey(app);
    const running = this.#running.get(key);
    if (running !== undefined) {
      this.#again.add(key);
      return running;
    }
    const run = this.#steps(app, target)
      .catch((error: unknown) =>
        this.#o.logger.warn({ err: error, app: key }, 'worker remediation failed; retrying'),
      )
      .finally(() => {
        this.#running.delete(key);
        if (this.#again.delete(key)) void this.run(app, target);
      });
    this.#running.set(key, run);
    return run;
  }

  /** An ownership summary of the app: completes the failovers it shows done. */
  ownership(ref: { namespace: string; app: string }, summary: OwnershipSummary): void {
    if (summary.claiming > 0) return;
    const prefix = `${ref.namespace}/${ref.app}/`;
    for (const [key, since] of this.#failovers) {
      if (!key.startsWith(prefix) || (summary.byWorker[key.slice(prefix.length)] ?? 0) > 0) continue;
      this.#failovers.delete(key);
      this.#o.metrics.failedOver(this.#o.clock.now() - since);
    }
  }

  async #steps(app: DistributedApp, target: RemediationTarget): Promise<void> {
    const namespace = app.metadata.namespace ?? '';
    const name = app.metadata.name ?? '';
    const pods = this.#o.pods
      .byIndex(BY_APP_INDEX, appIndexKey(namespace, name))
      .filter((pod) => workerApp(pod)?.app === name);
    const verdicts = workerVerdicts({
      pods,
      gone: this.#o.history.gone(namespace, name),
      restarts: this.#o.history.restarts(),
      now: this.#o.clock.now(),
    });
    const live = new Map(pods.map((pod) => [pod.metadata?.name ?? '', pod.metadata?.uid ?? '']));
    const dead = verdicts.filter((v): v is Verdict<'dead'> => v.kind === 'dead' && !this.#succeeded(v, live));
    const provenDead = new Set(dead.map((v) => v.worker));
    for (const verdict of dead) await this.#removeDead(app, verdict, target, provenDead);
    for (const verdict of verdicts) {
      if (verdict.kind !== 'crash-looping') continue;
      await this.#reportCrashLoop(app, verdict);
      await this.#noticeCrashLoop(app, verdict, pods, target);
      await this.#restartCrashLoop(app, verdict);
    }
    // Workers on failed nodes whose sessions expired may move now as well (see #moveGone).
    const movable = new Set([...provenDead, ...this.#expiredOnFailedNodes(pods, target)]);
    for (const pod of pods) await this.#onFailedNode(app, pod, target, movable);
    // Forget loops of this app's pods that no longer loop (another app's runs leave its own alone).
    const uids = new Set(verdicts.map((v) => v.uid));
    for (const [uid, loop] of this.#loopingSince) {
      if (loop.app === appKey(app) && !uids.has(uid)) this.#loopingSince.delete(uid);
    }
    // Steps of pods that are neither in the cache nor remembered as gone can never be needed again.
    const known = new Set([
      ...live.values(),
      ...this.#o.history.gone(namespace, name).map((g) => g.pod.metadata?.uid),
    ]);
    const done = this.#doneFor(app);
    for (const key of done) if (!known.has(key.split(':')[1])) done.delete(key);
  }

  /**
   * A worker pod on a failed node. Out of service (shut down): its process is dead, so its session is
   * removed and its partitions move at once. NotReady or unreachable: its process may still run, so its
   * partitions move only when its session expires (then at once, not after the rebalance delay); after that, and only with
   * `forceDeletePodsOnFailedNodes`, the pod is force-deleted so its StatefulSet recreates it elsewhere.
   * Without the opt-in a Warning event says why the pod stays.
   */
  async #onFailedNode(
    app: DistributedApp,
    pod: V1Pod,
    target: RemediationTarget,
    movable: ReadonlySet<string>,
  ): Promise<void> {
    const node = pod.spec?.nodeName ?? '';
    const health = nodeHealth(this.#o.nodes?.get('', node));
    if (health === 'ready') return;
    const { name: worker = '', uid = '' } = pod.metadata ?? {};
    const on = { worker, uid, node };
    if (health === 'out-of-service') return this.#outOfService(app, on, target, movable);
    await this.#moveGone(app, on, target, movable);
    if (app.spec.failurePolicy?.forceDeletePodsOnFailedNodes === true)
      await this.#forceDelete(app, on, target);
    else await this.#reportStuck(app, on);
  }

  /** Workers on NotReady or unreachable nodes whose ZooKeeper sessions have expired. */
  #expiredOnFailedNodes(pods: readonly V1Pod[], target: RemediationTarget): string[] {
    return pods
      .filter((pod) => nodeHealth(this.#o.nodes?.get('', pod.spec?.nodeName ?? '')) === 'failed')
      .map((pod) => pod.metadata?.name ?? '')
      .filter((worker) => target.isMember(worker) === false);
  }

  /**
   * Once the session of a worker on a failed node expired (fencing holds: nothing serves under its name),
   * its partitions move now instead of after `rebalanceDelaySeconds`, a delay meant for a container that
   * restarts in place, which one on a failed node cannot do. `movable`: the workers that may move now
   * (proven dead, or expired on failed nodes); the move waits while another departed worker is not.
   */
  async #moveGone(
    app: DistributedApp,
    on: FailedNodePod,
    target: RemediationTarget,
    movable: ReadonlySet<string>,
  ): Promise<void> {
    const done = this.#doneFor(app);
    if (!movable.has(on.worker) || target.isMember(on.worker) !== false || done.has(`gone:${on.uid}`)) return;
    const removal = await target.removeStaleSession(on.worker, movable);
    if (removal === undefined || (!removal.rebalanced && removal.waiting)) return;
    done.add(`gone:${on.uid}`);
    if (!removal.rebalanced) return;
    this.#o.metrics.remediated('failed-node-partitions-moved');
    const failover = `${appKey(app)}/${on.worker}`;
    if (!this.#failovers.has(failover)) this.#failovers.set(failover, this.#o.clock.now());
    this.#o.logger.info(
      { namespace: app.metadata.namespace, ...on },
      'worker on a failed node lost its ZooKeeper session: its partitions moved now',
    );
  }

  async #outOfService(
    app: DistributedApp,
    on: FailedNodePod,
    target: RemediationTarget,
    provenDead: ReadonlySet<string>,
  ): Promise<void> {
    const done = this.#doneFor(app);
    if (done.has(`dead:${on.uid}`)) return;
    const removal = await target.removeStaleSession(on.worker, new Set([...provenDead, on.worker]));
    if (removal === undefined) return;
    done.add(`dead:${on.uid}`);
    this.#o.metrics.remediated('stale-session-removed');
    this.#o.logger.info(
      { namespace: app.metadata.namespace, ...on, ...removal },
      'worker on an out-of-service node: its stale ZooKeeper session removed',
    );
  }

  async #reportStuck(app: DistributedApp, on: FailedNodePod): Promise<void> {
    const done = this.#doneFor(app);
    if (done.has(`stuck:${on.uid}`)) return;
    done.add(`stuck:${on.uid}`);
    const message =
      `worker pod ${on.worker} is on node ${on.node}, which is NotReady or unreachable: its partitions move when its ` +
      'ZooKeeper session expires, and the pod stays until the node returns ' +
      '(spec.failurePolicy.forceDeletePodsOnFailedNodes: true recreates it elsewhere)';
    await this.#o.events?.record(app, { type: 'Warning', reason: 'WorkerOnFailedNode', message });
  }

  async #forceDelete(app: DistributedApp, on: FailedNodePod, target: RemediationTarget): Promise<void> {
    const done = this.#doneFor(app);
    // Fencing first: only once its session expired can nothing serve under this worker's name.
    if (target.isMember(on.worker) !== false || done.has(`force:${on.uid}`)) return;
    await this.#o.deletePod(app.metadata.namespace ?? '', on.worker, on.uid, { force: true });
    done.add(`force:${on.uid}`);
    this.#o.metrics.remediated('pod-force-deleted');
    const message =
      `force-deleted worker pod ${on.worker} on failed node ${on.node} after its ZooKeeper session expired, ` +
      'so that its StatefulSet recreates it elsewhere';
    this.#o.logger.warn({ namespace: app.metadata.namespace, ...on }, message);
    await this.#o.events?.record(app, { type: 'Warning', reason: 'PodForceDeleted', message });
  }

  /** Drops everything kept for an app that is gone (its coordinator stopped for good). */
  forget(ref: { namespace: string; app: string }): void {
    const key = `${ref.namespace}/${ref.app}`;
    this.#done.delete(key);
    for (const [uid, loop] of this.#loopingSince) if (loop.app === key) this.#loopingSince.delete(uid);
    for (const failover of this.#failovers.keys())
      if (failover.startsWith(`${key}/`)) this.#failovers.delete(failover);
  }

  #doneFor(app: DistributedApp): Set<string> {
    const key = appKey(app);
    let done = this.#done.get(key);
    if (done === undefined) this.#done.set(key, (done = new Set()));
    return done;
  }

  /** A successor pod of the same name exists: the session under the worker's name may be its. */
  #succeeded(verdict: Verdict<'dead'>, live: ReadonlyMap<string, string>): boolean {
    const uid = live.get(verdict.worker);
    return uid !== undefined && uid !== verdict.uid;
  }

  async #removeDead(
    app: DistributedApp,
    verdict: Verdict<'dead'>,
    target: RemediationTarget,
    provenDead: ReadonlySet<string>,
  ): Promise<void> {
    const key = `dead:${verdict.uid}`;
    if (this.#doneFor(app).has(key)) return;
    const failover = `${appKey(app)}/${verdict.worker}`;
    if (!this.#failovers.has(failover)) this.#failovers.set(failover, this.#o.clock.now());
    const removal = await target.removeStaleSession(verdict.worker, provenDead);
    if (removal === undefined) return;
    this.#doneFor(app).add(key);
    if (verdict.cause === 'pod-gone') this.#o.history.forget(verdict.uid);
    if (removal.session !== undefined || removal.rebalanced)
      this.#o.metrics.remediated('stale-session-removed');
    this.#o.logger.info(
      { app: failover, worker: verdict.worker, cause: verdict.cause, ...removal },
      'worker proven dead by Kubernetes: its stale ZooKeeper session removed',
    );
  }

  async #reportCrashLoop(app: DistributedApp, verdict: Verdict<'crash-looping'>): Promise<void> {
    if (!this.#loopingSince.has(verdict.uid)) {
      const key = appKey(app);
      this.#loopingSince.set(verdict.uid, { app: key, since: this.#o.clock.now() });
    }
    const key = `report:${verdict.uid}`;
    if (this.#doneFor(app).has(key)) return;
    this.#doneFor(app).add(key);
    const message = `worker pod ${verdict.worker} is crash-looping (last exit: ${verdict.lastExit}); its partitions move to other workers`;
    this.#o.logger.warn(
      { namespace: app.metadata.namespace, pod: verdict.worker, lastExit: verdict.lastExit },
      message,
    );
    await this.#o.events?.record(app, { type: 'Warning', reason: 'WorkerCrashLooping', message });
  }

  async #noticeCrashLoop(
    app: DistributedApp,
    verdict: Verdict<'crash-looping'>,
    pods: readonly V1Pod[],
    target: RemediationTarget,
  ): Promise<void> {
    if (!verdict.processDead) return;
    const pod = pods.find((p) => p.metadata?.uid === verdict.uid);
    const restarts = pod?.status?.containerStatuses?.find((s) => s.name === 'worker')?.restartCount ?? 0;
    const key = `notice:${verdict.uid}:${restarts}`;
    if (this.#doneFor(app).has(key)) return;
    if ((await target.noticeLeaving(verdict.worker)) === undefined) return;
    this.#doneFor(app).add(key);
    this.#o.metrics.remediated('crashloop-notice-written');
    const failover = `${appKey(app)}/${verdict.worker}`;
    if (!this.#failovers.has(failover)) this.#failovers.set(failover, this.#o.clock.now());
  }

  async #restartCrashLoop(app: DistributedApp, verdict: Verdict<'crash-looping'>): Promise<void> {
    const key = `restart:${verdict.uid}`;
    const since = this.#loopingSince.get(verdict.uid)?.since ?? this.#o.clock.now();
    const afterMs = (app.spec.failurePolicy?.crashLoopRestartAfterSeconds ?? 60) * 1000;
    if (this.#doneFor(app).has(key) || this.#o.clock.now() - since < afterMs) return;
    await this.#o.deletePod(app.metadata.namespace ?? '', verdict.worker, verdict.uid);
    this.#doneFor(app).add(key);
    this.#o.metrics.remediated('crashloop-pod-deleted');
    this.#o.logger.warn(
      {
        namespace: app.metadata.namespace,
        pod: verdict.worker,
        crashLoopingForMs: this.#o.clock.now() - since,
      },
      'deleted a crash-looping worker pod so that its StatefulSet recreates it',
    );
  }
}
