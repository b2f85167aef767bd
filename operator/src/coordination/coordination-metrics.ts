/**
 * The coordinators' Prometheus metrics, registered on the registry passed in (the manager's):
 * - `capstan_rebalances_total{namespace,app,reason}`: assignments written, by {@link REBALANCE_REASONS};
 * - `capstan_partitions_moved_total{namespace,app}`: partitions that changed owner in them;
 * - `capstan_coordinator_connected{namespace,app}`: 1 while the app's coordinator holds a connected
 *   ZooKeeper session with its rebalancer running, else 0;
 * - `capstan_coordinator_connection_attempts_total{namespace,app}`: ZooKeeper sessions the coordinator tried
 *   to open (each attempt of its backoff; none while it waits for a ready quorum of in-cluster members);
 * - `capstan_partitions_unowned{namespace,app}`: partitions of the assignment not held by their assigned
 *   owner, as last observed (no series before the first observation);
 * - `capstan_rebalance_duration_seconds`: from a rebalance's write of the assignment until every partition it
 *   moved is claimed by its new owner (no app labels, so 1 000 apps do not make 1 000 histograms).
 * The series of an app are removed when its coordinator stops for good (the app is gone), so deleted apps
 * leave nothing behind. A second instance on the same registry throws (prom-client refuses duplicates).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { RebalanceResult } from '../../../common/src/rebalancer.ts';
import type { AppRef } from '../../../common/src/zk-paths.ts';

/** The bounded `reason` label values (the Rebalancer's reasons name workers, which a label must not). */
export const REBALANCE_REASONS = [
  'members_changed',
  'departure_delay',
  'left_on_purpose',
  'retry',
  'other',
] as const;
export type RebalanceReason = (typeof REBALANCE_REASONS)[number];

/** Maps a Rebalancer reason such as `members changed (joined: w-a)` to its label value. */
export function rebalanceReason(reason: string): RebalanceReason {
  if (reason.startsWith('retry:')) return 'retry';
  if (reason.startsWith('members changed')) return 'members_changed';
  if (reason.startsWith('departure delay')) return 'departure_delay';
  if (reason.startsWith('left on purpose')) return 'left_on_purpose';
  return 'other';
}

function labels(ref: AppRef): { namespace: string; app: string } {
  return { namespace: ref.namespace, app: ref.app };
}

/** See the module comment. */
export class CoordinationMetrics {
  readonly #rebalances: Counter<'namespace' | 'app' | 'reason'>;
  readonly #moved: Counter<'namespace' | 'app'>;
  readonly #connected: Gauge<'namespace' | 'app'>;
  readonly #attempts: Counter<'namespace' | 'app'>;
  readonly #unowned: Gauge<'namespace' | 'app'>;
  readonly #duration: Histogram;

  constructor(registry: Registry) {
    const registers = [registry];
    this.#rebalances = new Counter({
      name: 'capstan_rebalances_total',
      help: 'Partition assignments written by the rebalancer, by app and reason',
      labelNames: ['namespace', 'app', 'reason'],
      registers,
    });
    this.#moved = new Counter({
      name: 'capstan_partitions_moved_total',
      help: 'Partitions that changed owner in a rebalance, by app',
      labelNames: ['namespace', 'app'],
      registers,
    });
    this.#connected = new Gauge({
      name: 'capstan_coordinator_connected',
      help: "1 while the app's coordinator has a connected ZooKeeper session and runs its rebalancer",
      labelNames: ['namespace', 'app'],
      registers,
    });
    this.#attempts = new Counter({
      name: 'capstan_coordinator_connection_attempts_total',
      help: "Attempts of the app's coordinator to open a ZooKeeper session",
      labelNames: ['namespace', 'app'],
      registers,
    });
    this.#unowned = new Gauge({
      name: 'capstan_partitions_unowned',
      help: 'Partitions not held by their assigned owner, by app',
      labelNames: ['namespace', 'app'],
      registers,
    });
    this.#duration = new Histogram({
      name: 'capstan_rebalance_duration_seconds',
      help: 'Time from writing an assignment until every partition it moved is claimed by its new owner',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers,
    });
  }

  /** Creates the app's series at 0 (a coordinator started). */
  started(ref: AppRef): void {
    this.#moved.inc(labels(ref), 0);
    this.#connected.set(labels(ref), 0);
    this.#attempts.inc(labels(ref), 0);
  }

  /** Counts one attempt to open a session. */
  attempted(ref: AppRef): void {
    this.#attempts.inc(labels(ref));
  }

  /** Counts one written assignment. */
  rebalanced(ref: AppRef, result: Pick<RebalanceResult, 'reason' | 'moved'>): void {
    this.#rebalances.inc({ ...labels(ref), reason: rebalanceReason(result.reason) });
    this.#moved.inc(labels(ref), result.moved.length);
  }

  /** Sets the connected gauge. */
  connected(ref: AppRef, up: boolean): void {
    this.#connected.set(labels(ref), up ? 1 : 0);
  }

  /** Sets the app's unowned partitions. */
  unowned(ref: AppRef, partitions: number): void {
    this.#unowned.set(labels(ref), partitions);
  }

  /** Observes one rebalance's duration until its moved partitions were claimed. */
  rebalanceSettled(durationMs: number): void {
    this.#duration.observe(durationMs / 1000);
  }

  /** Removes every series of the app. */
  forget(ref: AppRef): void {
    for (const reason of REBALANCE_REASONS) this.#rebalances.remove({ ...labels(ref), reason });
    this.#moved.remove(labels(ref));
    this.#connected.remove(labels(ref));
    this.#attempts.remove(labels(ref));
    this.#unowned.remove(labels(ref));
  }
}
