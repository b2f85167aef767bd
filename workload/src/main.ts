#!/usr/bin/env node
import * as nodeModule from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { PartitionOwnership } from '../../common/src/partition-ownership.ts';
import { ConfigError, loadConfig } from './config.ts';
import type { WorkerConfig } from './config.ts';
import type { AppDefinition, AppServices } from './define-app.ts';
import { FencedStore } from './fenced-store.ts';
import { loadApp } from './load-app.ts';
import { createWorkloadMetrics } from './metrics.ts';
import { initSentry, sentryPlugin } from './plugins/sentry.ts';
import { RedisCache } from './redis-cache.ts';
import { closeRedisClient, createRedisClient } from './redis-client.ts';
import { buildApp } from './server.ts';
import { connectZooKeeper } from './zookeeper-connect.ts';
import { ZooKeeperDirectory } from './zookeeper-directory.ts';
import { nextIncarnation } from './incarnation.ts';

/** A worker process: config, ZooKeeper session, ownership, Redis, fastify. */
interface Worker {
  config: WorkerConfig;
  log: Logger;
  app: FastifyInstance;
  directory: ZooKeeperDirectory;
  draining: { value: boolean };
}

/** Logs at most once per `intervalMs` (connection errors repeat on every reconnect attempt). */
function throttled(log: (message: string, error: Error) => void, intervalMs: number): (error: Error) => void {
  let last = 0;
  return (error) => {
    const now = Date.now();
    if (now - last < intervalMs) return;
    last = now;
    log(error.message, error);
  };
}

function services(
  config: WorkerConfig,
  log: Logger,
  metrics: ReturnType<typeof createWorkloadMetrics>,
): AppServices {
  const redisLog = throttled((message, err) => log.warn({ err }, `redis: ${message}`), 5000);
  const redis = createRedisClient({ ...config.redis, onError: redisLog });
  const prefix = `capstan:{${config.namespace}/${config.appName}}:`;
  return {
    redis,
    metrics,
    workerId: config.workerId,
    cache: new RedisCache({ client: redis, prefix: `${prefix}cache:`, metrics, onError: redisLog }),
    store: new FencedStore({ client: redis, prefix }),
  };
}

async function start(config: WorkerConfig): Promise<Worker> {
  const log = pino({ level: config.logLevel, base: { worker: config.workerId, app: config.appName } });
  if (config.sentry)
    await initSentry({ ...config.sentry, tags: { worker: config.workerId, app: config.appName } });
  const metrics = createWorkloadMetrics({ defaultMetrics: true });
  const shared = services(config, log, metrics);
  const definition: AppDefinition = await loadApp(config);
  const client = await connectZooKeeper(config.zookeeper, log);
  const incarnation = config.incarnation
    ? await nextIncarnation(config.incarnation.podUid, config.incarnation.file)
    : undefined;
  if (incarnation) log.info({ incarnation }, 'worker incarnation in this pod');
  const ownership = new PartitionOwnership({
    client,
    namespace: config.namespace,
    app: config.appName,
    workerId: config.workerId,
    member: { address: new URL(config.advertiseAddress).host, ports: { http: config.port } },
    releaseTimeoutMs: config.drainTimeoutMs,
    logger: log,
    ...(incarnation ? { incarnation } : {}),
  });
  const event = (partition: number, epoch: number) => ({ partition, epoch, services: shared, log });
  const directory = new ZooKeeperDirectory({
    client,
    ownership,
    workerId: config.workerId,
    disconnectGraceMs: config.zookeeper.disconnectGraceMs,
    log,
    hooks: {
      assigned: async (p, epoch) => definition.onPartitionAssigned?.(event(p, epoch)),
      revoked: async (p, epoch) => definition.onPartitionRevoked?.(event(p, epoch)),
    },
  });
  const draining = { value: false };
  const app = await buildApp({
    definition,
    directory,
    services: shared,
    metrics,
    partitions: config.partitions,
    routing: { moveWaitMs: config.moveWaitMs, forwardTimeoutMs: config.forwardTimeoutMs },
    accepting: () => !draining.value,
    logger: log,
    plugins: config.sentry ? [sentryPlugin] : [],
  });
  app.addHook('onClose', async () => {
    await definition.onClose?.();
    await closeRedisClient(shared.redis);
    await client.close();
  });
  await app.listen({ host: config.host, port: config.port });
  await directory.start();
  log.info(
    { address: config.advertiseAddress, partitions: config.partitions, app: config.app },
    'worker started',
  );
  return { config, log, app, directory, draining };
}

/**
 * SIGTERM: report not-ready so the load balancer stops sending, keep serving for `drainDelayMs`,
 * hand every partition back (after its in-flight requests) and deregister, then close the server
 * (in-flight requests finish) and exit 0. Exits 1 if the whole drain exceeds `drainTimeoutMs`.
 */
async function drain(worker: Worker, signal: string): Promise<void> {
  if (worker.draining.value) return;
  worker.draining.value = true;
  const { log, config } = worker;
  log.info({ signal }, 'draining');
  setTimeout(() => {
    log.error({ timeoutMs: config.drainTimeoutMs }, 'drain timed out; exiting');
    process.exit(1);
  }, config.drainTimeoutMs).unref();
  await sleep(config.drainDelayMs);
  await worker.directory.close();
  await worker.app.close();
  log.info('drained; exiting');
  process.exit(0);
}

async function main(): Promise<void> {
  let config: WorkerConfig;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(
      `${JSON.stringify({ level: 'fatal', code: error.code, variables: error.variables, msg: error.message })}\n`,
    );
    process.exit(2);
  }
  const worker = await start(config);
  // Node writes its compile cache (NODE_COMPILE_CACHE) only at a clean exit; a worker killed with -9
  // would leave none for its restarted container, which is the start that must be fast. (Node >= 22.10.)
  (nodeModule as { flushCompileCache?: () => void }).flushCompileCache?.();
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      drain(worker, signal).catch((error: unknown) => {
        worker.log.error({ err: error }, 'drain failed');
        process.exit(1);
      });
    });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${JSON.stringify({ level: 'fatal', msg: 'worker failed to start', err: String(error) })}\n`,
  );
  process.exit(1);
});
