import Fastify from 'fastify';
import type {
  FastifyBaseLogger,
  FastifyError,
  FastifyInstance,
  FastifyPluginCallback,
  FastifyReply,
  FastifyRequest,
} from 'fastify';
import type { AppDefinition, AppServices } from './define-app.ts';
import { StaleEpochError, StoreUnavailableError } from './fenced-store.ts';
import { Forwarder } from './forwarder.ts';
import type { WorkloadMetrics } from './metrics.ts';
import type { PartitionDirectory } from './partition-directory.ts';
import { healthPlugin } from './plugins/health.ts';
import type { Readiness } from './plugins/health.ts';
import { metricsPlugin } from './plugins/metrics.ts';
import { DEFAULT_MOVE_WAIT_MS, OUTCOME_UNKNOWN, partitionRouter } from './plugins/partition-router.ts';
import { drainRequestBody } from './request-body-drain.ts';
import { RequestError, RequestErrorCodes, preview, shortMessage } from './request-errors.ts';

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
 * fenced-store failures map to 409 (stale epoch) and 503 (store unavailable). Client mistakes (bad key,
 * unknown route, bad body) are 4xx `{ error, message }` with the stable codes of `request-errors.ts`.
 */
export async function buildApp(options: BuildAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    ...(options.logger ? { loggerInstance: withShortUrls(options.logger) } : { logger: false }),
    // During close, requests that arrive on open connections are still served (the load balancer has
    // been told to stop sending by then); a 503 there would be a failed request.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    keepAliveTimeout: WORKER_KEEP_ALIVE_TIMEOUT_MS,
    // Every key up to the limit reaches its route (and an overlong one gets CAPSTAN_KEY_TOO_LONG there).
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors: routerErrorHandler,
  });
  const { directory, metrics } = options;
  app.decorate('capstan', { directory, metrics });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler(options.definition));
  // Any answer sent before the request's body was read (fastify's 413 and 415 are) waits until the
  // rest of the body is read, so that the answer is not lost to a reset (see drainRequestBody). A
  // request whose body was read, the usual case, passes straight through.
  app.addHook('onSend', (request, _reply, payload, done) => {
    if (request.raw.complete) done(null, payload);
    else void drainRequestBody(request.raw).then(() => done(null, payload));
  });
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

/**
 * How long the worker keeps an idle connection open for the next request (fastify's `keepAliveTimeout`,
 * 90 s; fastify's default is 72 s). Above `HAPROXY_SERVER_IDLE_MAX_MS` in `common/src/haproxy-config.ts`
 * (80 s, the longest HAProxy keeps an unused connection to a worker) and above the forwarder's
 * `FORWARD_KEEP_ALIVE_MS` (10 s): the client side lets go of an idle connection first, so no request is
 * written into a connection the worker is closing. Node advertises it as `Keep-Alive: timeout=90`.
 */
export const WORKER_KEEP_ALIVE_TIMEOUT_MS = 90_000;

/**
 * The longest path parameter the router matches, in characters as sent (percent-encoded). As long as
 * Node's default limit on a request's header section (16 KiB), so no request is refused by the router
 * for a long key: the key check answers instead.
 */
export const MAX_PARAM_LENGTH = 16 * 1024;

/** The longest URL a log line of the worker carries. */
const MAX_LOGGED_URL = 256;

/** A child of `logger` whose `req` serializer cuts long URLs, so no log line carries a whole oversized path. */
function withShortUrls(logger: FastifyBaseLogger): FastifyBaseLogger {
  const req = (request: FastifyRequest) => ({
    method: request.method,
    url:
      request.url.length <= MAX_LOGGED_URL
        ? request.url
        : `${request.url.slice(0, MAX_LOGGED_URL)}... (truncated, ${request.url.length} characters in all)`,
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  });
  return logger.child({}, { serializers: { req } });
}

/** The body of a client error. */
interface ClientError {
  status: number;
  code: string;
  message: string;
}

/** The path of a request without its query string. */
function pathOf(request: FastifyRequest): string {
  const query = request.url.indexOf('?');
  return query === -1 ? request.url : request.url.slice(0, query);
}

/** 404 `CAPSTAN_ROUTE_NOT_FOUND` naming the method, the path (cut) and the routes the app serves. */
function notFoundHandler(definition: AppDefinition): (request: FastifyRequest, reply: FastifyReply) => void {
  const shown = definition.routes.slice(0, 5).map((r) => `${r.method} ${r.url}`);
  const more = definition.routes.length - shown.length;
  const routes = `${shown.join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
  return (request, reply) => {
    const message = `no route for ${request.method} ${preview(pathOf(request))}: the app ${definition.name} serves ${routes}`;
    void reply.code(404).send({ error: RequestErrorCodes.ROUTE_NOT_FOUND, message });
  };
}

/** Errors the router raises before any route runs (`frameworkErrors`): a path that cannot be decoded. */
function routerErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const path = preview(pathOf(request));
  const answer: ClientError =
    error.code === 'FST_ERR_BAD_URL'
      ? {
          status: 400,
          code: RequestErrorCodes.PATH_INVALID,
          message: `the path ${path} is not valid percent-encoded UTF-8: encode the key with encodeURIComponent`,
        }
      : error.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? {
            status: 414,
            code: RequestErrorCodes.PATH_TOO_LONG,
            message: `a segment of the path ${path} is longer than ${MAX_PARAM_LENGTH} characters`,
          }
        : { status: 500, code: 'INTERNAL', message: 'internal error' };
  if (answer.status >= 500) request.log.error({ err: error }, 'request failed');
  void reply.code(answer.status).send({ error: answer.code, message: answer.message });
}

/** Content-type parser errors of fastify, as stable codes with messages that say what to send instead. */
function bodyError(error: FastifyError, request: FastifyRequest, bodyLimit: number): ClientError | undefined {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return {
        status: 400,
        code: RequestErrorCodes.BODY_MALFORMED,
        message: 'the body is not valid JSON but its content-type is application/json: send a JSON document',
      };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return {
        status: 400,
        code: RequestErrorCodes.BODY_MALFORMED,
        message:
          'the body is empty but its content-type is application/json: send a JSON document, or no body and no content-type',
      };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return {
        status: 400,
        code: RequestErrorCodes.BODY_MALFORMED,
        message: 'the body is not as long as its Content-Length header says',
      };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        status: 413,
        code: RequestErrorCodes.BODY_TOO_LARGE,
        message: `the body is larger than the limit of ${bodyLimit} bytes: send a smaller body`,
      };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        status: 415,
        code: RequestErrorCodes.UNSUPPORTED_MEDIA_TYPE,
        message: `the content-type ${preview(request.headers['content-type'] ?? '')} is not supported: send the body as application/json`,
      };
    default:
      return undefined;
  }
}

/** A schema validation failure as `CAPSTAN_VALIDATION_FAILED`, naming the first field that failed. */
function validationError(error: FastifyError): ClientError {
  const first = error.validation?.[0];
  const context = error.validationContext ?? 'request';
  const params = (first?.params ?? {}) as { missingProperty?: unknown; additionalProperty?: unknown };
  let field = `${context}${first?.instancePath ?? ''}`;
  let problem = first?.message ?? 'is invalid';
  if (typeof params.missingProperty === 'string') {
    field = `${field}/${params.missingProperty}`;
    problem = 'is required';
  } else if (typeof params.additionalProperty === 'string') {
    field = `${field}/${params.additionalProperty}`;
    problem = 'is not allowed';
  }
  return {
    status: 400,
    code: RequestErrorCodes.VALIDATION_FAILED,
    message: `${preview(field)} ${problem}`,
  };
}

/** The answer to a 4xx error: its own code when it has one, else a stable one. */
function clientError(error: FastifyError, request: FastifyRequest, bodyLimit: number): ClientError {
  if (error instanceof RequestError) {
    return { status: error.statusCode, code: error.code, message: error.message };
  }
  if (error.code === 'FST_ERR_VALIDATION' || error.validation) return validationError(error);
  const body = bodyError(error, request, bodyLimit);
  if (body) return body;
  const status = error.statusCode ?? 400;
  const own = typeof error.code === 'string' && error.code !== '' && !error.code.startsWith('FST_ERR_');
  return {
    status,
    code: own ? error.code : RequestErrorCodes.CLIENT_ERROR,
    message: shortMessage(error.message),
  };
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
    this.capstan.metrics.storeUnavailable.inc({ outcome: error.mayHaveApplied ? 'unknown' : 'not_applied' });
    if (error.mayHaveApplied) {
      void reply.code(504).send({
        error: OUTCOME_UNKNOWN,
        message:
          'the store did not answer the write: it may have been applied; retry only with the same Idempotency-Key',
      });
      return;
    }
    void reply.header('retry-after', '1').code(503).send({ error: error.code, message: error.message });
    return;
  }
  const status = error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500;
  if (status < 500) {
    const answer = clientError(
      error,
      request,
      request.routeOptions.bodyLimit ?? this.initialConfig.bodyLimit ?? 1048576,
    );
    request.log.debug({ code: answer.code, statusCode: answer.status }, 'request rejected');
    void reply.code(answer.status).send({ error: answer.code, message: answer.message });
    return;
  }
  request.log.error({ err: error }, 'request failed');
  void reply.code(status).send({ error: error.code ?? 'INTERNAL', message: 'internal error' });
}
