/**
 * The set of running coordinators, one per DistributedApp in the cache. `sync()` is a reconcile: it
 * computes the desired coordinators from the cache ({@link desiredCoordinators}), diffs them against the
 * running ones ({@link diffCoordinators}) and starts, stops or restarts accordingly; it never waits, so an
 * app whose ZooKeeper does not answer holds no other app up. A restarted app's new coordinator connects
 * only once its old one closed, so one app never has two rebalancers in this process. Each rebalance is
 * counted in the metrics and recorded as a `Rebalanced` Event on the app. What each coordinator observes
 * (ownership summaries, unreachable ZooKeeper, rebalances) is published into the {@link PartitionObservations}
 * store when one is given, for the reconciler, and each coordinator's life (started until its session is
 * closed) into the {@link CoordinatorActivity} when one is given. `close()` stops every coordinator and
 * resolves once each ZooKeeper session is closed.
 */
import type { RebalanceResult } from '../../../common/src/rebalancer.ts';
import { systemTimers, type Timers } from '../../../common/src/timers.ts';
import type { DistributedApp } from '../api/schema.ts';
import type { Observed } from '../model/observed.ts';
import type { StatusEvent } from '../model/status-events.ts';
import type { OwnershipSummary } from '../model/status-partitions.ts';
import type { Logger, Store } from '../runtime/index.ts';
import { AppCoordinator } from './app-coordinator.ts';
import type { V1Pod } from '@kubernetes/client-node';
import { DEFAULT_BACKOFF, IN_CLUSTER_BACKOFF, type BackoffPolicy } from './backoff.ts';
import { ensembleReadiness } from './ensemble-readiness.ts';
import type { CoordinatorActivity } from './coordinator-activity.ts';
import type { CoordinationMetrics } from './coordination-metrics.ts';
import { desiredCoordinators, diffCoordinators, type CoordinatorDiff } from './coordinator-diff.ts';
import {
  coordinatorKey,
  coordinatorSpec,
  type CoordinatorSpec,
  type CredentialSource,
} from './coordinator-spec.ts';
import { unowned, type OwnershipReading } from './ownership-summary.ts';
import type { AppRef } from '../../../common/src/zk-paths.ts';
import type { PartitionObservations } from './partition-observations.ts';
import type { WorkerRemediation } from '../remediation/worker-remediation.ts';
import { rebalanceEvent } from './rebalance-event.ts';
import {
  DEFAULT_ZOOKEEPER_TIMEOUTS,
  type RebalancerSessionOptions,
  type ZooKeeperTimeouts,
} from './rebalancer-session.ts';

/** Where `Rebalanced` events go (an `EventRecorder`, which logs its own failures and never rejects). */
export interface RebalanceEventSink {
  record(app: DistributedApp, event: StatusEvent): Promise<void>;
}

/**
 * Where each coordinator's partition-by-partition view and every rebalance go for a reader outside the
 * reconcile (the dashboard). Must not throw.
 */
export interface CoordinationSink {
  observed(ref: AppRef, reading: OwnershipReading): void;
  rebalanced(ref: AppRef, result: RebalanceResult): void;
  /** The app no longer has a coordinator here (deleted, or coordination stopped). */
  forget(ref: AppRef): void;
}

/** Options of {@link Coordinators}. */
export interface CoordinatorsOptions {
  /** The DistributedApp cache. */
  readonly apps: Store<DistributedApp>;
  readonly metrics: CoordinationMetrics;
  readonly logger: Logger;
  /** The cluster DNS domain of in-cluster ensembles; default the builders'. */
  readonly observed?: Observed;
  /** Default: no events. */
  readonly events?: RebalanceEventSink;
  /** Where observations go for the reconciler; default: nowhere. */
  readonly observations?: PartitionObservations;
  /** Where readings and rebalances go for the dashboard; default: nowhere. */
  readonly sink?: CoordinationSink;
  /** Where each coordinator's start and end go for the reconciler; default: nowhere. */
  readonly activity?: CoordinatorActivity;
  /** Acts on workers Kubernetes proves dead or crash-looping; default: nothing is done (session expiry only). */
  readonly remediation?: WorkerRemediation;
  /** Default the system timers. */
  readonly timers?: Timers;
  /** Jitter source; default Math.random. */
  readonly random?: () => number;
  /**
   * The pod cache: with it, an in-cluster ensemble is dialled only while a quorum of its members is Ready,
   * at once when that changes, and otherwise on the longer {@link IN_CLUSTER_BACKOFF}. Default: always dial.
   */
  readonly pods?: Store<V1Pod>;
  /** Default {@link IN_CLUSTER_BACKOFF} for in-cluster ensembles given `pods`, else {@link DEFAULT_BACKOFF}. */
  readonly backoff?: BackoffPolicy;
  /** Default {@link DEFAULT_ZOOKEEPER_TIMEOUTS}. */
  readonly timeouts?: ZooKeeperTimeouts;
  /**
   * Each app's ZooKeeper credentials (its Secret); an app gets its coordinator once they exist. Default:
   * none, every node open to the world (tests of the rebalancing alone).
   */
  readonly credentials?: CredentialSource;
  /** Makes each app's ZooKeeper client; default the real one (tests wrap it to reach the sessions). */
  readonly createClient?: RebalancerSessionOptions['createClient'];
  /** Reaches in-cluster ensembles through a tunnel (`--zookeeper-access=port-forward`); default: directly. */
  readonly tunnel?: RebalancerSessionOptions['tunnel'];
}

/** See the module comment. */
export class Coordinators {
  readonly #o: CoordinatorsOptions;
  readonly #running = new Map<string, AppCoordinator>();
  /** Coordinators closing, by key; a new one of the same key starts after them. */
  readonly #closing = new Map<string, Promise<unknown>>();
  /**
   * The spec of each cached app object: the cache replaces an object on every change, so the same object
   * has the same spec, and a sync of a thousand unchanged apps builds none.
   */
  readonly #specs = new WeakMap<DistributedApp, CoordinatorSpec | undefined>();
  #closed = false;

  constructor(options: CoordinatorsOptions) {
    this.#o = options;
  }

  /** Specs of the running coordinators, sorted by key. */
  specs(): CoordinatorSpec[] {
    return [...this.#running.values()]
      .map((c) => c.spec)
      .sort((a, b) => coordinatorKey(a).localeCompare(coordinatorKey(b)));
  }

  /** Brings the running coordinators in line with the cache; returns what it changed. */
  sync(): CoordinatorDiff {
    if (this.#closed) return { start: [], stop: [] };
    const desired = desiredCoordinators(this.#o.apps.list(), (app) => this.#specOf(app), this.#o.credentials);
    const running = new Map([...this.#running].map(([key, c]) => [key, c.spec]));
    const diff = diffCoordinators(desired, running);
    for (const key of diff.stop) this.#stop(key, !desired.has(key));
    for (const spec of diff.start) this.#start(spec);
    for (const coordinator of this.#running.values()) {
      coordinator.observeEnsemble();
      this.#remediate(coordinator);
    }
    return diff;
  }

  #specOf(app: DistributedApp): CoordinatorSpec | undefined {
    if (this.#specs.has(app)) return this.#specs.get(app);
    const spec = coordinatorSpec(app, this.#o.observed ?? {});
    this.#specs.set(app, spec);
    return spec;
  }

  /** Runs the worker remediation of one app now (a worker pod of it changed). */
  remediate(ref: { readonly namespace: string; readonly app: string }): void {
    const coordinator = this.#running.get(coordinatorKey(ref));
    if (coordinator !== undefined && !this.#closed) this.#remediate(coordinator);
  }

  #remediate(coordinator: AppCoordinator): void {
    const app = this.#o.apps.get(coordinator.spec.namespace, coordinator.spec.app);
    if (app !== undefined) void this.#o.remediation?.run(app, coordinator);
  }

  /** Stops every coordinator; resolves when their sessions are closed. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const key of [...this.#running.keys()]) this.#stop(key, false);
    await Promise.all(this.#closing.values());
    // Whoever coordinates next (this replica leading again, or another) reads ZooKeeper afresh.
    this.#o.observations?.clear();
  }

  #start(spec: CoordinatorSpec): void {
    const o = this.#o;
    const pods = o.pods;
    const watched = pods !== undefined && spec.members !== undefined;
    const coordinator = new AppCoordinator({
      spec,
      logger: o.logger,
      timers: o.timers ?? systemTimers,
      random: o.random ?? Math.random,
      backoff: o.backoff ?? (watched ? IN_CLUSTER_BACKOFF : DEFAULT_BACKOFF),
      ...(watched ? { ensemble: () => ensembleReadiness(spec, pods) } : {}),
      timeouts: o.timeouts ?? DEFAULT_ZOOKEEPER_TIMEOUTS,
      onRebalanced: (s, result) => this.#rebalanced(s, result),
      onConnected: (s, connected) => o.metrics.connected(s, connected),
      onOwnership: (s, summary) => this.#observed(s, summary),
      onReading: (s, reading) => o.sink?.observed(s, reading),
      onSettled: (_s, durationMs) => o.metrics.rebalanceSettled(durationMs),
      onUnreachable: (s) => o.observations?.unreachable(s),
      onAttempt: (s) => o.metrics.attempted(s),
      ...(o.createClient === undefined ? {} : { createClient: o.createClient }),
      ...(o.tunnel === undefined ? {} : { tunnel: o.tunnel }),
    });
    const key = coordinatorKey(spec);
    this.#running.set(key, coordinator);
    o.activity?.began(spec);
    o.metrics.started(spec);
    coordinator.start(this.#closing.get(key));
  }

  /** `gone`: the app no longer wants a coordinator, so its metric series go too. */
  #stop(key: string, gone: boolean): void {
    const coordinator = this.#running.get(key);
    if (coordinator === undefined) return;
    this.#running.delete(key);
    const closed = Promise.all([this.#closing.get(key), coordinator.close()])
      .then(() => {
        if (!this.#running.has(key)) this.#o.sink?.forget(coordinator.spec);
        if (gone && !this.#running.has(key)) {
          this.#o.metrics.forget(coordinator.spec);
          this.#o.observations?.forget(coordinator.spec);
          this.#o.remediation?.forget(coordinator.spec);
        }
      })
      .catch((error: unknown) => this.#o.logger.error({ err: error, key }, 'closing a coordinator failed'))
      .finally(() => this.#o.activity?.ended(coordinator.spec));
    this.#closing.set(key, closed);
    void closed.finally(() => {
      if (this.#closing.get(key) === closed) this.#closing.delete(key);
    });
  }

  #observed(spec: CoordinatorSpec, summary: OwnershipSummary): void {
    this.#o.metrics.unowned(spec, unowned(summary));
    this.#o.observations?.observed(spec, summary);
    this.#o.remediation?.ownership(spec, summary);
  }

  #rebalanced(spec: CoordinatorSpec, result: RebalanceResult): void {
    this.#o.metrics.rebalanced(spec, result);
    this.#o.sink?.rebalanced(spec, result);
    this.#o.observations?.rebalanced(spec, {
      time: new Date(result.time).toISOString(),
      reason: result.reason,
      moved: result.moved.length,
    });
    const event = rebalanceEvent(result);
    this.#o.logger.info(
      { namespace: spec.namespace, app: spec.app, moved: result.moved.length, reason: result.reason },
      'rebalanced',
    );
    const app = this.#o.apps.get(spec.namespace, spec.app);
    if (app !== undefined) void this.#o.events?.record(app, event);
  }
}
