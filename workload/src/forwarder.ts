import type { IncomingHttpHeaders } from 'node:http';
import { Pool } from 'undici';

/** How long a connection to a peer may take to open. */
const CONNECT_TIMEOUT_MS = 1000;

/**
 * How long a connection to a peer stays open without a request (10 s). Below the peer's own
 * `keepAliveTimeout` (`WORKER_KEEP_ALIVE_TIMEOUT_MS`, 90 s), so this side closes an idle connection
 * before the peer does and never writes a request into one the peer is closing. undici would otherwise
 * follow the peer's `Keep-Alive: timeout=90` hint (keeping it 88 s); `keepAliveMaxTimeout` caps that.
 */
export const FORWARD_KEEP_ALIVE_MS = 10_000;

/**
 * Connections to one peer at most (32): forwards beyond that wait in undici's queue rather than open
 * more sockets, so a burst of forwards to one owner opens at most this many on it.
 */
export const FORWARD_CONNECTIONS_PER_PEER = 32;

/**
 * Requests in flight on one connection: 1, no pipelining (0 would turn keep-alive off in undici). A slow
 * answer holds up no other request, and a connection that breaks takes at most one request with it, whose
 * outcome {@link ForwardError} reports.
 */
export const FORWARD_PIPELINING = 1;

/** Header that marks a forwarded request; a worker never forwards a request that carries it. */
export const HOP_HEADER = 'x-capstan-hop';

/**
 * Errors of the connection phase: the request never left this worker, so nothing can have been applied.
 * Anything else (a reset, a closed socket, a timeout after the request was written) may come after the
 * owner applied it.
 */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/** How a forward failed: `not-sent` (safe to try again), `no-answer` (sent, then closed) or `timeout`. */
export type ForwardFailure = 'not-sent' | 'no-answer' | 'timeout';

/** Forwarding to a peer failed (connection refused or reset, timeout); `code` is stable. */
export class ForwardError extends Error {
  readonly code = 'CAPSTAN_FORWARD_FAILED';
  readonly address: string;
  /** Whether the owner may have received, and so applied, the request. */
  readonly failure: ForwardFailure;
  constructor(address: string, cause: unknown, failure: ForwardFailure = failureOf(cause)) {
    super(`forward to ${address} failed: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
    this.name = 'ForwardError';
    this.address = address;
    this.failure = failure;
  }
}

function failureOf(cause: unknown): ForwardFailure {
  const code = (cause as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && NOT_SENT_CODES.has(code)) return 'not-sent';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return 'timeout';
  return 'no-answer';
}

/** What to send to the owner. `path` includes the query string. */
export interface ForwardRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body?: string | Buffer | undefined;
}

/** The owner's answer, fully read. */
export interface ForwardResponse {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

/** Options of {@link Forwarder}. */
export interface ForwarderOptions {
  /** This worker's id, sent in the hop header. */
  workerId: string;
  /** Deadline for the owner's response headers and body; default 5000 ms. */
  timeoutMs?: number;
  /** Keep-alive connections per peer; default {@link FORWARD_CONNECTIONS_PER_PEER}. */
  connections?: number;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
]);

/**
 * Internal HTTP to peer workers: one keep-alive undici Pool per peer address, a deadline per request,
 * hop-by-hop headers dropped and the hop header added. Fails with {@link ForwardError}, which says
 * whether the request may have reached the owner; never retries (the caller decides, within its own
 * deadline). A peer that let a request time out is suspect for one timeout: forwards to it fail at once
 * as `not-sent` instead of each waiting the whole timeout on a frozen process (a stopped process's
 * kernel still accepts connections).
 */
export class Forwarder {
  readonly #pools = new Map<string, Pool>();
  /** Peer address -> time (ms) until which it is not sent to. */
  readonly #suspectUntil = new Map<string, number>();
  readonly #workerId: string;
  readonly #timeoutMs: number;
  readonly #connections: number;

  constructor(options: ForwarderOptions) {
    this.#workerId = options.workerId;
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#connections = options.connections ?? FORWARD_CONNECTIONS_PER_PEER;
  }

  /** Sends `request` to the worker at `address` (`http://host:port`) and reads the whole answer. */
  async forward(address: string, request: ForwardRequest): Promise<ForwardResponse> {
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
    }
    headers[HOP_HEADER] = this.#workerId;
    const suspect = this.#suspectUntil.get(address);
    if (suspect !== undefined && performance.now() < suspect)
      throw new ForwardError(address, new Error('peer timed out recently; not sent'), 'not-sent');
    this.#suspectUntil.delete(address);
    try {
      const response = await this.#pool(address).request({
        method: request.method,
        path: request.path,
        headers,
        body: request.body,
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
      });
      const body = Buffer.from(await response.body.arrayBuffer());
      return { status: response.statusCode, headers: copyHeaders(response.headers), body };
    } catch (error) {
      const failed = new ForwardError(address, error);
      if (failed.failure === 'timeout') this.#suspectUntil.set(address, performance.now() + this.#timeoutMs);
      throw failed;
    }
  }

  /** Closes every pool (in-flight requests finish first). */
  async close(): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((p) => p.close()));
  }

  #pool(address: string): Pool {
    let pool = this.#pools.get(address);
    if (!pool) {
      // One pool per peer for the forwarder's life: its connections are reused by every forward to it.
      // A peer whose pod is gone does not refuse connections, its address just stops answering: give up
      // connecting after 1 s (peers are one hop away) rather than undici's 10 s, so the caller can look
      // for the partition's next owner within its own deadline.
      pool = new Pool(address, {
        connections: this.#connections,
        pipelining: FORWARD_PIPELINING,
        keepAliveTimeout: FORWARD_KEEP_ALIVE_MS,
        keepAliveMaxTimeout: FORWARD_KEEP_ALIVE_MS,
        connect: { timeout: CONNECT_TIMEOUT_MS },
      });
      this.#pools.set(address, pool);
    }
    return pool;
  }
}

function copyHeaders(source: IncomingHttpHeaders): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(source)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
  }
  return headers;
}

/** True for a {@link ForwardError}. */
export function isForwardError(error: unknown): error is ForwardError {
  return error instanceof ForwardError;
}
