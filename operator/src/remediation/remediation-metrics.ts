/**
 * The remediations' Prometheus metrics, on the registry passed in (the manager's):
 * - `capstan_remediations_total{action}`: actions taken on proof from Kubernetes, by {@link REMEDIATION_ACTIONS};
 * - `capstan_failover_seconds`: from a worker's death being observed until none of the assignment's
 *   partitions is assigned to it and every moved one is claimed by its new owner.
 * No app labels (bounded series). A second instance on the same registry throws.
 */
import { Counter, Histogram, type Registry } from 'prom-client';

/** The `action` label values. */
export const REMEDIATION_ACTIONS = [
  'stale-session-removed',
  'crashloop-notice-written',
  'crashloop-pod-deleted',
  'failed-node-partitions-moved',
  'pod-force-deleted',
] as const;
export type RemediationAction = (typeof REMEDIATION_ACTIONS)[number];

/** See the module comment. */
export class RemediationMetrics {
  readonly #actions: Counter<'action'>;
  readonly #failover: Histogram;

  constructor(registry: Registry) {
    const registers = [registry];
    this.#actions = new Counter({
      name: 'capstan_remediations_total',
      help: 'Actions the operator took on a worker Kubernetes proved dead or crash-looping, by action',
      labelNames: ['action'],
      registers,
    });
    for (const action of REMEDIATION_ACTIONS) this.#actions.inc({ action }, 0);
    this.#failover = new Histogram({
      name: 'capstan_failover_seconds',
      help: "Time from observing a worker's death until all its partitions are claimed by new owners",
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
      registers,
    });
  }

  remediated(action: RemediationAction): void {
    this.#actions.inc({ action });
  }

  failedOver(durationMs: number): void {
    this.#failover.observe(durationMs / 1000);
  }
}
