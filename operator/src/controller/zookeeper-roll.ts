/**
 * Rolling restarts of the in-cluster ZooKeeper ensemble. Its StatefulSet uses `OnDelete`, so a new pod
 * template (a changed `zoo.cfg` checksum, image or resources) rolls nothing by itself: the operator
 * deletes out-of-date members one at a time and the StatefulSet controller recreates each on the new
 * revision.
 *
 * Each step, while some member is out of date:
 *  1. Every member must exist, be Ready and not be terminating; otherwise nothing is restarted (a member
 *     is down already, possibly the one restarted last).
 *  2. The operator asks every member its role: `srvr` on the client port of the pod's IP, all members in
 *     parallel, each answer due within `MODE_TIMEOUT_MS`.
 *  3. When members answer, a member is restarted only while the answers show a serving quorum that
 *     outlives its restart: exactly one leader, and of the other members at least floor(n/2)+1 answering
 *     leader or follower. Out-of-date followers (and observers, and members that gave no answer) go first,
 *     highest ordinal first, the leader last, so the ensemble elects a new leader once, from members that
 *     already run the new revision. When the answers show no such quorum, nothing is restarted and the
 *     reconciler looks again after `ROLL_POLL_MS`.
 *  4. When no member answers at all (the network does not let the operator through, or the pods are
 *     stand-ins without a real process), the roll falls back to readiness only: highest ordinal first, the
 *     order the StatefulSet controller itself uses for `RollingUpdate`. The leader may then be restarted
 *     at any point of the roll. The fallback is logged once per roll.
 *
 * Either way at most one member is down for a restart at a time. An ensemble of one member is restarted
 * when it answers `standalone` (or leader) or answers nothing: that restart is unavoidably an outage.
 * `zooKeeperRollPlan` decides from what was observed (pure); `ZooKeeperRoller` does the asking and the
 * deleting, through a `ZooKeeperModeProbe`. Without one (an operator run with `--coordinate=false`, which
 * talks to no ensemble at all) every roll takes the fallback of step 4.
 */
import type { KubeConfig, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import { zooKeeperMode, type ZooKeeperMode } from '../../../common/src/zookeeper-four-letter.ts';
import type { DistributedApp } from '../api/schema.ts';
import { appNames } from '../model/names.ts';
import { PORTS } from '../model/ports.ts';
import type { Logger } from '../runtime/index.ts';
import { send, statusMessage } from './api-client.ts';
import { ControllerError } from './errors.ts';
import type { EventRecorder } from './events.ts';
import type { AppCaches } from './watches.ts';
import { podReady } from '../coordination/ensemble-readiness.ts';
import { appIndexKey, BY_APP_INDEX } from '../model/labels.ts';

/** Pod label naming the StatefulSet revision the pod was created from. */
export const REVISION_LABEL = 'controller-revision-hash';

/** How long the reconciler waits before looking at a roll in progress again. */
export const ROLL_POLL_MS = 2_000;

/** How long the roller waits for the members' `srvr` answers (asked in parallel). */
export const MODE_TIMEOUT_MS = 1_000;

/** What each member (pod name) answered to `srvr`; undefined or absent: no answer, or not serving. */
export type ObservedModes = ReadonlyMap<string, ZooKeeperMode | undefined>;

/** No member answered. */
export const NO_ANSWERS: ObservedModes = new Map();

/**
 * How a plan was reached: `up-to-date` (nothing to restart, or the StatefulSet controller has not
 * observed the latest spec), `members-down` (a member is missing, not Ready or terminating), `no-quorum`
 * (members answered, but no restart would leave a serving quorum), `by-role` (followers first, the leader
 * last, from the answers), `by-ordinal` (no member answered: readiness only).
 */
export type RollBasis = 'up-to-date' | 'members-down' | 'no-quorum' | 'by-role' | 'by-ordinal';

/** Where a roll stands. */
export interface ZooKeeperRollPlan {
  /** Members (pod names) not on the StatefulSet's update revision, highest ordinal first. */
  readonly outOfDate: readonly string[];
  /** The member to restart now; undefined when none is out of date or restarting one could cost quorum. */
  readonly next: string | undefined;
  /** What `next` answered to `srvr`; undefined when it did not answer (or there is no `next`). */
  readonly nextMode: ZooKeeperMode | undefined;
  readonly basis: RollBasis;
}

function ordinalOf(setName: string, pod: V1Pod): number | undefined {
  const name = pod.metadata?.name ?? '';
  if (!name.startsWith(`${setName}-`)) return undefined;
  const suffix = name.slice(setName.length + 1);
  return /^(0|[1-9]\d*)$/.test(suffix) ? Number(suffix) : undefined;
}

/** Whether the StatefulSet controller has seen the current spec, so `updateRevision` is current. */
function revisionKnown(set: V1StatefulSet): string | undefined {
  const observed = set.status?.observedGeneration ?? 0;
  const generation = set.metadata?.generation ?? 0;
  return observed >= generation ? set.status?.updateRevision : undefined;
}

/** The member pods of `set`, highest ordinal first (pods of other sets and ordinals beyond `replicas` left out). */
export function zooKeeperMembers(set: V1StatefulSet, pods: readonly V1Pod[]): V1Pod[] {
  const setName = set.metadata?.name ?? '';
  const replicas = set.spec?.replicas ?? 1;
  const byOrdinal = new Map<number, V1Pod>();
  for (const pod of pods) {
    const ordinal = ordinalOf(setName, pod);
    if (ordinal !== undefined && ordinal < replicas) byOrdinal.set(ordinal, pod);
  }
  return [...byOrdinal.entries()].sort(([a], [b]) => b - a).map(([, pod]) => pod);
}

function podName(pod: V1Pod): string {
  return pod.metadata?.name ?? '';
}

function isServing(mode: ZooKeeperMode | undefined): boolean {
  return mode === 'leader' || mode === 'follower';
}

/**
 * Whether restarting `candidate` leaves a serving quorum: exactly one leader among the answers, and at
 * least floor(n/2)+1 of the other members serving. A single member only has to serve (the outage of its
 * restart cannot be avoided).
 */
function quorumOutlives(candidate: string, names: readonly string[], modes: ObservedModes): boolean {
  if (names.length === 1) return modes.get(candidate) === 'standalone' || modes.get(candidate) === 'leader';
  const leaders = names.filter((name) => modes.get(name) === 'leader').length;
  const others = names.filter((name) => name !== candidate && isServing(modes.get(name))).length;
  return leaders === 1 && others >= Math.floor(names.length / 2) + 1;
}

/** The first out-of-date member, followers before the leader, whose restart keeps a serving quorum. */
function nextByRole(
  outOfDate: readonly string[],
  names: readonly string[],
  modes: ObservedModes,
): string | undefined {
  const isLeader = (name: string): boolean => modes.get(name) === 'leader';
  const order = [...outOfDate.filter((name) => !isLeader(name)), ...outOfDate.filter(isLeader)];
  return order.find((name) => quorumOutlives(name, names, modes));
}

/**
 * The roll of the ZooKeeper StatefulSet `set` given its pods and what each member answered to `srvr`
 * (`NO_ANSWERS` when none did): which members are out of date (their `controller-revision-hash` label
 * differs from `status.updateRevision`) and which to restart now, following the steps of the module
 * comment. Nothing is out of date while the StatefulSet controller has not observed the latest spec. Pure.
 */
export function zooKeeperRollPlan(
  set: V1StatefulSet,
  pods: readonly V1Pod[],
  modes: ObservedModes,
): ZooKeeperRollPlan {
  const plan = (basis: RollBasis, outOfDate: readonly string[] = [], next?: string): ZooKeeperRollPlan => ({
    outOfDate,
    next,
    nextMode: next === undefined ? undefined : modes.get(next),
    basis,
  });
  const revision = revisionKnown(set);
  if (revision === undefined) return plan('up-to-date');
  const members = zooKeeperMembers(set, pods);
  const names = members.map(podName);
  const outOfDate = members.filter((pod) => pod.metadata?.labels?.[REVISION_LABEL] !== revision).map(podName);
  if (outOfDate.length === 0) return plan('up-to-date');
  const allUp =
    members.length === (set.spec?.replicas ?? 1) &&
    members.every((pod) => podReady(pod) && pod.metadata?.deletionTimestamp === undefined);
  if (!allUp) return plan('members-down', outOfDate);
  const noneAnswered = names.every((name) => modes.get(name) === undefined);
  if (noneAnswered) return plan('by-ordinal', outOfDate, outOfDate[0]);
  const next = nextByRole(outOfDate, names, modes);
  return next === undefined ? plan('no-quorum', outOfDate) : plan('by-role', outOfDate, next);
}

/**
 * The ZooKeeper member (pod name) to restart now, or undefined: see `zooKeeperRollPlan`. Pure.
 */
export function nextZooKeeperMemberToRestart(
  set: V1StatefulSet,
  pods: readonly V1Pod[],
  modes: ObservedModes,
): string | undefined {
  return zooKeeperRollPlan(set, pods, modes).next;
}

/** Asks one ZooKeeper member its role; the roller's only way to talk to the ensemble. */
export interface ZooKeeperModeProbe {
  /**
   * The mode the member at `host:port` reports with `srvr`; undefined when it does not serve or does not
   * answer before `signal` aborts. Never rejects.
   */
  modeOf(host: string, port: number, signal: AbortSignal): Promise<ZooKeeperMode | undefined>;
}

/** Adapts a function to `ZooKeeperModeProbe`. */
export function zooKeeperModeProbeFunc(fn: ZooKeeperModeProbe['modeOf']): ZooKeeperModeProbe {
  return { modeOf: fn } satisfies ZooKeeperModeProbe;
}

/** The default probe: the `srvr` four-letter word over TCP, within `MODE_TIMEOUT_MS` or `signal`. */
export const fourLetterModeProbe = zooKeeperModeProbeFunc((host, port, signal) =>
  zooKeeperMode(host, port, { timeoutMs: MODE_TIMEOUT_MS, signal }),
);

/**
 * Asks every member in `members` (at `status.podIP`, on the client port) its mode, in parallel, each
 * answer due within `timeoutMs` (default `MODE_TIMEOUT_MS`) or before `signal` aborts. A pod without an
 * IP is not asked and counts as not answering.
 */
export async function observeZooKeeperModes(
  members: readonly V1Pod[],
  probe: ZooKeeperModeProbe,
  signal: AbortSignal,
  timeoutMs = MODE_TIMEOUT_MS,
): Promise<Map<string, ZooKeeperMode | undefined>> {
  const deadline = AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]);
  const answers = await Promise.all(
    members.map(async (pod) => {
      const ip = pod.status?.podIP;
      const mode = ip ? await probe.modeOf(ip, PORTS.zookeeperClient, deadline) : undefined;
      return [podName(pod), mode] as const;
    }),
  );
  return new Map(answers);
}

/** Options of `ZooKeeperRoller`. */
export interface ZooKeeperRollerOptions {
  readonly kubeConfig: KubeConfig;
  readonly caches: AppCaches;
  readonly events: EventRecorder;
  readonly logger: Logger;
  /** How members are asked their role (`fourLetterModeProbe` in the operator); default none: never asked. */
  readonly modeProbe?: ZooKeeperModeProbe;
}

/** What `ZooKeeperRoller.step` found. */
export type RollProgress = 'idle' | 'rolling';

function controlledBy(pod: V1Pod, uid: string): boolean {
  return (pod.metadata?.ownerReferences ?? []).some((ref) => ref.controller === true && ref.uid === uid);
}

/** The member `ZooKeeperRoller` restarts, the plan that chose it and the revision it moves to. */
interface RestartTarget {
  readonly pod: V1Pod;
  readonly plan: ZooKeeperRollPlan;
  readonly revision: string | undefined;
}

/** How the restarted member figures in its event: its role, or why it is not known. */
function roleText(plan: ZooKeeperRollPlan): string {
  if (plan.basis === 'by-ordinal') return 'role unknown: no member answered srvr';
  if (plan.nextMode === 'leader') return 'the leader, restarted last';
  return plan.nextMode === undefined ? 'it did not answer srvr' : `a ${plan.nextMode}`;
}

/** Restarts out-of-date ZooKeeper members of an app one at a time; see the module comment. */
export class ZooKeeperRoller {
  readonly #o: ZooKeeperRollerOptions;
  readonly #probe: ZooKeeperModeProbe | undefined;
  /** The basis of each app's last step in a roll, so a fallback or a wait is logged once, not every step. */
  readonly #basis = new Map<string, RollBasis>();

  constructor(options: ZooKeeperRollerOptions) {
    this.#o = options;
    this.#probe = options.modeProbe;
  }

  /**
   * One step of the app's roll, from the caches and the members' answers: deletes the next member
   * (precondition: the uid it was seen with) and records a `ZooKeeperMemberRestarted` event naming its
   * role. Asks the members nothing unless every member is up and one is out of date. Returns 'rolling'
   * while any member is out of date (the caller looks again after `ROLL_POLL_MS`), 'idle' otherwise;
   * writes nothing when idle. Throws `ControllerError` `ERR_DELETE_FAILED` when the apiserver refuses
   * the delete.
   */
  async step(app: DistributedApp, signal: AbortSignal): Promise<RollProgress> {
    const key = `${app.metadata.namespace ?? ''}/${app.metadata.name ?? ''}`;
    const ensemble = this.#ensemble(app);
    if (ensemble === undefined) return this.#idle(key);
    const { set, pods } = ensemble;
    const unasked = zooKeeperRollPlan(set, pods, NO_ANSWERS);
    if (unasked.outOfDate.length === 0) return this.#idle(key);
    // Members are asked only when one could be restarted: a roll waiting for a member costs no I/O.
    if (unasked.next === undefined) return 'rolling';
    const modes =
      this.#probe === undefined
        ? NO_ANSWERS
        : await observeZooKeeperModes(zooKeeperMembers(set, pods), this.#probe, signal);
    const plan = zooKeeperRollPlan(set, pods, modes);
    this.#explain(key, plan, modes);
    const pod = pods.find((p) => podName(p) === plan.next);
    if (pod !== undefined) {
      await this.#restart(app, { pod, plan, revision: set.status?.updateRevision }, signal);
    }
    return 'rolling';
  }

  #idle(key: string): RollProgress {
    this.#basis.delete(key);
    return 'idle';
  }

  /** The app's ZooKeeper StatefulSet and the pods it controls, from the caches; undefined without one. */
  #ensemble(app: DistributedApp): { set: V1StatefulSet; pods: V1Pod[] } | undefined {
    if (app.spec.coordination.zookeeper === undefined) return undefined;
    const namespace = app.metadata.namespace ?? '';
    const name = appNames(app.metadata.name ?? '').zookeeper;
    const set: V1StatefulSet | undefined = this.#o.caches.owned.StatefulSet.get(namespace, name);
    if (set === undefined) return undefined;
    const uid = set.metadata?.uid ?? '';
    const pods = this.#o.caches.pods.byIndex(BY_APP_INDEX, appIndexKey(namespace, app.metadata.name ?? ''));
    return { set, pods: pods.filter((pod) => controlledBy(pod, uid)) };
  }

  /** Logs a step that falls back to readiness or waits for quorum, once per change of basis. */
  #explain(key: string, plan: ZooKeeperRollPlan, modes: ObservedModes): void {
    const previous = this.#basis.get(key);
    this.#basis.set(key, plan.basis);
    if (plan.basis === previous) return;
    const answers = Object.fromEntries([...modes].map(([name, mode]) => [name, mode ?? 'none']));
    if (plan.basis === 'by-ordinal') {
      this.#o.logger.info(
        { app: key, answers },
        'no ZooKeeper member answered srvr; rolling by ordinal, on pod readiness only',
      );
    } else if (plan.basis === 'no-quorum') {
      this.#o.logger.info(
        { app: key, answers },
        'ZooKeeper answers show no quorum that would outlive a restart; waiting',
      );
    }
  }

  async #restart(app: DistributedApp, target: RestartTarget, signal: AbortSignal): Promise<void> {
    const { pod, plan, revision } = target;
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
    const role = roleText(plan);
    this.#o.logger.info({ pod: name, role, from, to: revision }, 'restarting ZooKeeper member');
    await this.#o.events.record(app, {
      type: 'Normal',
      reason: 'ZooKeeperMemberRestarted',
      message: `Restarted ZooKeeper member ${name} (${role}) to move it from revision ${from} to ${revision ?? 'unknown'}`,
    });
  }
}
