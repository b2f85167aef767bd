/**
 * Rolling restarts of the in-cluster ZooKeeper ensemble. Its StatefulSet uses `OnDelete`, so a new pod
 * template (a changed `zoo.cfg` checksum, image or resources) rolls nothing by itself: the operator
 * deletes out-of-date members one at a time and the StatefulSet controller recreates each on the new
 * revision.
 *
 * Quorum: an ensemble of n members serves while floor(n/2)+1 of them are up. A member is restarted only
 * while every member exists, is Ready and is not terminating, so at most one member is ever down for a
 * restart and a majority always remains (for n = 1 a restart is unavoidably an outage).
 *
 * Order: highest ordinal first, the order the StatefulSet controller itself uses for `RollingUpdate`.
 * "Followers first" would need the operator to ask each member its role (the `srvr` four-letter word on
 * the client port) and restart the leader last; the operator does not talk to the ensemble today, so the
 * leader may be restarted at any point of the roll and the ensemble then elects a new one.
 */
import type { KubeConfig, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import type { DistributedApp } from '../api/schema.ts';
import { appNames } from '../model/names.ts';
import type { Logger } from '../runtime/index.ts';
import { send, statusMessage } from './api-client.ts';
import { ControllerError } from './errors.ts';
import type { EventRecorder } from './events.ts';
import type { AppCaches } from './watches.ts';

/** Pod label naming the StatefulSet revision the pod was created from. */
export const REVISION_LABEL = 'controller-revision-hash';

/** How long the reconciler waits before looking at a roll in progress again. */
export const ROLL_POLL_MS = 2_000;

/** Where a roll stands. */
export interface ZooKeeperRollPlan {
  /** Members (pod names) not on the StatefulSet's update revision, highest ordinal first. */
  readonly outOfDate: readonly string[];
  /** The member to restart now; undefined when none is out of date or restarting one could cost quorum. */
  readonly next: string | undefined;
}

function ordinalOf(setName: string, pod: V1Pod): number | undefined {
  const name = pod.metadata?.name ?? '';
  if (!name.startsWith(`${setName}-`)) return undefined;
  const suffix = name.slice(setName.length + 1);
  return /^(0|[1-9]\d*)$/.test(suffix) ? Number(suffix) : undefined;
}

function isReady(pod: V1Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** Whether the StatefulSet controller has seen the current spec, so `updateRevision` is current. */
function revisionKnown(set: V1StatefulSet): string | undefined {
  const observed = set.status?.observedGeneration ?? 0;
  const generation = set.metadata?.generation ?? 0;
  return observed >= generation ? set.status?.updateRevision : undefined;
}

/** The member pods of `set` by ordinal (pods of other sets and ordinals beyond `replicas` left out). */
function members(set: V1StatefulSet, pods: readonly V1Pod[]): Map<number, V1Pod> {
  const setName = set.metadata?.name ?? '';
  const replicas = set.spec?.replicas ?? 1;
  const byOrdinal = new Map<number, V1Pod>();
  for (const pod of pods) {
    const ordinal = ordinalOf(setName, pod);
    if (ordinal !== undefined && ordinal < replicas) byOrdinal.set(ordinal, pod);
  }
  return byOrdinal;
}

/**
 * The roll of the ZooKeeper StatefulSet `set` given its pods: which members are out of date (their
 * `controller-revision-hash` label differs from `status.updateRevision`) and which to restart now. Nothing
 * is out of date while the StatefulSet controller has not observed the latest spec. Pure.
 */
export function zooKeeperRollPlan(set: V1StatefulSet, pods: readonly V1Pod[]): ZooKeeperRollPlan {
  const revision = revisionKnown(set);
  if (revision === undefined) return { outOfDate: [], next: undefined };
  const byOrdinal = members(set, pods);
  const ordinals = [...byOrdinal.keys()].sort((a, b) => b - a);
  const outOfDate = ordinals
    .map((ordinal) => byOrdinal.get(ordinal) as V1Pod)
    .filter((pod) => pod.metadata?.labels?.[REVISION_LABEL] !== revision)
    .map((pod) => pod.metadata?.name ?? '');
  const replicas = set.spec?.replicas ?? 1;
  const allUp =
    byOrdinal.size === replicas &&
    [...byOrdinal.values()].every((pod) => isReady(pod) && pod.metadata?.deletionTimestamp === undefined);
  return { outOfDate, next: allUp ? outOfDate[0] : undefined };
}

/**
 * The ZooKeeper member (pod name) to restart now, or undefined: see `zooKeeperRollPlan`. Restarts nothing
 * while any member is missing, not Ready or terminating; otherwise the out-of-date member with the highest
 * ordinal. Pure.
 */
export function nextZooKeeperMemberToRestart(set: V1StatefulSet, pods: readonly V1Pod[]): string | undefined {
  return zooKeeperRollPlan(set, pods).next;
}

/** Options of `ZooKeeperRoller`. */
export interface ZooKeeperRollerOptions {
  readonly kubeConfig: KubeConfig;
  readonly caches: AppCaches;
  readonly events: EventRecorder;
  readonly logger: Logger;
}

/** What `ZooKeeperRoller.step` found. */
export type RollProgress = 'idle' | 'rolling';

function controlledBy(pod: V1Pod, uid: string): boolean {
  return (pod.metadata?.ownerReferences ?? []).some((ref) => ref.controller === true && ref.uid === uid);
}

/** Restarts out-of-date ZooKeeper members of an app one at a time; see the module comment. */
export class ZooKeeperRoller {
  readonly #o: ZooKeeperRollerOptions;

  constructor(options: ZooKeeperRollerOptions) {
    this.#o = options;
  }

  /**
   * One step of the app's roll, from the caches: deletes the next member (precondition: the uid it was
   * seen with) and records a `ZooKeeperMemberRestarted` event. Returns 'rolling' while any member is out
   * of date (the caller looks again after `ROLL_POLL_MS`), 'idle' otherwise; writes nothing when idle.
   * Throws `ControllerError` `ERR_DELETE_FAILED` when the apiserver refuses the delete.
   */
  async step(app: DistributedApp, signal: AbortSignal): Promise<RollProgress> {
    if (app.spec.coordination.zookeeper === undefined) return 'idle';
    const namespace = app.metadata.namespace ?? '';
    const name = appNames(app.metadata.name ?? '').zookeeper;
    const set: V1StatefulSet | undefined = this.#o.caches.owned.StatefulSet.get(namespace, name);
    if (set === undefined) return 'idle';
    const uid = set.metadata?.uid ?? '';
    const pods = this.#o.caches.pods.list(namespace).filter((pod) => controlledBy(pod, uid));
    const plan = zooKeeperRollPlan(set, pods);
    if (plan.outOfDate.length === 0) return 'idle';
    const pod = pods.find((p) => p.metadata?.name === plan.next);
    if (pod !== undefined) await this.#restart(app, pod, set.status?.updateRevision, signal);
    return 'rolling';
  }

  async #restart(
    app: DistributedApp,
    pod: V1Pod,
    revision: string | undefined,
    signal: AbortSignal,
  ): Promise<void> {
    const { name = '', namespace = '', uid } = pod.metadata ?? {};
    const from = pod.metadata?.labels?.[REVISION_LABEL] ?? 'unknown';
    const response = await send(this.#o.kubeConfig, {
      method: 'DELETE',
      path: `/api/v1/namespaces/${namespace}/pods/${name}`,
      body: { kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { uid } },
      signal,
    });
    // 404: already gone; 409: a newer pod of that name exists. Either way the next step sees the truth.
    if (response.status === 404 || response.status === 409) return;
    if (response.status >= 300) {
      throw new ControllerError(
        'ERR_DELETE_FAILED',
        `delete of Pod ${namespace}/${name} failed: ${statusMessage(response)}`,
        {
          statusCode: response.status,
        },
      );
    }
    this.#o.logger.info({ pod: name, from, to: revision }, 'restarting ZooKeeper member');
    await this.#o.events.record(app, {
      type: 'Normal',
      reason: 'ZooKeeperMemberRestarted',
      message: `Restarted ZooKeeper member ${name} to move it from revision ${from} to ${revision ?? 'unknown'}`,
    });
  }
}
