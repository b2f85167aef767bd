/**
 * The coordinator of one DistributedApp: a {@link Supervisor} that keeps a {@link openRebalancerSession}
 * open for the app's {@link CoordinatorSpec}, retrying with backoff. It logs once per state change, with
 * the app's namespace and name as fields: running, session lost, unreachable (a repeat of the same failure
 * goes to debug), stopped. A changed spec needs a new coordinator (the set restarts it). Every failure to
 * open a session is reported through `onUnreachable` (the ownership is unknown then; the receiver
 * deduplicates); a session that merely ended is not, as the next attempt usually opens at once.
 *
 * An in-cluster ensemble is dialled only while a quorum of its member pods is Ready, and
 * `observeEnsemble()` (called on every sync of the set) tries again at once when the ready members
 * change, so the backoff can grow long while nothing changes.
 */
import type { RebalanceResult } from '../../../common/src/rebalancer.ts';
import type { Timers } from '../../../common/src/timers.ts';
import type { OwnershipSummary } from '../model/status-partitions.ts';
import type { OwnershipReading } from './ownership-summary.ts';
import type { Logger } from '../runtime/index.ts';
import { DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.ts';
import { holdReason, type EnsembleReadiness } from './ensemble-readiness.ts';
import type { CoordinatorSpec } from './coordinator-spec.ts';
import type { RemediationTarget } from '../remediation/worker-remediation.ts';
import { noticeLeaving, removeStaleSession, type StaleSessionRemoval } from '../remediation/stale-session.ts';
import {
  openRebalancerSession,
  type RebalancerSessionOptions,
  type SessionAccess,
  type ZooKeeperTimeouts,
} from './rebalancer-session.ts';
import { Supervisor, type SupervisorState } from './supervisor.ts';

/** Options of {@link AppCoordinator}. */
export interface AppCoordinatorOptions {
  readonly spec: CoordinatorSpec;
  readonly logger: Logger;
  readonly timers: Timers;
  readonly random: () => number;
  readonly backoff: BackoffPolicy;
  readonly timeouts: ZooKeeperTimeouts;
  readonly onRebalanced: (spec: CoordinatorSpec, result: RebalanceResult) => void;
  readonly onConnected: (spec: CoordinatorSpec, connected: boolean) => void;
  readonly onOwnership: (spec: CoordinatorSpec, summary: OwnershipSummary) => void;
  /** Each reading behind a summary, partition by partition. Default: none. */
  readonly onReading?: (spec: CoordinatorSpec, reading: OwnershipReading) => void;
  readonly onSettled: (spec: CoordinatorSpec, durationMs: number) => void;
  readonly onUnreachable: (spec: CoordinatorSpec) => void;
  /** Each attempt to open a session. Default: none. */
  readonly onAttempt?: (spec: CoordinatorSpec) => void;
  /** The in-cluster ensemble's readiness now; default: not known, always dial. */
  readonly ensemble?: () => EnsembleReadiness | undefined;
  readonly createClient?: RebalancerSessionOptions['createClient'];
  readonly tunnel?: RebalancerSessionOptions['tunnel'];
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** See the module comment. As a {@link RemediationTarget} it acts on its open session, if any. */
export class AppCoordinator implements RemediationTarget {
  readonly spec: CoordinatorSpec;
  #access: SessionAccess | undefined;
  readonly #log: Logger;
  readonly #supervisor: Supervisor;
  readonly #onUnreachable: () => void;
  readonly #onAttempt: () => void;
  /** The last failure logged at warn, so that its repeats go to debug. */
  #lastWarned: string | undefined;
  readonly #ensemble: (() => EnsembleReadiness | undefined) | undefined;
  /** The ready members at the last {@link observeEnsemble}, joined. */
  #lastReady: string | undefined;
  /** Whether any attempt was made, so that holding means ZooKeeper is unreachable (not still starting). */
  #attempted = false;

  constructor(options: AppCoordinatorOptions) {
    const { spec } = options;
    this.spec = spec;
    this.#log = options.logger.child({ namespace: spec.namespace, app: spec.app });
    this.#onUnreachable = () => options.onUnreachable(spec);
    this.#onAttempt = () => options.onAttempt?.(spec);
    this.#ensemble = options.ensemble;
    this.#supervisor = new Supervisor({
      open: (signal) =>
        openRebalancerSession({
          spec,
          signal,
          timers: options.timers,
          timeouts: options.timeouts,
          logger: this.#log,
          onRebalanced: (result) => options.onRebalanced(spec, result),
          onConnected: (connected) => options.onConnected(spec, connected),
          onOwnership: (summary) => options.onOwnership(spec, summary),
          onReading: (reading) => options.onReading?.(spec, reading),
          onSettled: (durationMs) => options.onSettled(spec, durationMs),
          onAccess: (access) => (this.#access = access),
          ...(options.createClient === undefined ? {} : { createClient: options.createClient }),
          ...(options.tunnel === undefined ? {} : { tunnel: options.tunnel }),
        }),
      holdWhile: () => holdReason(this.#ensemble?.()),
      onState: (state) => this.#report(state),
      backoff: options.backoff,
      // A session that lasted a minute counts as healthy, however long the backoff may grow.
      resetAfterMs: DEFAULT_BACKOFF.maxMs,
      timers: options.timers,
      random: options.random,
    });
  }

  /** Starts connecting once `after` settled (the previous coordinator of the app closed). */
  start(after?: Promise<unknown>): void {
    this.#supervisor.start(after);
  }

  /** Tries again at once when the ensemble's ready members changed since the last call. */
  observeEnsemble(): void {
    const ready = this.#ensemble?.()?.ready.join(',');
    if (ready === this.#lastReady) return;
    this.#lastReady = ready;
    this.#supervisor.wake();
  }

  /** Stops the rebalancer and closes the ZooKeeper session; resolves when both are done. Idempotent. */
  close(): Promise<void> {
    return this.#supervisor.close();
  }

  /** Removes a proven-dead worker's stale session; undefined while no session is open. */
  async removeStaleSession(
    worker: string,
    provenDead: ReadonlySet<string>,
  ): Promise<StaleSessionRemoval | undefined> {
    const access = this.#access;
    if (access === undefined) return undefined;
    return removeStaleSession({ ...access, ref: this.spec, worker, provenDead });
  }

  /** Writes a crash-looping worker's leaving notice; undefined while no session is open. */
  async noticeLeaving(worker: string): Promise<true | undefined> {
    const access = this.#access;
    if (access === undefined) return undefined;
    await noticeLeaving(access.client, this.spec, worker);
    return true;
  }

  /** Whether the worker's member node is registered; undefined while no session is open. */
  isMember(worker: string): boolean | undefined {
    return this.#access?.rebalancer.members.includes(worker);
  }

  #report(state: SupervisorState): void {
    switch (state.state) {
      case 'opening':
        this.#attempted = true;
        this.#onAttempt();
        this.#log.debug({ attempt: state.attempt, connectString: this.spec.connectString }, 'connecting');
        return;
      case 'open':
        this.#lastWarned = undefined;
        this.#log.info(
          {
            connectString: this.spec.connectString,
            partitions: this.spec.partitions,
            departureDelayMs: this.spec.departureDelayMs,
          },
          'coordinator running: ZooKeeper session open, rebalancer started',
        );
        return;
      case 'waiting':
        this.#waiting(state);
        return;
      case 'held':
        this.#held(state.reason);
        return;
      case 'closed':
        this.#log.info('coordinator stopped');
    }
  }

  #held(reason: string): void {
    const repeated = reason === this.#lastWarned;
    this.#lastWarned = reason;
    if (this.#attempted) this.#onUnreachable();
    const log = repeated ? this.#log.debug.bind(this.#log) : this.#log.info.bind(this.#log);
    log({ reason }, 'not dialling ZooKeeper until a quorum of its members is Ready');
  }

  #waiting(state: Extract<SupervisorState, { state: 'waiting' }>): void {
    const fields = { failures: state.failures, retryInMs: state.delayMs, reason: state.reason };
    if (state.error === undefined) {
      this.#lastWarned = undefined;
      this.#log.warn(fields, 'ZooKeeper session lost; reconnecting with backoff');
      return;
    }
    const failure = describe(state.error);
    const repeated = failure === this.#lastWarned;
    this.#onUnreachable();
    this.#lastWarned = failure;
    const log = repeated ? this.#log.debug.bind(this.#log) : this.#log.warn.bind(this.#log);
    log({ ...fields, err: state.error }, 'cannot coordinate: ZooKeeper unavailable; retrying with backoff');
  }
}
