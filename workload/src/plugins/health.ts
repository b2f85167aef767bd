import type { FastifyInstance } from 'fastify';

/** Whether the worker should receive traffic, and why not. */
export interface Readiness {
  ready: boolean;
  reason?: string;
}

/** Options of {@link healthPlugin}. */
export interface HealthOptions {
  readiness: () => Readiness;
  /** Served as JSON at `GET /_capstan/status` (worker id, ZooKeeper state, partitions served). */
  status: () => Record<string, unknown>;
}

/**
 * `GET /healthz`: 200 while the process answers (liveness). `GET /readyz`: 200 only while
 * `readiness()` says ready (connected to ZooKeeper, registered, not draining), 503 with the reason
 * otherwise. `GET /_capstan/status`: the worker's coordination status as JSON.
 */
export function healthPlugin(
  app: FastifyInstance,
  options: HealthOptions,
  done: (error?: Error) => void,
): void {
  app.get('/healthz', { logLevel: 'warn' }, (_request, reply) => reply.send({ status: 'ok' }));
  app.get('/readyz', { logLevel: 'warn' }, (_request, reply) => {
    const readiness = options.readiness();
    if (readiness.ready) return reply.send({ status: 'ready' });
    return reply.code(503).send({ status: 'not-ready', reason: readiness.reason ?? 'unknown' });
  });
  app.get('/_capstan/status', { logLevel: 'warn' }, (_request, reply) => reply.send(options.status()));
  done();
}
