import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A running {@link startTinyUpstream}. */
export interface TinyUpstream {
  url: string;
  /** Fetches served per key since start (or the last reset). */
  fetches(): Map<string, number>;
  resetFetches(): void;
  close(): Promise<void>;
}

/** The path that reports the fetch counts (`{"<key>": n}`) instead of serving a key. */
export const FETCHES_PATH = '/_fetches';

/**
 * A tiny upstream HTTP service for the cache-gateway app in local development, the demo and tests:
 * `GET /<key>` answers `{"key", "value", "servedAt"}` after `delayMs` (default 20, so concurrent
 * misses overlap) and counts the fetch per key; `GET /_fetches` returns the counts, so a test or a
 * person with curl can see how often each key was fetched. Listens on `host` (default 127.0.0.1).
 */
export async function startTinyUpstream(
  options: { port?: number; delayMs?: number; host?: string } = {},
): Promise<TinyUpstream> {
  const counts = new Map<string, number>();
  const delay = options.delayMs ?? 20;
  const server: Server = createServer((request, response) => {
    if (request.url === FETCHES_PATH) {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(Object.fromEntries(counts)));
      return;
    }
    const key = decodeURIComponent((request.url ?? '/').slice(1).split('?')[0] ?? '');
    counts.set(key, (counts.get(key) ?? 0) + 1);
    setTimeout(() => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ key, value: `value-of-${key}`, servedAt: new Date().toISOString() }));
    }, delay).unref();
  });
  server.keepAliveTimeout = 5000;
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    fetches: () => new Map(counts),
    resetFetches: () => counts.clear(),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
