/**
 * Worker metrics counted where things happen: coalesced cache misses in cache-gateway and fenced writes
 * the store could not complete, by outcome.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cacheGatewayApp } from '../../../workload/src/apps/cache-gateway.ts';
import { defineApp, type AppServices } from '../../../workload/src/define-app.ts';
import { StoreUnavailableError } from '../../../workload/src/fenced-store.ts';
import { createWorkloadMetrics, type WorkloadMetrics } from '../../../workload/src/metrics.ts';
import { StaticDirectory } from '../../../workload/src/partition-directory.ts';
import type { RedisCache } from '../../../workload/src/redis-cache.ts';
import { buildApp } from '../../../workload/src/server.ts';

const PARTITIONS = 4;
const ownedHere = () =>
  new StaticDirectory(
    'here',
    Array.from({ length: PARTITIONS }, () => ({ workerId: 'here', address: '' })),
  );

/** A cache that never has anything and accepts every write. */
function emptyCache(metrics: WorkloadMetrics): RedisCache {
  return {
    get: () => {
      metrics.cacheMisses.inc();
      return Promise.resolve({ kind: 'miss' });
    },
    set: () => Promise.resolve(true),
  } as unknown as RedisCache;
}

async function metricValue(metrics: WorkloadMetrics, name: string): Promise<string> {
  const line = (await metrics.registry.metrics()).split('\n').find((l) => l.startsWith(`${name} `));
  return line?.split(' ')[1] ?? 'absent';
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('capstan_worker_coalesced_misses_total', () => {
  let upstream: Server;
  const held: ServerResponse[] = [];
  let fetches = 0;

  beforeAll(async () => {
    upstream = createServer((_request, response) => {
      fetches++;
      held.push(response);
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    for (const response of held) response.end();
    await new Promise((resolve) => upstream.close(resolve));
  });

  it('counts a miss that joined the fetch in flight for its key', async () => {
    const metrics = createWorkloadMetrics();
    const definition = cacheGatewayApp({
      upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
      ttlSeconds: 1,
    });
    const app = await buildApp({
      definition,
      directory: ownedHere(),
      services: { cache: emptyCache(metrics), metrics } as unknown as AppServices,
      metrics,
      partitions: PARTITIONS,
    });
    try {
      expect(await metricValue(metrics, 'capstan_worker_coalesced_misses_total')).toBe('0');
      const first = app.inject({ url: '/v1/cache/k' });
      await until('the first fetch', () => Promise.resolve(held.length === 1));
      const second = app.inject({ url: '/v1/cache/k' });
      // Misses: the first request's, its re-check inside the flight, then the second request's.
      await until('the second miss', async () => {
        return (await metricValue(metrics, 'capstan_worker_cache_misses_total')) === '3';
      });
      held[0]?.writeHead(200, { 'content-type': 'text/plain' }).end('v');
      const answers = await Promise.all([first, second]);
      expect(answers.map((a) => [a.statusCode, a.body])).toEqual([
        [200, 'v'],
        [200, 'v'],
      ]);
      expect(fetches).toBe(1);
      expect(await metricValue(metrics, 'capstan_worker_coalesced_misses_total')).toBe('1');
    } finally {
      await app.close();
      await definition.onClose?.();
    }
  });
});

describe('capstan_worker_store_unavailable_total', () => {
  it('counts failed fenced writes by outcome, both outcomes present from the start', async () => {
    const metrics = createWorkloadMetrics();
    const failures = [
      new StoreUnavailableError(new Error('Command timed out'), true),
      new StoreUnavailableError(new Error('Connection is closed.')),
    ];
    const app = await buildApp({
      definition: defineApp({
        name: 'store',
        routes: [
          {
            method: 'POST',
            url: '/v1/things/:key',
            handler: () => Promise.reject(failures.shift() ?? new Error('no more failures')),
          },
        ],
      }),
      directory: ownedHere(),
      services: {} as AppServices,
      metrics,
      partitions: PARTITIONS,
    });
    try {
      const before = await metrics.registry.metrics();
      expect(before).toContain('capstan_worker_store_unavailable_total{outcome="unknown"} 0');
      expect(before).toContain('capstan_worker_store_unavailable_total{outcome="not_applied"} 0');
      const codes = [];
      for (let i = 0; i < 2; i++)
        codes.push((await app.inject({ method: 'POST', url: '/v1/things/a' })).statusCode);
      expect(codes).toEqual([504, 503]);
      const after = await metrics.registry.metrics();
      expect(after).toContain('capstan_worker_store_unavailable_total{outcome="unknown"} 1');
      expect(after).toContain('capstan_worker_store_unavailable_total{outcome="not_applied"} 1');
    } finally {
      await app.close();
    }
  });
});
