/**
 * The manager wires the runtime together (like controller-runtime's manager):
 * - informers start at once, so a standby replica keeps warm caches;
 * - once every informer has synced and this replica leads, controllers and leader-only runnables start;
 * - `stop()` (and SIGTERM/SIGINT via `handleSignals`) stops taking work, waits for reconciles in flight,
 *   releases the Lease so a standby takes over at once, stops informers and the health server
 *   (and the process metrics' event-loop delay sampling, which `start()` begins);
 * - losing leadership stops everything and makes `done()` reject with `ManagerError`
 *   `ERR_LEADERSHIP_LOST` (the process should exit non-zero so it restarts as a candidate).
 */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { Controller, type ControllerOptions } from './controller.ts';
import { HealthChecks, buildHealthServer } from './health.ts';
import { Informer, type InformerOptions } from './informer.ts';
import { LeaderElector, type LeaderElectionOptions } from './leader-election.ts';
import { silentLogger, type Logger } from './logger.ts';
import { RuntimeMetrics } from './metrics.ts';
import { ProcessMetrics } from './process-metrics.ts';
import { InstrumentedKubeConfig } from './rest-client.ts';

/** Work that runs while the manager runs (and, for leader-only runnables, while it leads). */
export interface Runnable {
  /** Runs until `signal` aborts; should resolve soon after. */
  start(signal: AbortSignal): Promise<void>;
}

/** Adapts a function to `Runnable`. */
export function runnableFunc(fn: (signal: AbortSignal) => Promise<void>): Runnable {
  return { start: fn } satisfies Runnable;
}

/** Manager failures, with a stable `code`. */
export class ManagerError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ManagerError';
    this.code = code;
  }
}

/** Leader election settings: the Lease and timings of `LeaderElectionOptions` (which gives the defaults). */
export type ManagerLeaderElection = Pick<
  LeaderElectionOptions,
  'namespace' | 'name' | 'identity' | 'leaseDurationMs' | 'renewDeadlineMs' | 'retryPeriodMs'
>;

/** Options of `Manager`. */
export interface ManagerOptions {
  readonly kubeConfig: KubeConfig;
  /** Receives every runtime metric and the process metrics (`process-metrics.ts`); also served at `/metrics`. */
  readonly registry: Registry;
  /** Omit to lead unconditionally (single replica, tests). */
  readonly leaderElection?: ManagerLeaderElection;
  /** Serve `/healthz`, `/readyz`, `/metrics` here. Omit for no server. */
  readonly health?: { readonly host?: string; readonly port: number };
  readonly logger?: Logger;
}

/** See the module comment. */
export class Manager {
  /** A copy of the given config whose API clients are counted in `rest_client_requests_total`. */
  readonly kubeConfig: InstrumentedKubeConfig;
  readonly metrics: RuntimeMetrics;
  readonly health = new HealthChecks();
  /** CPU, memory, file descriptors, heap and event-loop delay of this process. */
  readonly #process: ProcessMetrics;
  readonly #options: ManagerOptions;
  readonly #log: Logger;
  readonly #informers: Informer<KubernetesObject>[] = [];
  readonly #controllers: Controller[] = [];
  readonly #leaderRunnables: Runnable[] = [];
  readonly #running: Promise<void>[] = [];
  readonly #abort = new AbortController();
  #elector: LeaderElector | undefined;
  /** The elector's own client, whose requests count as Lease writes when they write. */
  #leaseKubeConfig: InstrumentedKubeConfig | undefined;
  #server: FastifyInstance | undefined;
  #leading = false;
  #stopping: Promise<void> | undefined;
  #settle: { resolve: () => void; reject: (e: Error) => void } | undefined;
  readonly #done: Promise<void>;

  constructor(options: ManagerOptions) {
    this.#options = options;
    this.#log = options.logger ?? silentLogger();
    this.metrics = new RuntimeMetrics(options.registry);
    this.#process = new ProcessMetrics(options.registry);
    this.kubeConfig = new InstrumentedKubeConfig(options.kubeConfig, this.metrics);
    this.#done = new Promise((resolve, reject) => (this.#settle = { resolve, reject }));
    this.#done.catch(() => undefined);
    this.health.addHealthz('ping', () => true);
    this.health.addReadyz('informers-synced', () => this.#informers.every((i) => i.hasSynced()));
  }

  /** Creates an informer that starts with the manager; its requests are counted. */
  informer<T extends KubernetesObject>(options: Omit<InformerOptions<T>, 'logger'>): Informer<T> {
    const informer = new Informer<T>(this.kubeConfig, { logger: this.#log, ...options });
    this.#informers.push(informer as unknown as Informer<KubernetesObject>);
    return informer;
  }

  /** Creates a controller whose workers start once this replica leads and caches have synced. */
  controller(options: Omit<ControllerOptions, 'metrics'>): Controller {
    const controller = new Controller({ logger: this.#log, ...options, metrics: this.metrics });
    this.#controllers.push(controller);
    return controller;
  }

  /** Adds work that runs only while this replica leads. */
  addLeaderRunnable(runnable: Runnable): void {
    this.#leaderRunnables.push(runnable);
  }

  /** True while controllers run (this replica leads). */
  isLeading(): boolean {
    return this.#leading;
  }

  /** The Lease holder this replica last saw ('' when none); undefined without leader election. */
  observedLeader(): string | undefined {
    return this.#elector?.observedLeader();
  }

  /** Starts the health server, informers and the campaign. Resolves once they are started. */
  async start(): Promise<void> {
    if (this.#options.health !== undefined) {
      this.#server = buildHealthServer({ checks: this.health, registry: this.#options.registry });
      await this.#server.listen({
        host: this.#options.health.host ?? '0.0.0.0',
        port: this.#options.health.port,
      });
    }
    this.#process.start();
    for (const informer of this.#informers) informer.start();
    const election = this.#options.leaderElection;
    if (election === undefined) {
      void this.#lead(this.#abort.signal);
      return;
    }
    this.#leaseKubeConfig = new InstrumentedKubeConfig(
      this.#options.kubeConfig,
      this.metrics.leaseObserver(election.name),
    );
    this.#elector = new LeaderElector({
      ...election,
      kubeConfig: this.#leaseKubeConfig,
      logger: this.#log,
      onStartedLeading: (signal) => void this.#lead(signal),
      onStoppedLeading: () => this.#leadershipEnded(),
    });
    this.metrics.leading(election.name, false);
    this.#elector.start();
  }

  /** The address the health server listens on, if any. */
  healthAddress(): string | undefined {
    const address = this.#server?.server.address();
    if (address === undefined || address === null || typeof address === 'string') return address ?? undefined;
    return `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  }

  /** Resolves when the manager stopped; rejects with `ERR_LEADERSHIP_LOST` if leadership was lost. */
  done(): Promise<void> {
    return this.#done;
  }

  async #lead(signal: AbortSignal): Promise<void> {
    await Promise.all(this.#informers.map((i) => i.waitForSync()));
    if (signal.aborted || this.#stopping !== undefined) return;
    this.#leading = true;
    if (this.#options.leaderElection) this.metrics.leading(this.#options.leaderElection.name, true);
    this.#log.info({ controllers: this.#controllers.length }, 'caches synced; starting controllers');
    for (const controller of this.#controllers) controller.start();
    for (const runnable of this.#leaderRunnables)
      this.#running.push(this.#runSafely(runnable, this.#abort.signal));
  }

  async #runSafely(runnable: Runnable, signal: AbortSignal): Promise<void> {
    try {
      await runnable.start(signal);
    } catch (error: unknown) {
      this.#log.error({ err: error }, 'runnable failed');
    }
  }

  #leadershipEnded(): void {
    if (this.#stopping !== undefined) return;
    this.#log.error('leadership lost; stopping');
    void this.stop().then(() =>
      this.#settle?.reject(new ManagerError('ERR_LEADERSHIP_LOST', 'leader election lost')),
    );
  }

  /**
   * Graceful shutdown: stop taking work, finish reconciles in flight, release the Lease, stop
   * informers and the server. Idempotent; resolves when everything stopped.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#shutdown();
    return this.#stopping;
  }

  async #shutdown(): Promise<void> {
    this.#log.info('shutting down');
    this.#abort.abort();
    // First, so that no failure further down leaves the event-loop delay timer running.
    this.#process.stop();
    await Promise.all(this.#controllers.map((c) => c.stop()));
    await Promise.all(this.#running);
    this.#leading = false;
    if (this.#elector !== undefined) {
      await this.#elector.stop({ release: true });
      this.metrics.leading(this.#options.leaderElection?.name ?? '', false);
    }
    await Promise.all(this.#informers.map((i) => i.stop()));
    await this.#server?.close();
    await this.kubeConfig.close();
    await this.#leaseKubeConfig?.close();
    this.#log.info('stopped');
    this.#settle?.resolve();
  }

  /**
   * On SIGTERM or SIGINT: graceful `stop()`, then `exit(0)` (or `exit(1)` if stopping failed).
   * Returns a function that removes the handlers.
   */
  handleSignals(
    target: Pick<NodeJS.Process, 'once' | 'off'> = process,
    exit: (code: number) => void = (code) => process.exit(code),
  ): () => void {
    const onSignal = (signal: string): void => {
      this.#log.info({ signal }, 'signal received');
      this.stop().then(
        () => exit(0),
        (error: unknown) => {
          this.#log.error({ err: error }, 'shutdown failed');
          exit(1);
        },
      );
    };
    target.once('SIGTERM', onSignal);
    target.once('SIGINT', onSignal);
    return () => {
      target.off('SIGTERM', onSignal);
      target.off('SIGINT', onSignal);
    };
  }
}
