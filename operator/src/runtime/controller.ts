/**
 * A controller: a keyed work queue, a bounded pool of workers and one `Reconciler`. It owns retries
 * (per-key exponential backoff), requeue-after, exception recovery and metrics; the reconciler only
 * says what happened.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { systemClock, type Clock } from './clock.ts';
import { enqueueHandler, type EnqueueHandlerOptions } from './handler.ts';
import type { EventHandler } from './informer.ts';
import { silentLogger, type Logger } from './logger.ts';
import type { ControllerMetrics, ReconcileOutcome, RuntimeMetrics } from './metrics.ts';
import { WorkQueue, type RateLimiter } from './queue.ts';
import {
  TerminalError,
  parseRequestKey,
  requestKey,
  type Reconciler,
  type Request,
  type Result,
} from './reconciler.ts';

/** Options of `Controller`. */
export interface ControllerOptions {
  /** Names the controller in metrics and logs. */
  readonly name: string;
  readonly reconciler: Reconciler;
  /** Reconciles running at once, across different keys. Default 1. */
  readonly maxConcurrentReconciles?: number;
  /** Retry backoff. Default 5 ms doubling to 1000 s. */
  readonly rateLimiter?: RateLimiter;
  /** Default: no metrics. */
  readonly metrics?: RuntimeMetrics;
  readonly logger?: Logger;
  readonly clock?: Clock;
}

const noMetrics: ControllerMetrics = {
  queue: {
    added: () => undefined,
    depth: () => undefined,
    queued: () => undefined,
    worked: () => undefined,
    retried: () => undefined,
  },
  reconciled: () => undefined,
  reconcileError: () => undefined,
  activeWorkers: () => undefined,
};

/** See the module comment. `start()` runs the workers; `stop()` drains them. */
export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  readonly #reconciler: Reconciler;
  readonly #concurrency: number;
  readonly #metrics: ControllerMetrics;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #abort = new AbortController();
  #workers: Promise<void>[] = [];
  #active = 0;

  constructor(options: ControllerOptions) {
    this.name = options.name;
    this.#reconciler = options.reconciler;
    this.#concurrency = Math.max(1, options.maxConcurrentReconciles ?? 1);
    this.#clock = options.clock ?? systemClock;
    this.#metrics = options.metrics?.controller(options.name, this.#concurrency) ?? noMetrics;
    this.#log = (options.logger ?? silentLogger()).child({ controller: options.name });
    this.queue = new WorkQueue({
      clock: this.#clock,
      rateLimiter: options.rateLimiter,
      observer: this.#metrics.queue,
    });
  }

  /** Queues a reconcile of `request` (deduplicated). */
  enqueue = (request: Request): void => {
    this.queue.add(requestKey(request));
  };

  /** Queues a reconcile of `request` after `delayMs`. */
  enqueueAfter(request: Request, delayMs: number): void {
    this.queue.addAfter(requestKey(request), delayMs);
  }

  /** An informer handler that enqueues this controller's requests for the objects it sees. */
  handler<T extends KubernetesObject>(options?: EnqueueHandlerOptions<T>): EventHandler<T> {
    return enqueueHandler(this.enqueue, options);
  }

  /** Reconciles currently running. */
  activeReconciles(): number {
    return this.#active;
  }

  /** Starts the workers. Calling it twice does nothing. */
  start(): void {
    if (this.#workers.length > 0) return;
    for (let i = 0; i < this.#concurrency; i++) this.#workers.push(this.#work());
    this.#log.info({ workers: this.#concurrency }, 'controller started');
  }

  /**
   * Stops taking work and resolves once every reconcile in flight has finished. With `abort: true`,
   * in-flight reconciles see their context signal aborted.
   */
  async stop(options: { abort?: boolean } = {}): Promise<void> {
    if (options.abort === true) this.#abort.abort();
    await this.queue.shutdown();
    await Promise.all(this.#workers);
    this.#log.info('controller stopped');
  }

  async #work(): Promise<void> {
    for (let key = await this.queue.get(); key !== undefined; key = await this.queue.get()) {
      await this.#process(key);
    }
  }

  async #process(key: string): Promise<void> {
    const started = this.#clock.now();
    this.#metrics.activeWorkers(++this.#active);
    try {
      const result = await this.#reconcileSafely(parseRequestKey(key));
      this.#metrics.reconciled(this.#handle(key, result), (this.#clock.now() - started) / 1000);
    } finally {
      this.#metrics.activeWorkers(--this.#active);
      this.queue.done(key);
    }
  }

  async #reconcileSafely(request: Request): Promise<Result> {
    try {
      return await this.#reconciler.reconcile(request, { signal: this.#abort.signal });
    } catch (error: unknown) {
      return error instanceof TerminalError ? { kind: 'terminal', error } : { kind: 'error', error };
    }
  }

  #handle(key: string, result: Result): ReconcileOutcome {
    switch (result.kind) {
      case 'done':
        this.queue.forget(key);
        return 'success';
      case 'requeueAfter':
        this.queue.forget(key);
        this.queue.addAfter(key, result.afterMs);
        return result.afterMs > 0 ? 'requeue_after' : 'requeue';
      case 'error':
        this.#metrics.reconcileError(false);
        this.#log.error(
          { key, err: result.error, retries: this.queue.numRequeues(key) },
          'reconcile failed; retrying',
        );
        this.queue.addRateLimited(key);
        return 'error';
      case 'terminal':
        this.#metrics.reconcileError(true);
        this.#log.error({ key, err: result.error }, 'reconcile failed terminally; not retrying');
        this.queue.forget(key);
        return 'error';
    }
  }
}
