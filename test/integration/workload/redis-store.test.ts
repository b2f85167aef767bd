import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { startRedis } from '../../../workload/src/local/redis.ts';
import type { RedisService } from '../../../workload/src/local/redis.ts';
import { waitUntil } from '../../../workload/src/local/probes.ts';
import { FencedStore, StaleEpochError, StoreUnavailableError } from '../../../workload/src/fenced-store.ts';
import { createWorkloadMetrics } from '../../../workload/src/metrics.ts';
import { RedisCache } from '../../../workload/src/redis-cache.ts';
import { closeRedisClient, createRedisClient } from '../../../workload/src/redis-client.ts';

describe('Redis cache and fenced store against a real redis-server', () => {
  let redis: RedisService;
  let client: Redis;
  const metrics = createWorkloadMetrics();

  beforeAll(async () => {
    redis = await startRedis();
    client = createRedisClient({ url: redis.url, commandTimeoutMs: 300 });
    await waitUntil(async () => Promise.resolve(client.status === 'ready'), {
      what: 'ioredis ready',
      timeoutMs: 5000,
    });
  });
  afterAll(async () => {
    await closeRedisClient(client);
    await redis.stop();
  });

  it('fenced writes: a stale epoch is rejected, newer epochs raise the fence', async () => {
    const store = new FencedStore({ client, prefix: 'test:{a}:' });
    expect(await store.increment({ partition: 3, epoch: 1, key: 'k' })).toEqual({
      value: '1',
      duplicate: false,
    });
    await store.fence(3, 2);
    await expect(store.increment({ partition: 3, epoch: 1, key: 'k' })).rejects.toBeInstanceOf(
      StaleEpochError,
    );
    await expect(store.fence(3, 1)).rejects.toMatchObject({ code: 'CAPSTAN_STALE_EPOCH', newest: 2 });
    expect(await store.increment({ partition: 3, epoch: 2, key: 'k' }, 5)).toEqual({
      value: '6',
      duplicate: false,
    });
    expect(await store.newestEpoch(3)).toBe(2);
    // Other partitions have their own fence.
    expect((await store.increment({ partition: 4, epoch: 0, key: 'k' })).value).toBe('7');
    expect(await store.get('k')).toBe('7');
  });

  it('a retried write with the same request id is applied once', async () => {
    const store = new FencedStore({ client, prefix: 'test:{b}:' });
    const write = { partition: 0, epoch: 0, key: 'c', requestId: 'r1' };
    expect(await store.increment(write)).toEqual({ value: '1', duplicate: false });
    expect(await store.increment(write)).toEqual({ value: '1', duplicate: true });
    expect(await store.get('c')).toBe('1');
  });

  it('cache: miss, hit, and degraded (never failing) while Redis is down; resumes after', async () => {
    const cache = new RedisCache({ client, prefix: 'test:cache:', metrics });
    expect(await cache.get('x')).toEqual({ kind: 'miss' });
    expect(await cache.set('x', 'v', 60)).toBe(true);
    expect(await cache.get('x')).toEqual({ kind: 'hit', value: 'v' });

    await redis.kill();
    await waitUntil(async () => Promise.resolve(client.status !== 'ready'), {
      what: 'client notices',
      timeoutMs: 5000,
    });
    expect((await cache.get('x')).kind).toBe('unavailable');
    expect(await cache.set('x', 'v', 60)).toBe(false);
    const store = new FencedStore({ client, prefix: 'test:{c}:' });
    await expect(store.increment({ partition: 0, epoch: 0, key: 'k' })).rejects.toBeInstanceOf(
      StoreUnavailableError,
    );
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/capstan_worker_cache_errors_total\{operation="get"\} [1-9]/);

    await redis.restart();
    await waitUntil(async () => (await cache.set('y', 'w', 60)) === true, {
      what: 'cache writes resume',
      timeoutMs: 10_000,
    });
    expect(await cache.get('y')).toEqual({ kind: 'hit', value: 'w' });
  });
});
