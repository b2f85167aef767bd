import type { V1Pod } from '@kubernetes/client-node';
import {
  periodicResync,
  requestForObject,
  type Controller,
  type EventHandler,
  type Logger,
  type Manager,
} from '../runtime/index.ts';
import type { CoordinatorActivitySource } from '../coordination/coordinator-activity.ts';
import type { PartitionObservationSource } from '../coordination/partition-observations.ts';
import type { OperatorPeer } from '../model/observed.ts';
import { registerAppMetrics } from './app-metrics.ts';
import { DistributedAppReconciler } from './distributed-app-reconciler.ts';
import { EventRecorder } from './events.ts';
import { StatusWriter } from './status-writer.ts';
import { watchDistributedApps, type AppCaches } from './watches.ts';
import type { ZooKeeperModeProbe } from './zookeeper-roll.ts';

/** Options of `addDistributedAppController`. */
export interface DistributedAppControllerOptions {
  /** Namespaces to watch; empty: all. */
  readonly namespaces: readonly string[];
  /** Default 1. */
  readonly maxConcurrentReconciles?: number;
  /** This operator instance, named in the events it records. */
  readonly identity: string;
  readonly logger: Logger;
  readonly clusterDomain?: string;
  readonly operatorPeer?: OperatorPeer;
  /**
   * Every app is queued again this often while this replica leads, even without an event (like
   * controller-runtime's SyncPeriod); a converged app makes no write on such a visit. Default: never.
   */
  readonly syncPeriodMs?: number;
  /**
   * What the partition coordinators observe; each change of an app's entry queues the app. Absent: this
   * operator does not coordinate and the status says so.
   */
  readonly partitions?: PartitionObservationSource;
  /** Also hears every pod event of the pod cache (the worker-pod history of the coordinators). */
  readonly podHandler?: EventHandler<V1Pod>;
  /** How ZooKeeper members are asked their role during a roll; default none (rolls by ordinal). */
  readonly modeProbe?: ZooKeeperModeProbe;
  /**
   * Which apps this operator's coordinators run for; with it, apps with an external ZooKeeper carry the
   * finalizer that removes their paths there. Absent (an operator that does not coordinate): no finalizer.
   */
  readonly coordinators?: CoordinatorActivitySource;
}

/** The controller and the caches it reads. */
export interface DistributedAppController {
  readonly controller: Controller;
  readonly caches: AppCaches;
}

/**
 * Adds the DistributedApp controller to `manager`: its informers (started with the manager), a
 * controller whose workers run while the manager leads, and the apps' status gauges (`capstan_app_*`) on
 * the manager's registry.
 */
export function addDistributedAppController(
  manager: Manager,
  options: DistributedAppControllerOptions,
): DistributedAppController {
  const slot: { reconciler?: DistributedAppReconciler } = {};
  const controller = manager.controller({
    name: 'distributedapp',
    maxConcurrentReconciles: options.maxConcurrentReconciles,
    reconciler: {
      reconcile: (request, context) => {
        if (slot.reconciler === undefined) throw new Error('reconciler used before its caches exist');
        return slot.reconciler.reconcile(request, context);
      },
    },
  });
  const caches = watchDistributedApps(manager, controller, options.namespaces, options.podHandler);
  registerAppMetrics(manager.metrics.registry, caches.apps);
  const kubeConfig = manager.kubeConfig;
  slot.reconciler = new DistributedAppReconciler({
    kubeConfig,
    caches,
    status: new StatusWriter(kubeConfig),
    events: new EventRecorder({ kubeConfig, instance: options.identity, logger: options.logger }),
    logger: options.logger.child({ controller: 'distributedapp' }),
    ...(options.clusterDomain === undefined ? {} : { clusterDomain: options.clusterDomain }),
    ...(options.operatorPeer === undefined ? {} : { operatorPeer: options.operatorPeer }),
    ...(options.partitions === undefined ? {} : { partitions: options.partitions }),
    ...(options.modeProbe === undefined ? {} : { modeProbe: options.modeProbe }),
    ...(options.coordinators === undefined ? {} : { coordinators: options.coordinators }),
  });
  options.partitions?.subscribe((ref) => controller.enqueue({ namespace: ref.namespace, name: ref.app }));
  if ((options.syncPeriodMs ?? 0) > 0) {
    manager.addLeaderRunnable(
      periodicResync({
        periodMs: options.syncPeriodMs ?? 0,
        list: () => caches.apps.list().flatMap(requestForObject),
        enqueue: controller.enqueue,
      }),
    );
  }
  return { controller, caches };
}
