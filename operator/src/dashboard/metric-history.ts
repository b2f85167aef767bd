/**
 * A bounded in-memory history of the operator's own metrics for the dashboard's charts: every
 * `intervalMs` (default 10 s) it samples the registry and keeps the last `capacity` points (default 360,
 * one hour). Nothing is persisted; a restarted operator starts an empty history. A failed sample is
 * skipped (the next one measures a longer interval).
 */
import type { Registry } from 'prom-client';
import { systemTimers, type Timers } from '../../../common/src/timers.ts';
import { pointBetween, sampleOf, type HistoryPoint, type MetricsSample } from './metrics-sample.ts';
import { RingBuffer } from './ring-buffer.ts';

/** Options of {@link MetricHistory}. */
export interface MetricHistoryOptions {
  readonly registry: Registry;
  /** Default 10 000. */
  readonly intervalMs?: number;
  /** Default 360. */
  readonly capacity?: number;
  /** Default the system timers. */
  readonly timers?: Timers;
}

/** See the module comment. */
export class MetricHistory {
  readonly intervalMs: number;
  readonly #registry: Registry;
  readonly #timers: Timers;
  readonly #points: RingBuffer<HistoryPoint>;
  #last: MetricsSample | undefined;
  #timer: unknown;
  #stopped = false;

  constructor(options: MetricHistoryOptions) {
    this.#registry = options.registry;
    this.intervalMs = options.intervalMs ?? 10_000;
    this.#timers = options.timers ?? systemTimers;
    this.#points = new RingBuffer(options.capacity ?? 360);
  }

  /** Takes the first sample now and then one every `intervalMs` until {@link stop}. */
  start(): void {
    this.#stopped = false;
    void this.sample().catch(() => undefined);
  }

  stop(): void {
    this.#stopped = true;
    this.#timers.clearTimeout(this.#timer);
  }

  /** Samples now (the timer calls it); resolves with the new sample. */
  async sample(): Promise<MetricsSample | undefined> {
    this.#timers.clearTimeout(this.#timer);
    let next: MetricsSample | undefined;
    try {
      next = sampleOf(await this.#registry.getMetricsAsJSON(), this.#timers.now());
      if (this.#last !== undefined) this.#points.push(pointBetween(this.#last, next));
      this.#last = next;
    } finally {
      if (!this.#stopped) this.#schedule();
    }
    return next;
  }

  /** A sample of the registry now, not kept (the totals the page shows are current, not up to 10 s old). */
  async current(): Promise<MetricsSample> {
    return sampleOf(await this.#registry.getMetricsAsJSON(), this.#timers.now());
  }

  /** The points, oldest first. */
  points(): HistoryPoint[] {
    return this.#points.toArray();
  }

  /** The last sample, if any. */
  latest(): MetricsSample | undefined {
    return this.#last;
  }

  #schedule(): void {
    // Timers do not hold the process open (see Timers).
    this.#timer = this.#timers.setTimeout(() => void this.sample().catch(() => undefined), this.intervalMs);
  }
}
