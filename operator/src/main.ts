#!/usr/bin/env node
/**
 * `capstan-operator`: runs the DistributedApp controller in-cluster or from a kubeconfig and, while it
 * leads (unless `--coordinate=false`), each app's partition rebalancer. `--help` lists the flags. Exits 0
 * after SIGTERM/SIGINT (the Lease is released so a standby takes over at once), 1 when leadership is lost
 * or start-up fails, 2 on invalid flags.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { KubeConfig } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { ConfigError, parseConfig, usage, type OperatorConfig } from './config.ts';
import { CoordinatorActivity } from './coordination/coordinator-activity.ts';
import { addCoordination } from './coordination/leader-runnable.ts';
import { PartitionObservations } from './coordination/partition-observations.ts';
import { addDistributedAppController } from './controller/setup.ts';
import { CoordinationLog } from './dashboard/coordination-log.ts';
import { startDashboard } from './dashboard/dashboard.ts';
import type { AppLister } from './dashboard/dashboard-server.ts';
import { PodHistory } from './remediation/pod-history.ts';
import { buildHealthServer, createLogger, Manager, systemClock, type Logger } from './runtime/index.ts';
import { fourLetterModeProbe, type ZooKeeperModeProbe } from './controller/zookeeper-roll.ts';
import { portForwardTunnel, type ZooKeeperTunnel } from './coordination/zookeeper-tunnel.ts';

function kubeConfig(config: OperatorConfig): KubeConfig {
  const kc = new KubeConfig();
  if (config.kubeconfig === undefined) kc.loadFromCluster();
  else kc.loadFromFile(config.kubeconfig);
  return kc;
}

function sameAddress(config: OperatorConfig): boolean {
  const { metricsAddress: m, healthAddress: h } = config;
  return m !== undefined && h !== undefined && m.host === h.host && m.port === h.port;
}

async function serveMetrics(manager: Manager, registry: Registry, config: OperatorConfig): Promise<void> {
  if (config.metricsAddress === undefined || sameAddress(config)) return;
  const server = buildHealthServer({ checks: manager.health, registry });
  await server.listen(config.metricsAddress);
  void manager.done().finally(() => server.close());
}

/** What the controller and the coordinators share, when this operator coordinates. */
function coordinationParts(config: OperatorConfig): {
  observations?: PartitionObservations;
  podHistory?: PodHistory;
  activity?: CoordinatorActivity;
  modeProbe?: ZooKeeperModeProbe;
} {
  if (!config.coordinate) return {};
  return {
    observations: new PartitionObservations(),
    podHistory: new PodHistory(systemClock),
    activity: new CoordinatorActivity(),
    // Asking ZooKeeper members their role is talking to ZooKeeper: only an operator that coordinates
    // does it, and only directly (through a tunnel pod addresses are out of reach: rolls go by ordinal).
    ...(config.zooKeeperAccess === 'direct' ? { modeProbe: fourLetterModeProbe } : {}),
  };
}

/** The tunnel to in-cluster ensembles with `--zookeeper-access=port-forward`. */
function tunnelOf(config: OperatorConfig, manager: Manager, log: Logger): { tunnel?: ZooKeeperTunnel } {
  if (config.zooKeeperAccess !== 'port-forward') return {};
  return { tunnel: portForwardTunnel(manager.kubeConfig, log.child({ component: 'zookeeper-tunnel' })) };
}

/** The dashboard on `--dashboard-bind-address`, stopped with the manager. */
async function serveDashboard(parts: {
  manager: Manager;
  registry: Registry;
  config: OperatorConfig;
  apps: AppLister;
  coordination: CoordinationLog;
  identity: string;
  log: Logger;
}): Promise<void> {
  const { manager, config } = parts;
  if (config.dashboardAddress === undefined) return;
  const dashboard = await startDashboard({
    address: config.dashboardAddress,
    kubeConfig: manager.kubeConfig,
    registry: parts.registry,
    apps: parts.apps,
    coordination: parts.coordination,
    leadership: {
      identity: parts.identity,
      isLeading: () => manager.isLeading(),
      observedLeader: () => manager.observedLeader(),
    },
    logger: parts.log,
  });
  void manager.done().finally(() => dashboard.close());
}

async function run(config: OperatorConfig, log: Logger): Promise<void> {
  const identity = `${hostname()}_${randomBytes(4).toString('hex')}`;
  const registry = new Registry();
  const health = config.healthAddress ?? (sameAddress(config) ? config.metricsAddress : undefined);
  const manager = new Manager({
    kubeConfig: kubeConfig(config),
    registry,
    logger: log,
    ...(health === undefined ? {} : { health }),
    ...(config.leaderElect
      ? {
          leaderElection: {
            namespace: config.leaderElectionNamespace,
            name: config.leaderElectionId,
            identity,
            leaseDurationMs: config.leaseDurationMs,
            renewDeadlineMs: config.renewDeadlineMs,
            retryPeriodMs: config.retryPeriodMs,
          },
        }
      : {}),
  });
  const clusterDomain = config.clusterDomain === undefined ? {} : { clusterDomain: config.clusterDomain };
  const { observations, podHistory, activity, modeProbe } = coordinationParts(config);
  const coordination = new CoordinationLog();
  const { caches } = addDistributedAppController(manager, {
    namespaces: config.namespaces,
    maxConcurrentReconciles: config.maxConcurrentReconciles,
    syncPeriodMs: config.syncPeriodMs,
    identity,
    logger: log,
    ...clusterDomain,
    ...(observations === undefined ? {} : { partitions: observations }),
    ...(podHistory === undefined ? {} : { podHandler: podHistory }),
    coordinators: activity,
    ...(modeProbe === undefined ? {} : { modeProbe }),
  });
  if (observations !== undefined)
    addCoordination(manager, {
      apps: caches.apps,
      secrets: caches.secrets,
      identity,
      logger: log,
      observations,
      activity,
      ...(podHistory === undefined ? {} : { pods: { store: caches.pods, history: podHistory } }),
      ...tunnelOf(config, manager, log),
      ...clusterDomain,
      sink: coordination,
    });
  manager.handleSignals();
  await manager.start();
  await serveMetrics(manager, registry, config);
  await serveDashboard({ manager, registry, config, apps: caches.apps, coordination, identity, log });
  log.info(
    {
      identity,
      namespaces: config.namespaces.length === 0 ? 'all' : config.namespaces,
      health: manager.healthAddress(),
    },
    'capstan-operator started',
  );
  await manager.done();
}

function main(): void {
  let config: OperatorConfig | 'help';
  try {
    config = parseConfig(process.argv.slice(2), process.env);
  } catch (error: unknown) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`capstan-operator: ${error.message}\nRun capstan-operator --help for the flags.\n`);
    process.exit(2);
  }
  if (config === 'help') {
    process.stdout.write(usage());
    return;
  }
  const log = createLogger({ level: config.logLevel });
  process.on('unhandledRejection', (reason: unknown) => log.error({ err: reason }, 'unhandled rejection'));
  run(config, log).then(
    () => process.exit(0),
    (error: unknown) => {
      log.fatal({ err: error }, 'capstan-operator stopped');
      process.exit(1);
    },
  );
}

main();
