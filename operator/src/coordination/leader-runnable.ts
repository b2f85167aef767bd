/**
 * Runs the coordinators while this replica leads: a leader-only `Runnable` of the manager. When it starts
 * (leadership gained, caches synced) it syncs the {@link Coordinators} from the DistributedApp cache at
 * once and then every `syncIntervalMs`; when its signal aborts (leadership lost, shutdown) it closes every
 * coordinator and its ZooKeeper session before it resolves. A new leader starts from what ZooKeeper holds.
 */
import { systemTimers } from '../../../common/src/timers.ts';
import type { V1Node, V1Pod, V1Secret } from '@kubernetes/client-node';
import type { DistributedApp } from '../api/schema.ts';
import { deletePodFunc } from '../controller/delete-pod.ts';
import { credentialsOf } from '../controller/generated-secrets.ts';
import { appNames } from '../model/names.ts';
import { EventRecorder } from '../controller/events.ts';
import type { PodHistory } from '../remediation/pod-history.ts';
import { RemediationMetrics } from '../remediation/remediation-metrics.ts';
import { WorkerRemediation } from '../remediation/worker-remediation.ts';
import {
  runnableFunc,
  systemClock,
  type Logger,
  type Manager,
  type Runnable,
  type Store,
} from '../runtime/index.ts';
import { CoordinationMetrics } from './coordination-metrics.ts';
import type { CoordinatorActivity } from './coordinator-activity.ts';
import type { CredentialSource } from './coordinator-spec.ts';
import type { ZooKeeperTunnel } from './zookeeper-tunnel.ts';
import { Coordinators, type CoordinationSink, type CoordinatorsOptions } from './coordinators.ts';
import type { PartitionObservations } from './partition-observations.ts';

/** Options of {@link coordinationRunnable}. */
export interface CoordinationRunnableOptions extends CoordinatorsOptions {
  /** How often the set is synced from the cache; default 2 000 ms. */
  readonly syncIntervalMs?: number;
  /** Worker-pod changes, each of which runs its app's remediation at once; default: only on each sync. */
  readonly podHistory?: PodHistory;
}

function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** See the module comment. A sync that throws is logged (once per distinct error) and tried again next time. */
export function coordinationRunnable(options: CoordinationRunnableOptions): Runnable {
  const timers = options.timers ?? systemTimers;
  const interval = options.syncIntervalMs ?? 2_000;
  const log = options.logger;
  return runnableFunc(async (signal) => {
    if (signal.aborted) return;
    const coordinators = new Coordinators(options);
    let timer: unknown;
    let lastError: string | undefined;
    const tick = (): void => {
      try {
        coordinators.sync();
        lastError = undefined;
      } catch (error: unknown) {
        const message = error instanceof Error ? error.message : String(error);
        if (message !== lastError) log.error({ err: error }, 'syncing the coordinators failed');
        lastError = message;
      }
      timer = timers.setTimeout(tick, interval);
    };
    log.info({ syncIntervalMs: interval }, 'coordination started');
    tick();
    const unsubscribe = options.podHistory?.subscribe((ref) => coordinators.remediate(ref));
    await untilAborted(signal);
    unsubscribe?.();
    timers.clearTimeout(timer);
    const count = coordinators.specs().length;
    await coordinators.close();
    log.info({ coordinators: count }, 'coordination stopped; every ZooKeeper session closed');
  });
}

/** Options of {@link addCoordination}. */
export interface AddCoordinationOptions {
  /** The DistributedApp cache (`caches.apps` of the controller). */
  readonly apps: Store<DistributedApp>;
  /**
   * The Secret cache (`caches.secrets` of the controller), where each app's ZooKeeper credentials are; an app
   * gets its coordinator once they exist. Default: none, every ZooKeeper node open (tests of rebalancing alone).
   */
  readonly secrets?: Store<V1Secret>;
  /** This operator instance, named in the events it records. */
  readonly identity: string;
  readonly logger: Logger;
  readonly clusterDomain?: string;
  /** Where the coordinators publish what they observe (the controller's store); default: nowhere. */
  readonly observations?: PartitionObservations;
  /** Where the coordinators report which apps they run for (the controller's finalizer asks); default: nowhere. */
  readonly activity?: CoordinatorActivity;
  /**
   * The pod cache and its history (the controller's pod informer); with both, workers Kubernetes proves
   * dead or crash-looping are acted on, and in-cluster ensembles are dialled only while a quorum of their
   * members is Ready. Default: session expiry only, and always dial.
   */
  readonly pods?: { readonly store: Store<V1Pod>; readonly history: PodHistory };
  /** How in-cluster ensembles are reached from outside the cluster; default: directly by DNS name. */
  readonly tunnel?: ZooKeeperTunnel;
  /** Where partition maps and rebalances go for the dashboard; default: nowhere. */
  readonly sink?: CoordinationSink;
}

/**
 * Adds the coordinators to `manager` as a leader runnable, with their metrics on the manager's registry,
 * `Rebalanced` events recorded through the manager's API client and observations published into
 * `options.observations`.
 */
export function addCoordination(manager: Manager, options: AddCoordinationOptions): void {
  const logger = options.logger.child({ component: 'coordination' });
  const events = new EventRecorder({ kubeConfig: manager.kubeConfig, instance: options.identity, logger });
  const pods = options.pods === undefined ? {} : podOptions(manager, options.pods, events, logger);
  manager.addLeaderRunnable(
    coordinationRunnable({
      apps: options.apps,
      metrics: new CoordinationMetrics(manager.metrics.registry),
      events,
      logger,
      ...(options.secrets === undefined ? {} : { credentials: credentialSource(options.secrets) }),
      ...pods,
      ...(options.clusterDomain === undefined ? {} : { observed: { clusterDomain: options.clusterDomain } }),
      ...(options.observations === undefined ? {} : { observations: options.observations }),
      ...(options.activity === undefined ? {} : { activity: options.activity }),
      ...(options.tunnel === undefined ? {} : { tunnel: options.tunnel }),
      ...(options.sink === undefined ? {} : { sink: options.sink }),
    }),
  );
}

/**
 * What the coordinators get from the pod cache: the ensembles' readiness, and the remediation of workers
 * (with the nodes, for workers on failed nodes: only the name, taints and Ready condition are kept).
 */
function podOptions(
  manager: Manager,
  pods: { readonly store: Store<V1Pod>; readonly history: PodHistory },
  events: EventRecorder,
  logger: Logger,
): Pick<CoordinationRunnableOptions, 'pods' | 'podHistory' | 'remediation'> {
  const nodes = manager.informer<V1Node>({
    resource: { group: '', version: 'v1', plural: 'nodes' },
    transform: nodeView,
  }).store;
  const remediation = new WorkerRemediation({
    pods: pods.store,
    history: pods.history,
    metrics: new RemediationMetrics(manager.metrics.registry),
    deletePod: deletePodFunc(manager.kubeConfig),
    nodes,
    events,
    logger: logger.child({ step: 'remediation' }),
    clock: systemClock,
  });
  return { pods: pods.store, podHistory: pods.history, remediation };
}

/** Decoded once per cached Secret object (every sync asks for every app's). */
function credentialSource(secrets: Store<V1Secret>): CredentialSource {
  const decoded = new WeakMap<V1Secret, ReturnType<CredentialSource>>();
  return (ref) => {
    const secret = secrets.get(ref.namespace, appNames(ref.app).zookeeperAuth);
    if (secret === undefined) return undefined;
    if (!decoded.has(secret)) decoded.set(secret, credentialsOf(secret));
    return decoded.get(secret);
  };
}

function nodeView(node: V1Node): V1Node {
  const ready = node.status?.conditions?.filter((c) => c.type === 'Ready') ?? [];
  return {
    metadata: { name: node.metadata?.name ?? '', resourceVersion: node.metadata?.resourceVersion ?? '' },
    spec: { taints: node.spec?.taints ?? [] },
    status: { conditions: ready.map((c) => ({ type: c.type, status: c.status })) },
  };
}
