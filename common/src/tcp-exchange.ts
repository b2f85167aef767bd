/**
 * One request, one reply over a fresh TCP connection: connect, write the payload, collect what comes back
 * until the server closes the connection (ZooKeeper's four-letter words) or the reply is complete by the
 * caller's own test (a Redis `PING`). The whole exchange, connect included, has one deadline; the timer
 * never keeps the process alive and the socket is destroyed however the exchange ends.
 */
import { connect } from 'node:net';

/** Why an exchange failed: no reply within the deadline, aborted by the caller, or a socket error. */
export type TcpExchangeErrorCode = 'TIMEOUT' | 'ABORTED' | 'SOCKET';

/** A failed {@link tcpExchange}: `code` is stable, `address` is `host:port`, `cause` the socket error. */
export class TcpExchangeError extends Error {
  readonly code: TcpExchangeErrorCode;
  readonly address: string;

  constructor(code: TcpExchangeErrorCode, address: string, options: { cause?: unknown } = {}) {
    const reason = { TIMEOUT: 'no answer in time', ABORTED: 'aborted', SOCKET: 'socket error' }[code];
    super(`exchange with ${address}: ${reason}`, { cause: options.cause });
    this.name = 'TcpExchangeError';
    this.code = code;
    this.address = address;
  }
}

/** Options of {@link tcpExchange}. */
export interface ExchangeOptions {
  /** Deadline of the whole exchange (connect, write, reply) in milliseconds; default 1000. */
  timeoutMs?: number;
  /** Resolve as soon as the received text satisfies this (for servers that keep the connection open). */
  until?: (received: string) => boolean;
  /** Ends the exchange early (rejects with code ABORTED). */
  signal?: AbortSignal;
}

/**
 * Sends `payload` to `host:port` and resolves with what came back (UTF-8), once the server closes the
 * connection or `until` holds. Rejects with {@link TcpExchangeError}: TIMEOUT after `timeoutMs`, ABORTED
 * when `signal` aborts, SOCKET on connection errors (refused, unreachable, reset).
 */
export function tcpExchange(
  host: string,
  port: number,
  payload: string,
  options: ExchangeOptions = {},
): Promise<string> {
  const address = `${host}:${port}`;
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(new TcpExchangeError('ABORTED', address));
  return new Promise((resolve, reject) => {
    let received = '';
    const socket = connect({ host, port });
    const onAbort = (): void => finish(new TcpExchangeError('ABORTED', address));
    const deadline = setTimeout(
      () => finish(new TcpExchangeError('TIMEOUT', address)),
      options.timeoutMs ?? 1000,
    );
    deadline.unref();
    const finish = (error?: Error): void => {
      clearTimeout(deadline);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      if (error) reject(error);
      else resolve(received);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.setEncoding('utf8');
    socket.once('connect', () => socket.write(payload));
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (options.until?.(received)) finish();
    });
    socket.once('end', () => finish());
    socket.once('error', (cause) => finish(new TcpExchangeError('SOCKET', address, { cause })));
  });
}
