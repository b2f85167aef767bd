import type { FastifyInstance, FastifyPluginCallback } from 'fastify';
import type { WorkloadMetrics } from '../metrics.ts';
import type { CoordinationStatus } from '../partition-directory.ts';

/** Options of {@link metricsPlugin}. */
export interface MetricsOptions {
  metrics: WorkloadMetrics;
  /** Read at every scrape for the ownership and ZooKeeper gauges. */
  coordination: () => CoordinationStatus;
}

const STATES = ['starting', 'connected', 'suspended', 'disconnected', 'expired', 'closed'];

function register(app: FastifyInstance, options: MetricsOptions, done: (error?: Error) => void): void {
  const { metrics } = options;
  app.addHook('onResponse', (request, reply, next) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const method = request.method;
    metrics.requests.inc({ route, method, code: reply.statusCode });
    metrics.duration.observe({ route, method }, reply.elapsedTime / 1000);
    next();
  });
  app.get('/metrics', { logLevel: 'warn' }, async (_request, reply) => {
    const status = options.coordination();
    metrics.ownedPartitions.set(status.owned.length);
    metrics.zookeeperConnected.set(status.state === 'connected' ? 1 : 0);
    for (const state of STATES) metrics.zookeeperState.set({ state }, status.state === state ? 1 : 0);
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  done();
}

/**
 * Request metrics for every route of the app (requests by route template, method and code; latency
 * histogram) and `GET /metrics` in Prometheus text format. Not encapsulated (skip-override), so its
 * hook sees the routes registered beside it.
 */
export const metricsPlugin: FastifyPluginCallback<MetricsOptions> = Object.assign(register, {
  [Symbol.for('skip-override')]: true,
});
