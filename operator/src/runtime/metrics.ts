/**
 * Prometheus metrics under controller-runtime's names, so its dashboards work unchanged. Every
 * collector is registered on the `Registry` passed in; nothing touches prom-client's global registry.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { QueueObserver } from './queue.ts';

/** How a reconcile ended, as the `result` label of `controller_runtime_reconcile_total`. */
export type ReconcileOutcome = 'success' | 'error' | 'requeue' | 'requeue_after';

/** The metrics of one controller. */
export interface ControllerMetrics {
  /** Hooks for the controller's work queue (`workqueue_*`). */
  readonly queue: QueueObserver;
  /** Records one finished reconcile and how long it took. */
  reconciled(outcome: ReconcileOutcome, seconds: number): void;
  /** Counts a reconcile error; `terminal` errors are also counted separately. */
  reconcileError(terminal: boolean): void;
  /** Sets the number of workers currently reconciling. */
  activeWorkers(count: number): void;
}

/** Records API requests in `rest_client_requests_total{code,method}`. */
export interface RestRequestObserver {
  /** `code` is the HTTP status as a string, or `<error>` when no response arrived. */
  request(method: string, code: string): void;
}

// controller-runtime's buckets for reconcile time and client-go's for work queue latencies.
const reconcileBuckets = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5,
  1.75, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];
const queueBuckets = Array.from({ length: 12 }, (_, i) => 1e-8 * 10 ** i);
const writeMethods: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * All runtime metrics, registered once per registry (a second instance on the same registry throws,
 * as prom-client refuses duplicate names).
 */
export class RuntimeMetrics implements RestRequestObserver {
  readonly registry: Registry;
  readonly #reconcileTotal: Counter<'controller' | 'result'>;
  readonly #reconcileErrors: Counter<'controller'>;
  readonly #terminalErrors: Counter<'controller'>;
  readonly #reconcileTime: Histogram<'controller'>;
  readonly #activeWorkers: Gauge<'controller'>;
  readonly #maxConcurrent: Gauge<'controller'>;
  readonly #depth: Gauge<'name' | 'controller'>;
  readonly #adds: Counter<'name' | 'controller'>;
  readonly #queueDuration: Histogram<'name' | 'controller'>;
  readonly #workDuration: Histogram<'name' | 'controller'>;
  readonly #retries: Counter<'name' | 'controller'>;
  readonly #restRequests: Counter<'code' | 'method'>;
  readonly #leader: Gauge<'name'>;
  readonly #leaseWrites: Counter<'name'>;
  // Running totals behind `nonLeaseWriteCount()`, changed in the same synchronous steps as the two
  // counters: prom-client reads a counter asynchronously, so two reads can straddle a request.
  #writeRequests = 0;
  #leaseWriteRequests = 0;

  constructor(registry: Registry) {
    this.registry = registry;
    const registers = [registry];
    const c = <L extends string>(name: string, help: string, labelNames: L[]) =>
      new Counter<L>({ name, help, labelNames, registers });
    const g = <L extends string>(name: string, help: string, labelNames: L[]) =>
      new Gauge<L>({ name, help, labelNames, registers });
    const h = <L extends string>(name: string, help: string, labelNames: L[], buckets: number[]) =>
      new Histogram<L>({ name, help, labelNames, buckets, registers });
    const q = ['name', 'controller'] as ('name' | 'controller')[];
    this.#reconcileTotal = c(
      'controller_runtime_reconcile_total',
      'Total number of reconciliations per controller',
      ['controller', 'result'],
    );
    this.#reconcileErrors = c(
      'controller_runtime_reconcile_errors_total',
      'Total number of reconciliation errors per controller',
      ['controller'],
    );
    this.#terminalErrors = c(
      'controller_runtime_terminal_reconcile_errors_total',
      'Total number of terminal reconciliation errors per controller',
      ['controller'],
    );
    this.#reconcileTime = h(
      'controller_runtime_reconcile_time_seconds',
      'Length of time per reconciliation per controller',
      ['controller'],
      reconcileBuckets,
    );
    this.#activeWorkers = g(
      'controller_runtime_active_workers',
      'Number of currently used workers per controller',
      ['controller'],
    );
    this.#maxConcurrent = g(
      'controller_runtime_max_concurrent_reconciles',
      'Maximum number of concurrent reconciles per controller',
      ['controller'],
    );
    this.#depth = g('workqueue_depth', 'Current depth of workqueue', q);
    this.#adds = c('workqueue_adds_total', 'Total number of adds handled by workqueue', q);
    this.#queueDuration = h(
      'workqueue_queue_duration_seconds',
      'How long in seconds an item stays in workqueue before being requested',
      q,
      queueBuckets,
    );
    this.#workDuration = h(
      'workqueue_work_duration_seconds',
      'How long in seconds processing an item from workqueue takes',
      q,
      queueBuckets,
    );
    this.#retries = c('workqueue_retries_total', 'Total number of retries handled by workqueue', q);
    this.#restRequests = c(
      'rest_client_requests_total',
      'Number of HTTP requests, partitioned by status code and method',
      ['code', 'method'],
    );
    this.#leaseWrites = c(
      'leader_election_lease_writes_total',
      'Writes (create/update) of the leader election Lease; part of rest_client_requests_total',
      ['name'],
    );
    this.#leader = g(
      'leader_election_master_status',
      'Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master',
      ['name'],
    );
  }

  /** The metrics of the controller named `name`, which runs at most `maxConcurrent` reconciles. */
  controller(name: string, maxConcurrent: number): ControllerMetrics {
    this.#maxConcurrent.set({ controller: name }, maxConcurrent);
    this.#activeWorkers.set({ controller: name }, 0);
    this.#reconcileErrors.inc({ controller: name }, 0);
    this.#terminalErrors.inc({ controller: name }, 0);
    const ql = { name, controller: name };
    this.#depth.set(ql, 0);
    this.#adds.inc(ql, 0);
    this.#retries.inc(ql, 0);
    return {
      queue: {
        added: () => this.#adds.inc(ql),
        depth: (d) => this.#depth.set(ql, d),
        queued: (s) => this.#queueDuration.observe(ql, s),
        worked: (s) => this.#workDuration.observe(ql, s),
        retried: () => this.#retries.inc(ql),
      },
      reconciled: (outcome, seconds) => {
        this.#reconcileTotal.inc({ controller: name, result: outcome });
        this.#reconcileTime.observe({ controller: name }, seconds);
      },
      reconcileError: (terminal) => {
        this.#reconcileErrors.inc({ controller: name });
        if (terminal) this.#terminalErrors.inc({ controller: name });
      },
      activeWorkers: (count) => this.#activeWorkers.set({ controller: name }, count),
    };
  }

  request(method: string, code: string): void {
    const m = method.toUpperCase();
    this.#restRequests.inc({ method: m, code });
    if (writeMethods.has(m)) this.#writeRequests++;
  }

  /** Sets `leader_election_master_status{name}` to 1 while leading, else 0. */
  leading(leaseName: string, isLeader: boolean): void {
    this.#leader.set({ name: leaseName }, isLeader ? 1 : 0);
  }

  /**
   * The observer for a leader elector's requests on the Lease `leaseName` (give it a kubeconfig of its
   * own): each request is counted in `rest_client_requests_total` once it got its response (or none),
   * and a write (create/update) in `leader_election_lease_writes_total` in the same step, so no reading
   * of the two sees a Lease write in one and not in the other.
   */
  leaseObserver(leaseName: string): RestRequestObserver {
    return {
      request: (method, code) => {
        this.request(method, code);
        if (!writeMethods.has(method.toUpperCase())) return;
        this.#leaseWrites.inc({ name: leaseName });
        this.#leaseWriteRequests++;
      },
    };
  }

  /** Lease writes counted by `leaseObserver`, over all leases. */
  async leaseWriteCount(): Promise<number> {
    return (await this.#leaseWrites.get()).values.reduce((sum, v) => sum + v.value, 0);
  }

  /**
   * Write requests (POST, PUT, PATCH, DELETE) in `rest_client_requests_total` that were not Lease
   * writes, both totals taken at one instant.
   */
  nonLeaseWriteCount(): number {
    return this.#writeRequests - this.#leaseWriteRequests;
  }

  /** The current value of `rest_client_requests_total`, summed over codes, for the given methods. */
  async restRequestCount(methods?: readonly string[]): Promise<number> {
    const values = (await this.#restRequests.get()).values;
    const wanted = methods?.map((m) => m.toUpperCase());
    return values
      .filter((v) => wanted === undefined || wanted.includes(String(v.labels.method)))
      .reduce((sum, v) => sum + v.value, 0);
  }
}
