/**
 * What the coordinators of this process saw, kept for the dashboard (a {@link CoordinationSink}): per app
 * the last ownership reading (assignment, holders of `owners/<p>`, live members) and its recent rebalances
 * (the last {@link RECENT_REBALANCES}). A standby replica runs no coordinator, so it holds nothing; when
 * coordination stops, the readings go (they would be stale) and the rebalances stay as history.
 */
import type { RebalanceResult } from '../../../common/src/rebalancer.ts';
import type { AppRef } from '../../../common/src/zk-paths.ts';
import type { CoordinationSink } from '../coordination/coordinators.ts';
import type { OwnershipReading } from '../coordination/ownership-summary.ts';
import { RingBuffer } from './ring-buffer.ts';

/** Rebalances kept per app. */
export const RECENT_REBALANCES = 20;

/** One rebalance as the dashboard shows it. */
export interface RebalanceRecord {
  /** RFC 3339. */
  readonly time: string;
  readonly reason: string;
  /** Number of partitions that changed owner. */
  readonly moved: number;
  readonly moves: readonly {
    readonly partition: number;
    readonly from: string | null;
    readonly to: string;
  }[];
}

/** Read access for the dashboard. */
export interface CoordinationView {
  /** The app's last reading, undefined while no coordinator of this process read it. */
  reading(namespace: string, app: string): OwnershipReading | undefined;
  /** The app's recent rebalances, newest first. */
  rebalances(namespace: string, app: string): RebalanceRecord[];
}

function key(namespace: string, app: string): string {
  return `${namespace}/${app}`;
}

/** See the module comment. */
export class CoordinationLog implements CoordinationSink, CoordinationView {
  readonly #readings = new Map<string, OwnershipReading>();
  readonly #rebalances = new Map<string, RingBuffer<RebalanceRecord>>();

  observed(ref: AppRef, reading: OwnershipReading): void {
    this.#readings.set(key(ref.namespace, ref.app), reading);
  }

  reading(namespace: string, app: string): OwnershipReading | undefined {
    return this.#readings.get(key(namespace, app));
  }

  rebalanced(ref: AppRef, result: RebalanceResult): void {
    const k = key(ref.namespace, ref.app);
    const buffer = this.#rebalances.get(k) ?? new RingBuffer<RebalanceRecord>(RECENT_REBALANCES);
    buffer.push({
      time: new Date(result.time).toISOString(),
      reason: result.reason,
      moved: result.moved.length,
      moves: result.moved.map((m) => ({ partition: m.partition, from: m.from ?? null, to: m.to })),
    });
    this.#rebalances.set(k, buffer);
  }

  rebalances(namespace: string, app: string): RebalanceRecord[] {
    return (this.#rebalances.get(key(namespace, app))?.toArray() ?? []).reverse();
  }

  forget(ref: AppRef): void {
    this.#readings.delete(key(ref.namespace, ref.app));
  }
}
