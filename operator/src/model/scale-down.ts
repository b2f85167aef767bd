/**
 * How many worker pods the StatefulSet keeps while a scale-down drains (pure). The pods that go are the
 * highest ordinals; the app's coordinator moves their partitions to the others as soon as
 * `spec.workers.replicas` drops. Until the observed assignment gives them none and every moved partition
 * is claimed by its new owner, the StatefulSet keeps its current size, so no pod stops while it still
 * serves a partition nobody else has taken. Everything read here outlives the operator (the StatefulSet,
 * and ZooKeeper through the coordinator's observation), so a drain cut short by a SIGKILL finishes under
 * the next leader. Without coordination (off, or ZooKeeper unreachable) nothing can be drained from here
 * and the StatefulSet shrinks at once; its workers still hand their partitions back on SIGTERM.
 */
import type { DistributedApp } from '../api/schema.ts';
import { workerOrdinal } from './names.ts';
import type { PartitionInput } from './status-partitions.ts';

/** A drain in progress: the workers still to give up partitions (the StatefulSet keeps its size). */
export interface WorkerDrain {
  readonly draining: readonly string[];
}

/** The worker count to apply: `spec.workers.replicas`, or more while a scale-down drains. */
export function workerReplicas(
  app: DistributedApp,
  current: number | undefined,
  partitions: PartitionInput,
): { replicas: number; drain?: WorkerDrain } {
  const target = app.spec.workers.replicas;
  if (current === undefined || current <= target) return { replicas: target };
  if (partitions.state === 'off' || partitions.state === 'unreachable') return { replicas: target };
  const name = app.metadata.name ?? '';
  const draining =
    partitions.state === 'pending'
      ? []
      : Object.entries(partitions.ownership.byWorker)
          .filter(([worker, count]) => count > 0 && (workerOrdinal(name, worker) ?? -1) >= target)
          .map(([worker]) => worker)
          .sort();
  const settled = partitions.state === 'observed' && partitions.ownership.claiming === 0;
  if (settled && draining.length === 0) return { replicas: target };
  return { replicas: current, drain: { draining } };
}
