import Fastify from 'fastify';
import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyPluginCallback } from 'fastify';
import type { AppDefinition, AppServices } from './define-app.ts';
import { StaleEpochError, StoreUnavailableError } from './fenced-store.ts';
import { Forwarder } from './forwarder.ts';
import type { WorkloadMetrics } from './metrics.ts';
import type { PartitionDirectory } from './partition-directory.ts';
import { healthPlugin } from './plugins/health.ts';
import type { Readiness } from './plugins/health.ts';
import { metricsPlugin } from './plugins/metrics.ts';
import { DEFAULT_MOVE_WAIT_MS, partitionRouter } from './plugins/partition-router.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The worker's partition view and instruments. */
    capstan: { directory: PartitionDirectory; metrics: WorkloadMetrics };
  }
}

/** Options of {@link buildApp}. */
export interface BuildAppOptions {
  definition: AppDefinition;
  directory: PartitionDirectory;
  services: AppServices;
  metrics: WorkloadMetrics;
  partitions: number;
  routing?: { moveWaitMs?: number; forwardTimeoutMs?: number; retryAfterSeconds?: number };
  /** Extra readiness condition (main sets it false while draining); default always true. */
  accepting?: () => boolean;
  /** A pino logger for fastify (`loggerInstance`); no logging when unset. */
  logger?: FastifyBaseLogger;
  /** Extra plugins registered before the routes (main adds Sentry's flush-on-close). */
  plugins?: FastifyPluginCallback[];
}

/**
 * Builds the worker's fastify app without listening: health, metrics and the app's partitioned routes.
 * Closing the app closes the forwarder's pools (the caller closes what it passed in, e.g. Redis).
 * Errors a handler throws reach fastify's error handling (and Sentry when it is initialised);
 * fenced-store failures map to 409 (stale epoch) and 503 (store unavailable).
 */
export async function buildApp(options: BuildAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    // During close, requests that arrive on open connections are still served (the load balancer has
    // been told to stop sending by then); a 503 there would be a failed request.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
  });
  const { directory, metrics } = options;
  app.decorate('capstan', { directory, metrics });
  app.setErrorHandler(errorHandler);
  const forwarder = new Forwarder({
    workerId: directory.workerId,
    timeoutMs: options.routing?.forwardTimeoutMs ?? 5000,
  });
  app.addHook('onClose', async () => forwarder.close());
  for (const plugin of options.plugins ?? []) await app.register(plugin);
  await app.register(metricsPlugin, { metrics, coordination: () => directory.status() });
  await app.register(healthPlugin, {
    readiness: () => readiness(options),
    status: () => ({ workerId: directory.workerId, ...directory.status() }),
  });
  await app.register(partitionRouter, {
    definition: options.definition,
    directory,
    forwarder,
    services: options.services,
    metrics,
    partitions: options.partitions,
    moveWaitMs: options.routing?.moveWaitMs ?? DEFAULT_MOVE_WAIT_MS,
    retryAfterSeconds: options.routing?.retryAfterSeconds ?? 1,
  });
  return app;
}

function readiness(options: BuildAppOptions): Readiness {
  if (options.accepting && !options.accepting()) return { ready: false, reason: 'draining' };
  const status = options.directory.status();
  if (!status.ready) return { ready: false, reason: `zookeeper ${status.state}` };
  return { ready: true };
}

function errorHandler(
  this: FastifyInstance,
  error: FastifyError,
  request: Parameters<FastifyInstance['errorHandler']>[1],
  reply: Parameters<FastifyInstance['errorHandler']>[2],
): void {
  if (error instanceof StaleEpochError) {
    request.log.warn({ err: error }, 'stale epoch write rejected');
    this.capstan.metrics.staleWrites.inc();
    void reply.code(409).send({ error: error.code, message: error.message });
    return;
  }
  if (error instanceof StoreUnavailableError) {
    request.log.warn({ err: error }, 'store unavailable');
    void reply.header('retry-after', '1').code(503).send({ error: error.code, message: error.message });
    return;
  }
  const status = error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500;
  if (status >= 500) request.log.error({ err: error }, 'request failed');
  void reply
    .code(status)
    .send({ error: error.code ?? 'INTERNAL', message: status >= 500 ? 'internal error' : error.message });
}
