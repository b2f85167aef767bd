import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { partitionOf } from '../../../common/src/partition.ts';
import { checkKey, keyParam } from '../define-app.ts';
import type { AppDefinition, AppServices, PartitionedRoute } from '../define-app.ts';
import { HOP_HEADER, isForwardError } from '../forwarder.ts';
import type { ForwardFailure, ForwardResponse, Forwarder } from '../forwarder.ts';
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
 * pod (kubelet, process start, ZooKeeper session, reclaim; under 2 s measured), so that failover is
 * hidden from clients rather than answered with 503, and short enough that, with one forward's timeout
 * (5 s) on top, a worker always answers within HAProxy's `timeout server` (10 s).
 */
export const DEFAULT_MOVE_WAIT_MS = 4000;

/** Response headers: the partition of the request's key and the worker that served it. */
export const PARTITION_HEADER = 'x-capstan-partition';
export const SERVED_BY_HEADER = 'x-capstan-served-by';
/** Response header: the partition epoch the serving worker held. */
export const EPOCH_HEADER = 'x-capstan-epoch';

type Outcome =
  | { kind: 'local'; work: InFlightWork }
  | { kind: 'forwarded'; response: ForwardResponse }
  /** A forward failed after the request may have reached the owner, and it must not be sent again. */
  | { kind: 'unknown'; failure: ForwardFailure };

/** Methods without side effects. */
const READS = new Set(['GET', 'HEAD']);

/** The code of an answer that does not say whether a write happened. */
export const OUTCOME_UNKNOWN = 'OUTCOME_UNKNOWN';

/**
 * Whether a request may be sent to the owner again after an attempt whose outcome is unknown: reads,
 * and writes carrying an `Idempotency-Key` (the owner applies a key once).
 */
export function replayable(request: FastifyRequest): boolean {
  if (READS.has(request.method)) return true;
  const key = request.headers['idempotency-key'];
  return typeof key === 'string' && key !== '';
}

/**
 * Registers the app's keyed routes. Each request's key maps to a partition ({@link partitionOf}); the
 * owner runs the handler (as in-flight work on the partition), any other worker forwards the request
 * once over internal HTTP. A forwarded request is never forwarded again: a worker that does not serve
 * its partition answers 421 and the forwarding worker tries again. While a partition has no reachable
 * owner the request waits up to `moveWaitMs`, then gets 503 with `Retry-After`. A forward that failed
 * after it may have reached the owner is tried again only for a {@link replayable} request; any other
 * gets {@link OUTCOME_UNKNOWN}, so a write is never applied twice by the runtime.
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
  // A bad key is the client's: 400 here, before any forward (keyParam checks its own).
  const key = route.key ? checkKey(route.key(request)) : keyParam(request);
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
  if (outcome.kind === 'unknown') return outcomeUnknown(reply, partition, outcome.failure);
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
 * 502 (no answer) or 504 (timeout) with {@link OUTCOME_UNKNOWN}: the owner may have applied the request.
 * A write without an idempotency key is never sent twice, so the client must be told it may have happened.
 */
function outcomeUnknown(reply: FastifyReply, partition: number, failure: ForwardFailure): FastifyReply {
  return reply.code(failure === 'timeout' ? 504 : 502).send({
    error: OUTCOME_UNKNOWN,
    message:
      `the owner of partition ${partition} did not answer (${failure}): the request may have been applied; ` +
      'retry a write only with the same Idempotency-Key',
  });
}

/**
 * Where the request is served: here (with the epoch), forwarded (with the owner's answer), 'misdirected'
 * (a forwarded request that reached a non-owner), unknown (a forward that may have been applied and may
 * not be repeated) or undefined (no owner in time). No forward starts later than one poll after the
 * deadline, so the wait is bounded by `moveWaitMs` plus one poll and one forward's timeout.
 */
async function resolve(
  options: PartitionRouterOptions,
  request: FastifyRequest,
  partition: number,
): Promise<Outcome | 'misdirected' | undefined> {
  const { directory } = options;
  const hopped = request.headers[HOP_HEADER] !== undefined;
  const { deadline, holdUntil, pollMs } = waits(options);
  let unanswered: ForwardFailure | undefined;
  for (;;) {
    const work = directory.begin(partition);
    if (work) return { kind: 'local', work };
    if (hopped && !holdsForward(directory, partition, holdUntil)) return 'misdirected';
    const tried = await tryOwner(options, request, partition);
    if (typeof tried === 'object') return { kind: 'forwarded', response: tried };
    if (tried !== undefined) {
      const next = afterFailure(request, tried);
      if (next === 'give-up') return { kind: 'unknown', failure: tried };
      if (next === 'again-unanswered') unanswered = tried;
    }
    // A replayed write that never got an answer may still have been applied by an earlier attempt.
    if (performance.now() >= deadline) return unanswered && { kind: 'unknown', failure: unanswered };
    await sleep(pollMs);
  }
}

/** The deadlines of one request, from now. */
function waits(options: PartitionRouterOptions): { deadline: number; holdUntil: number; pollMs: number } {
  const moveWaitMs = options.moveWaitMs ?? DEFAULT_MOVE_WAIT_MS;
  const now = performance.now();
  // A forwarded request is held at most half the move wait, well inside the forwarder's timeout.
  return { deadline: now + moveWaitMs, holdUntil: now + moveWaitMs / 2, pollMs: options.pollMs ?? 20 };
}

/**
 * Whether a forwarded request for `partition` should wait here rather than get 421: this worker owns it
 * but is suspended (a short ZooKeeper disconnection) and serves it again once reconnected, which beats
 * the forwarder sending it back every poll. Bounded by `holdUntil`.
 */
function holdsForward(directory: PartitionDirectory, partition: number, holdUntil: number): boolean {
  if (performance.now() >= holdUntil) return false;
  return directory.ownerOf(partition)?.workerId === directory.workerId && directory.status().suspended;
}

/**
 * After a failed forward: try again, noting a write that went unanswered (it may have been applied), or
 * give up because the request must not be sent twice.
 */
function afterFailure(
  request: FastifyRequest,
  failure: ForwardFailure,
): 'again' | 'again-unanswered' | 'give-up' {
  if (failure === 'not-sent' || READS.has(request.method)) return 'again';
  return replayable(request) ? 'again-unanswered' : 'give-up';
}

/** Forwards to the partition's owner when another worker holds it; undefined when there is none to try. */
async function tryOwner(
  options: PartitionRouterOptions,
  request: FastifyRequest,
  partition: number,
): Promise<ForwardResponse | ForwardFailure | undefined> {
  const owner = options.directory.ownerOf(partition);
  if (!owner || owner.workerId === options.directory.workerId) return undefined;
  return forwardOnce(options, request, owner.address);
}

/** One forward: the owner's answer, or how it failed (a 421 counts as not sent: the peer applied nothing). */
async function forwardOnce(
  options: PartitionRouterOptions,
  request: FastifyRequest,
  address: string,
): Promise<ForwardResponse | ForwardFailure> {
  try {
    const response = await options.forwarder.forward(address, {
      method: request.method,
      path: request.url,
      headers: request.headers,
      body: bodyOf(request),
    });
    const misdirected = response.status === 421;
    options.metrics.forwards.inc({ result: misdirected ? 'misdirected' : 'ok' });
    return misdirected ? 'not-sent' : response;
  } catch (error) {
    if (!isForwardError(error)) throw error;
    options.metrics.forwards.inc({ result: 'error' });
    request.log.debug({ err: error }, 'forward failed');
    return error.failure;
  }
}

function bodyOf(request: FastifyRequest): string | Buffer | undefined {
  const body = request.body;
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string' || Buffer.isBuffer(body)) return body;
  return JSON.stringify(body);
}
