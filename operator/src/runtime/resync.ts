/**
 * A periodic resync (controller-runtime's `SyncPeriod`): every `periodMs` the requests of every object
 * in a cache are queued again, so anything an event was missed for, or that drifted without one, is
 * reconciled. A level-triggered, idempotent reconciler makes no write on such a visit when nothing changed.
 */
import { systemClock, type Clock } from './clock.ts';
import type { Enqueue } from './handler.ts';
import type { Runnable } from './manager.ts';
import type { Request } from './reconciler.ts';

/** Options of `periodicResync`. */
export interface PeriodicResyncOptions {
  /** Interval between two resyncs; 0 or less: never. */
  readonly periodMs: number;
  /** The requests to queue at each resync (usually every object of a controller's primary cache). */
  readonly list: () => readonly Request[];
  /** Where the requests go (a controller's `enqueue`). */
  readonly enqueue: Enqueue;
  readonly clock?: Clock;
}

/**
 * A runnable (for `Manager.addLeaderRunnable`) that queues `list()` every `periodMs` until its signal
 * aborts, the first time one period after it starts. The timer is unref'd by the system clock.
 */
export function periodicResync(options: PeriodicResyncOptions): Runnable {
  const clock = options.clock ?? systemClock;
  return {
    start(signal: AbortSignal): Promise<void> {
      if (options.periodMs <= 0 || signal.aborted) return Promise.resolve();
      return new Promise<void>((resolve) => {
        let cancel = (): void => undefined;
        const schedule = (): void => {
          cancel = clock.setTimer(() => {
            for (const request of options.list()) options.enqueue(request);
            schedule();
          }, options.periodMs);
        };
        signal.addEventListener(
          'abort',
          () => {
            cancel();
            resolve();
          },
          { once: true },
        );
        schedule();
      });
    },
  } satisfies Runnable;
}
