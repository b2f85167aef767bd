import type { FastifyBaseLogger, FastifyReply, FastifyRequest, FastifySchema } from 'fastify';
import type { Redis } from 'ioredis';
import type { FencedStore } from './fenced-store.ts';
import type { WorkloadMetrics } from './metrics.ts';
import type { RedisCache } from './redis-cache.ts';
import { RequestError, RequestErrorCodes, preview } from './request-errors.ts';

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
  /**
   * The request's key; default {@link keyParam} (`request.params.key`, checked with {@link checkKey}: a
   * bad key is a 400 at the first worker, before any forward). Call {@link checkKey} on a key of your own
   * for the same answers.
   */
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

/** The longest key, in bytes of UTF-8. */
export const MAX_KEY_BYTES = 512;

/** Control characters (U+0000 to U+001F, U+007F to U+009F) and lone surrogates (not encodable as UTF-8). */
const MALFORMED = /[\p{Cc}\p{Cs}]/u;

const KEY_RULES = `a key is 1 to ${MAX_KEY_BYTES} bytes of UTF-8 without control characters`;

/**
 * Checks a request's key and returns it. A key is any non-empty Unicode string of at most
 * {@link MAX_KEY_BYTES} bytes of UTF-8 without control characters (U+0000 to U+001F, U+007F to U+009F)
 * or lone surrogates. Throws a {@link RequestError} with status 400 and code `CAPSTAN_KEY_EMPTY`,
 * `CAPSTAN_KEY_TOO_LONG` or `CAPSTAN_KEY_INVALID`; its message quotes the key only as a short prefix.
 */
export function checkKey(key: string): string {
  if (key === '') {
    throw new RequestError(400, RequestErrorCodes.KEY_EMPTY, `the key is empty: ${KEY_RULES}`);
  }
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_KEY_BYTES) {
    throw new RequestError(
      400,
      RequestErrorCodes.KEY_TOO_LONG,
      `the key is ${bytes} bytes of UTF-8, more than the limit of ${MAX_KEY_BYTES}: use a shorter key (it starts ${preview(key)})`,
    );
  }
  const bad = MALFORMED.exec(key);
  if (bad) {
    const code = bad[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
    const what = /\p{Cs}/u.test(bad[0]) ? 'a lone surrogate' : 'a control character';
    throw new RequestError(
      400,
      RequestErrorCodes.KEY_INVALID,
      `the key ${preview(key)} contains ${what} (U+${code}) at index ${bad.index}: ${KEY_RULES}`,
    );
  }
  return key;
}

/** The default key of a request: its `:key` path parameter, checked with {@link checkKey}. */
export function keyParam(request: FastifyRequest): string {
  const key = (request.params as { key?: unknown } | undefined)?.key;
  if (typeof key !== 'string') throw new AppDefinitionError('the route has no :key parameter');
  return checkKey(key);
}
