import type { FastifyReply } from 'fastify';
import { Agent } from 'undici';
import { defineApp } from '../define-app.ts';
import type { AppDefinition, PartitionContext } from '../define-app.ts';
import { OwnerMemory } from '../owner-memory.ts';
import { SingleFlight } from '../singleflight.ts';

/** Options of {@link cacheGatewayApp}. */
export interface CacheGatewayOptions {
  /** Base URL of the upstream; a key `k` is fetched from `<upstream>/<encoded k>`. */
  upstream: string;
  /** How long a fetched value stays in the cache. */
  ttlSeconds: number;
  /** Deadline of one upstream fetch; default 5000 ms. */
  timeoutMs?: number;
  /** Bounds of the owner-local memory tier ({@link OwnerMemory}); default 10000 entries, 32 MiB; 0 turns it off. */
  memory?: { maxEntries: number; maxBytes: number };
}

/** A cached upstream answer. */
interface Entry {
  contentType: string;
  body: string;
  /** When it expires (ms since the epoch), the same in Redis and in memory; absent in older entries. */
  expiresAt?: number;
}

/** How a value was obtained: from the cache, fetched (and cached), or fetched with the cache down. */
type Source = 'hit' | 'miss' | 'bypass';

/** The upstream answered with a status that is not cached. */
interface Uncached {
  status: number;
  body: string;
}

/** Response header: the tier a hit came from, `memory` (the owner's own) or `redis` (shared). */
export const TIER_HEADER = 'x-cache-tier';

/**
 * The `cache-gateway` example app: `GET /v1/cache/:key` reads through the owner's memory and Redis to
 * the upstream. The owner
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
  const memory = new OwnerMemory<Entry>(options.memory ?? { maxEntries: 10_000, maxBytes: 32 * 2 ** 20 });
  /** Holds an entry Redis holds too, until Redis drops it. */
  const remember = (ctx: PartitionContext, entry: Entry): void => {
    const expiresAt = entry.expiresAt ?? Date.now() + options.ttlSeconds * 1000;
    // UTF-16 strings: two bytes a character, plus the entry's own overhead.
    const bytes = 2 * (entry.body.length + entry.contentType.length) + 128;
    memory.set(ctx.key, ctx.partition, entry, { bytes, expiresAt });
  };

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
    const entry: Entry = { contentType, body, expiresAt: Date.now() + options.ttlSeconds * 1000 };
    const stored = again.kind === 'miss' && (await cache.set(key, JSON.stringify(entry), options.ttlSeconds));
    // Only what Redis holds is held in memory: a new owner finds the same in Redis.
    if (stored) remember(ctx, entry);
    return { entry, source: stored ? 'miss' : 'bypass' };
  }

  return defineApp({
    name: 'cache-gateway',
    routes: [
      {
        method: 'GET',
        url: '/v1/cache/:key',
        handler: async (_request, reply, ctx) => {
          const held = memory.get(ctx.key);
          if (held !== undefined) return send(reply.header(TIER_HEADER, 'memory'), held, 'hit');
          const cached = await ctx.services.cache.get(ctx.key);
          if (cached.kind === 'hit') {
            const entry = JSON.parse(cached.value) as Entry;
            remember(ctx, entry);
            return send(reply.header(TIER_HEADER, 'redis'), entry, 'hit');
          }
          const { value, shared } = await flights.do(ctx.key, () => load(ctx.key, ctx));
          if (shared) ctx.services.metrics.coalescedMisses.inc();
          return send(reply, value.entry, value.source);
        },
      },
    ],
    // Entries of a partition that moved away are dropped, and again when it comes back: a fetch that
    // finished after the revocation must not outlive it.
    onPartitionRevoked: ({ partition }) => void memory.dropPartition(partition),
    onPartitionAssigned: ({ partition }) => void memory.dropPartition(partition),
    onClose: () => agent.close(),
  });
}

function send(reply: FastifyReply, entry: Entry | Uncached, source: Source): FastifyReply {
  void reply.header('x-cache', source);
  if ('status' in entry) return reply.code(entry.status).type('application/json').send(entry.body);
  return reply.type(entry.contentType).send(entry.body);
}
