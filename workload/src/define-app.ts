import type { FastifyBaseLogger, FastifyReply, FastifyRequest, FastifySchema } from 'fastify';
import type { Redis } from 'ioredis';
import type { FencedStore } from './fenced-store.ts';
import type { WorkloadMetrics } from './metrics.ts';
import type { RedisCache } from './redis-cache.ts';

/** What the runtime gives every handler and hook. */
export interface AppServices {
  /** Shared Redis cache that degrades instead of failing. */
  cache: RedisCache;
  /** Epoch-fenced values for writes with side effects. */
  store: FencedStore;
  /** The fail-fast Redis client itself, for anything else. */
  redis: Redis;
  metrics: WorkloadMetrics;
  workerId: string;
}

/** Passed to a route handler that runs at the owner of the request's partition. */
export interface PartitionContext {
  key: string;
  partition: number;
  /** The fencing epoch this worker holds the partition at; pass it to fenced writes. */
  epoch: number;
  services: AppServices;
  log: FastifyBaseLogger;
}

/** A route whose requests are keyed: the runtime routes each request to the owner of its key's partition. */
export interface PartitionedRoute {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** fastify route path, e.g. `/v1/things/:key`. */
  url: string;
  /** The request's key; default `request.params.key`. */
  key?: (request: FastifyRequest) => string;
  schema?: FastifySchema;
  /** Runs only at the owner, while it serves the partition. The returned value is the reply body. */
  handler: (request: FastifyRequest, reply: FastifyReply, context: PartitionContext) => Promise<unknown>;
}

/** Passed to partition hooks. */
export interface PartitionEvent {
  partition: number;
  epoch: number;
  services: AppServices;
  log: FastifyBaseLogger;
}

/** A partitioned app: its keyed routes and optional hooks. */
export interface AppDefinition {
  name: string;
  routes: readonly PartitionedRoute[];
  /**
   * Runs when this worker has claimed a partition, before it serves any request for it (a rejection
   * is retried; the partition is not served until the hook succeeds).
   */
  onPartitionAssigned?: (event: PartitionEvent) => Promise<void> | void;
  /** Runs after a partition was released (its in-flight requests have ended). Errors are logged. */
  onPartitionRevoked?: (event: PartitionEvent) => Promise<void> | void;
  /** Runs when the worker shuts down, after the last request; close the app's own clients here. */
  onClose?: () => Promise<void> | void;
}

/** An app definition is invalid; `code` is stable. */
export class AppDefinitionError extends Error {
  readonly code = 'CAPSTAN_APP_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'AppDefinitionError';
  }
}

const RESERVED = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Declares a partitioned app. Checks the definition (a DNS-label name, at least one route, paths that
 * start with `/`, no duplicate method + path, none of the runtime's own paths) and returns it frozen.
 * Throws {@link AppDefinitionError}.
 *
 * ```ts
 * export default defineApp({
 *   name: 'greetings',
 *   routes: [{ method: 'GET', url: '/v1/greetings/:key', handler: async (_req, _reply, ctx) => ({ hello: ctx.key }) }],
 * });
 * ```
 */
export function defineApp(definition: AppDefinition): AppDefinition {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(definition.name)) {
    throw new AppDefinitionError(`app name ${JSON.stringify(definition.name)} is not a DNS label`);
  }
  if (definition.routes.length === 0) throw new AppDefinitionError(`app ${definition.name} has no routes`);
  const seen = new Set<string>();
  for (const route of definition.routes) {
    const id = `${route.method} ${route.url}`;
    if (!route.url.startsWith('/')) throw new AppDefinitionError(`route ${id}: the path must start with /`);
    if (RESERVED.has(route.url) || route.url.startsWith('/_capstan/'))
      throw new AppDefinitionError(`route ${id}: ${route.url} is reserved`);
    if (seen.has(id)) throw new AppDefinitionError(`route ${id} is defined twice`);
    seen.add(id);
  }
  return Object.freeze({ ...definition, routes: Object.freeze([...definition.routes]) });
}

/** The default key of a request: its `:key` path parameter. */
export function keyParam(request: FastifyRequest): string {
  const key = (request.params as { key?: unknown } | undefined)?.key;
  if (typeof key !== 'string' || key === '') throw new AppDefinitionError('the route has no :key parameter');
  return key;
}
