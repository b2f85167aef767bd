/**
 * A keyed, deduplicating, rate-limited work queue (the semantics of client-go's workqueue):
 * - a key added while already queued is queued once;
 * - a key being processed is not handed out again until `done(key)`; if it was added meanwhile it is
 *   queued again right after `done`;
 * - `addRateLimited` schedules the key after its per-key exponential backoff; `forget` resets it;
 * - `addAfter` schedules a key later, keeping only the earliest pending time per key;
 * - `shutdown()` stops handing out work and resolves once every key in flight is done.
 */
import { systemClock, type CancelTimer, type Clock } from './clock.ts';

/** Observes queue activity; `metrics.ts` implements it with Prometheus collectors. */
export interface QueueObserver {
  /** A key was accepted by `add` (including duplicates that were folded). */
  added(): void;
  /** The number of keys waiting to be handed out changed. */
  depth(depth: number): void;
  /** A key waited `seconds` between being queued and being handed out. */
  queued(seconds: number): void;
  /** A key was processed for `seconds` between `get` and `done`. */
  worked(seconds: number): void;
  /** A key was re-added after a failure (`addRateLimited`). */
  retried(): void;
}

/** Per-key failure backoff. */
export interface RateLimiter {
  /** The delay before the key's next retry; counts one more failure. */
  when(key: string): number;
  /** Clears the key's failure history. */
  forget(key: string): void;
  /** How many failures the key has had since it was last forgotten. */
  failures(key: string): number;
}

/** Options of `ExponentialBackoff`. */
export interface BackoffOptions {
  /** Delay after the first failure, in ms. Default 5 (controller-runtime's default). */
  baseMs?: number;
  /** Largest delay, in ms. Default 1 000 000 (1000 s). */
  capMs?: number;
}

/** Per-key exponential backoff: `baseMs * 2^failures`, capped at `capMs`. */
export class ExponentialBackoff implements RateLimiter {
  readonly #baseMs: number;
  readonly #capMs: number;
  readonly #failures = new Map<string, number>();

  constructor(options: BackoffOptions = {}) {
    this.#baseMs = options.baseMs ?? 5;
    this.#capMs = options.capMs ?? 1_000_000;
  }

  when(key: string): number {
    const n = this.#failures.get(key) ?? 0;
    this.#failures.set(key, n + 1);
    // 2^n overflows to Infinity for large n; min() keeps the cap.
    return Math.min(this.#capMs, this.#baseMs * 2 ** n);
  }

  forget(key: string): void {
    this.#failures.delete(key);
  }

  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }
}

/** Options of `WorkQueue`. */
export interface WorkQueueOptions {
  /** Time source for delays and durations. Default: the system clock. */
  clock?: Clock;
  /** Retry backoff. Default: `new ExponentialBackoff()` (5 ms doubling to 1000 s). */
  rateLimiter?: RateLimiter;
  /** Metrics hooks. Default: none. */
  observer?: QueueObserver;
}

const noObserver: QueueObserver = {
  added: () => undefined,
  depth: () => undefined,
  queued: () => undefined,
  worked: () => undefined,
  retried: () => undefined,
};

/** See the module comment for the semantics. Keys are opaque strings. */
export class WorkQueue {
  readonly #clock: Clock;
  readonly #limiter: RateLimiter;
  readonly #observer: QueueObserver;
  /** Keys waiting to be handed out, in order. */
  readonly #order: string[] = [];
  /** Keys that need processing (queued, or re-added while processing) -> time they were added. */
  readonly #dirty = new Map<string, number>();
  /** Keys handed out and not yet done -> time they were handed out. */
  readonly #processing = new Map<string, number>();
  readonly #delayed = new Map<string, { at: number; cancel: CancelTimer }>();
  readonly #waiters: Array<(key: string | undefined) => void> = [];
  #drained: Array<() => void> = [];
  #shuttingDown = false;

  constructor(options: WorkQueueOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#limiter = options.rateLimiter ?? new ExponentialBackoff();
    this.#observer = options.observer ?? noObserver;
  }

  /** Queues `key` now unless it is already queued. Ignored after shutdown. */
  add(key: string): void {
    if (this.#shuttingDown) return;
    this.#observer.added();
    if (this.#dirty.has(key)) return;
    this.#dirty.set(key, this.#clock.now());
    if (this.#processing.has(key)) return;
    this.#enqueue(key);
  }

  /** Queues `key` after `delayMs`; an earlier pending time for the key wins. `<= 0` adds now. */
  addAfter(key: string, delayMs: number): void {
    if (this.#shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const at = this.#clock.now() + delayMs;
    const pending = this.#delayed.get(key);
    if (pending !== undefined && pending.at <= at) return;
    pending?.cancel();
    const cancel = this.#clock.setTimer(() => {
      this.#delayed.delete(key);
      this.add(key);
    }, delayMs);
    this.#delayed.set(key, { at, cancel });
  }

  /** Queues `key` after its backoff delay (one more failure) and counts a retry. */
  addRateLimited(key: string): void {
    if (this.#shuttingDown) return;
    this.#observer.retried();
    this.addAfter(key, this.#limiter.when(key));
  }

  /** Clears the failure history of `key` (call after a success). */
  forget(key: string): void {
    this.#limiter.forget(key);
  }

  /** Failures of `key` since it was last forgotten. */
  numRequeues(key: string): number {
    return this.#limiter.failures(key);
  }

  /** Keys waiting to be handed out (not counting delayed or in-flight keys). */
  len(): number {
    return this.#order.length;
  }

  /** Keys handed out and not yet done. */
  inFlight(): number {
    return this.#processing.size;
  }

  /** True once `shutdown` was called. */
  isShuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /**
   * The next key to process; waits while the queue is empty. Resolves `undefined` once the queue is
   * shut down. The caller must call `done(key)` when finished with it.
   */
  get(): Promise<string | undefined> {
    if (this.#shuttingDown) return Promise.resolve(undefined);
    const key = this.#order.shift();
    if (key !== undefined) return Promise.resolve(this.#handOut(key));
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Marks `key` as processed; if it was added meanwhile it is queued again now. */
  done(key: string): void {
    const started = this.#processing.get(key);
    if (started === undefined) return;
    this.#processing.delete(key);
    this.#observer.worked((this.#clock.now() - started) / 1000);
    if (this.#dirty.has(key) && !this.#shuttingDown) this.#enqueue(key);
    if (this.#processing.size === 0) this.#resolveDrained();
  }

  /**
   * Stops the queue: adds are ignored, pending and future `get()` calls resolve `undefined`, delayed
   * keys are dropped. Resolves when every key in flight is done.
   */
  shutdown(): Promise<void> {
    if (!this.#shuttingDown) {
      this.#shuttingDown = true;
      for (const { cancel } of this.#delayed.values()) cancel();
      this.#delayed.clear();
      this.#order.length = 0;
      this.#observer.depth(0);
      for (const waiter of this.#waiters.splice(0)) waiter(undefined);
    }
    if (this.#processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drained.push(resolve));
  }

  #enqueue(key: string): void {
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      waiter(this.#handOut(key));
      return;
    }
    this.#order.push(key);
    this.#observer.depth(this.#order.length);
  }

  #handOut(key: string): string {
    const now = this.#clock.now();
    const addedAt = this.#dirty.get(key) ?? now;
    this.#dirty.delete(key);
    this.#processing.set(key, now);
    this.#observer.depth(this.#order.length);
    this.#observer.queued((now - addedAt) / 1000);
    return key;
  }

  #resolveDrained(): void {
    const drained = this.#drained;
    this.#drained = [];
    for (const resolve of drained) resolve();
  }
}
