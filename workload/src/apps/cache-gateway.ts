import type { FastifyReply } from 'fastify';
import { Agent } from 'undici';
import { defineApp } from '../define-app.ts';
import type { AppDefinition, PartitionContext } from '../define-app.ts';
import { SingleFlight } from '../singleflight.ts';

/** Options of {@link cacheGatewayApp}. */
export interface CacheGatewayOptions {
  /** Base URL of the upstream; a key `k` is fetched from `<upstream>/<encoded k>`. */
  upstream: string;
  /** How long a fetched value stays in the cache. */
  ttlSeconds: number;
  /** Deadline of one upstream fetch; default 5000 ms. */
  timeoutMs?: number;
}

/** A cached upstream answer. */
interface Entry {
  contentType: string;
  body: string;
}

/** How a value was obtained: from the cache, fetched (and cached), or fetched with the cache down. */
type Source = 'hit' | 'miss' | 'bypass';

/** The upstream answered with a status that is not cached. */
interface Uncached {
  status: number;
  body: string;
}

/**
 * The `cache-gateway` example app: `GET /v1/cache/:key` reads through Redis to the upstream. The owner
 * of a key's partition coalesces concurrent misses (single-flight, re-checking the cache inside the
 * flight), so the fleet fetches each key from the upstream once per TTL. With Redis down every request
 * is served from the upstream (`x-cache: bypass`), still coalesced. Only 200 answers are cached; other
 * statuses are passed through; an unreachable upstream is a 502.
 */
export function cacheGatewayApp(options: CacheGatewayOptions): AppDefinition {
  const base = options.upstream.replace(/\/+$/, '');
  const timeout = options.timeoutMs ?? 5000;
  const agent = new Agent({ headersTimeout: timeout, bodyTimeout: timeout, keepAliveTimeout: 10_000 });
  const flights = new SingleFlight<{ entry: Entry | Uncached; source: Source }>();

  async function load(
    key: string,
    ctx: PartitionContext,
  ): Promise<{ entry: Entry | Uncached; source: Source }> {
    const { cache, metrics } = ctx.services;
    const again = await cache.get(key);
    if (again.kind === 'hit') return { entry: JSON.parse(again.value) as Entry, source: 'hit' };
    let response;
    try {
      response = await agent.request({
        origin: base,
        path: `${new URL(base).pathname.replace(/\/$/, '')}/${encodeURIComponent(key)}`,
        method: 'GET',
      });
    } catch (error) {
      metrics.upstreamFetches.inc({ result: 'error' });
      ctx.log.warn({ err: error }, 'upstream fetch failed');
      return {
        entry: { status: 502, body: JSON.stringify({ error: 'UPSTREAM_UNAVAILABLE' }) },
        source: 'miss',
      };
    }
    const body = await response.body.text();
    metrics.upstreamFetches.inc({ result: response.statusCode === 200 ? 'ok' : 'error' });
    if (response.statusCode !== 200) return { entry: { status: response.statusCode, body }, source: 'miss' };
    const contentType = String(response.headers['content-type'] ?? 'application/octet-stream');
    const entry: Entry = { contentType, body };
    const stored = again.kind === 'miss' && (await cache.set(key, JSON.stringify(entry), options.ttlSeconds));
    return { entry, source: stored ? 'miss' : 'bypass' };
  }

  return defineApp({
    name: 'cache-gateway',
    routes: [
      {
        method: 'GET',
        url: '/v1/cache/:key',
        handler: async (_request, reply, ctx) => {
          const cached = await ctx.services.cache.get(ctx.key);
          if (cached.kind === 'hit') return send(reply, JSON.parse(cached.value) as Entry, 'hit');
          const { value, shared } = await flights.do(ctx.key, () => load(ctx.key, ctx));
          if (shared) ctx.services.metrics.coalescedMisses.inc();
          return send(reply, value.entry, value.source);
        },
      },
    ],
    onClose: () => agent.close(),
  });
}

function send(reply: FastifyReply, entry: Entry | Uncached, source: Source): FastifyReply {
  void reply.header('x-cache', source);
  if ('status' in entry) return reply.code(entry.status).type('application/json').send(entry.body);
  return reply.type(entry.contentType).send(entry.body);
}
