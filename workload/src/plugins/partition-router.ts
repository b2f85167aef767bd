import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { partitionOf } from '../../../common/src/partition.ts';
import { keyParam } from '../define-app.ts';
import type { AppDefinition, AppServices, PartitionedRoute } from '../define-app.ts';
import { HOP_HEADER, isForwardError } from '../forwarder.ts';
import type { ForwardResponse, Forwarder } from '../forwarder.ts';
import type { WorkloadMetrics } from '../metrics.ts';
import type { InFlightWork, PartitionDirectory } from '../partition-directory.ts';

/** Options of {@link partitionRouter}. */
export interface PartitionRouterOptions {
  definition: AppDefinition;
  directory: PartitionDirectory;
  forwarder: Forwarder;
  services: AppServices;
  metrics: WorkloadMetrics;
  partitions: number;
  /** How long a request waits for its partition to get a reachable owner before 503; default {@link DEFAULT_MOVE_WAIT_MS}. */
  moveWaitMs?: number;
  /** `Retry-After` of that 503, in seconds; default 1. */
  retryAfterSeconds?: number;
  /** Interval between ownership checks while waiting; default 20 ms. */
  pollMs?: number;
}

/**
 * How long a request waits for an owner by default: longer than a worker container's restart in its
 * pod (kubelet, process start, ZooKeeper session, reclaim; about 5 s measured), so that failover is
 * hidden from clients rather than answered with 503.
 */
export const DEFAULT_MOVE_WAIT_MS = 6000;

/** Response headers: the partition of the request's key and the worker that served it. */
export const PARTITION_HEADER = 'x-capstan-partition';
export const SERVED_BY_HEADER = 'x-capstan-served-by';
/** Response header: the partition epoch the serving worker held. */
export const EPOCH_HEADER = 'x-capstan-epoch';

type Outcome = { kind: 'local'; work: InFlightWork } | { kind: 'forwarded'; response: ForwardResponse };

/**
 * Registers the app's keyed routes. Each request's key maps to a partition ({@link partitionOf}); the
 * owner runs the handler (as in-flight work on the partition), any other worker forwards the request
 * once over internal HTTP. A forwarded request is never forwarded again: a worker that does not serve
 * its partition answers 421 and the forwarding worker tries again. While a partition has no reachable
 * owner the request waits up to `moveWaitMs`, then gets 503 with `Retry-After`.
 */
export function partitionRouter(
  app: FastifyInstance,
  options: PartitionRouterOptions,
  done: (error?: Error) => void,
): void {
  for (const route of options.definition.routes) {
    app.route({
      method: route.method,
      url: route.url,
      ...(route.schema ? { schema: route.schema } : {}),
      handler: (request, reply) => handle(route, options, request, reply),
    });
  }
  done();
}

async function handle(
  route: PartitionedRoute,
  options: PartitionRouterOptions,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<unknown> {
  const key = (route.key ?? keyParam)(request);
  const partition = partitionOf(key, options.partitions);
  void reply.header(PARTITION_HEADER, partition);
  const outcome = await resolve(options, request, partition);
  if (outcome === 'misdirected') {
    return reply.code(421).send({ error: 'NOT_OWNER', message: `not the owner of partition ${partition}` });
  }
  if (outcome === undefined) {
    options.metrics.movingRejections.inc();
    void reply.header('retry-after', String(options.retryAfterSeconds ?? 1));
    return reply
      .code(503)
      .send({ error: 'PARTITION_MOVING', message: `partition ${partition} has no reachable owner yet` });
  }
  if (outcome.kind === 'forwarded') {
    const { status, headers, body } = outcome.response;
    return reply.code(status).headers(headers).send(body);
  }
  const { work } = outcome;
  void reply.header(SERVED_BY_HEADER, options.directory.workerId).header(EPOCH_HEADER, work.epoch);
  const context = { key, partition, epoch: work.epoch, services: options.services, log: request.log };
  options.metrics.inFlight.inc();
  try {
    return await route.handler(request, reply, context);
  } finally {
    options.metrics.inFlight.dec();
    work.end();
  }
}

/**
 * Where the request is served: here (with the epoch), forwarded (with the owner's answer),
 * 'misdirected' (a forwarded request that reached a non-owner) or undefined (no owner in time).
 */
async function resolve(
  options: PartitionRouterOptions,
  request: FastifyRequest,
  partition: number,
): Promise<Outcome | 'misdirected' | undefined> {
  const { directory } = options;
  const hopped = request.headers[HOP_HEADER] !== undefined;
  const deadline = performance.now() + (options.moveWaitMs ?? DEFAULT_MOVE_WAIT_MS);
  for (;;) {
    const work = directory.begin(partition);
    if (work) return { kind: 'local', work };
    if (hopped) return 'misdirected';
    const owner = directory.ownerOf(partition);
    if (owner && owner.workerId !== directory.workerId) {
      const response = await forwardOnce(options, request, owner.address);
      if (response) return { kind: 'forwarded', response };
    }
    if (performance.now() >= deadline) return undefined;
    await sleep(options.pollMs ?? 20);
  }
}

/** One forward; undefined when it should be tried again (owner unreachable or no longer the owner). */
async function forwardOnce(
  options: PartitionRouterOptions,
  request: FastifyRequest,
  address: string,
): Promise<ForwardResponse | undefined> {
  try {
    const response = await options.forwarder.forward(address, {
      method: request.method,
      path: request.url,
      headers: request.headers,
      body: bodyOf(request),
    });
    const misdirected = response.status === 421;
    options.metrics.forwards.inc({ result: misdirected ? 'misdirected' : 'ok' });
    return misdirected ? undefined : response;
  } catch (error) {
    if (!isForwardError(error)) throw error;
    options.metrics.forwards.inc({ result: 'error' });
    request.log.debug({ err: error }, 'forward failed');
    return undefined;
  }
}

function bodyOf(request: FastifyRequest): string | Buffer | undefined {
  const body = request.body;
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string' || Buffer.isBuffer(body)) return body;
  return JSON.stringify(body);
}
