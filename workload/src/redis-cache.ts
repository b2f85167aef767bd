import type { Redis } from 'ioredis';
import type { WorkloadMetrics } from './metrics.ts';

/** Result of a cache read: a hit, a miss, or `unavailable` when Redis failed (served degraded). */
export type CacheRead =
  { kind: 'hit'; value: string } | { kind: 'miss' } | { kind: 'unavailable'; error: Error };

/** Options of {@link RedisCache}. */
export interface RedisCacheOptions {
  client: Redis;
  /** Prefix of every key, e.g. `capstan:{ns/app}:cache:`. */
  prefix: string;
  metrics: WorkloadMetrics;
  /** Called once per failed operation (the caller rate-limits its logging). */
  onError?: (error: Error, operation: 'get' | 'set') => void;
}

/**
 * A string cache in Redis that never fails its caller: when Redis is down or slow (the client fails
 * fast), reads report `unavailable` and writes report false, each counted in
 * `capstan_worker_cache_errors_total`; hits and misses are counted too.
 */
export class RedisCache {
  readonly #client: Redis;
  readonly #prefix: string;
  readonly #metrics: WorkloadMetrics;
  readonly #onError: (error: Error, operation: 'get' | 'set') => void;

  constructor(options: RedisCacheOptions) {
    this.#client = options.client;
    this.#prefix = options.prefix;
    this.#metrics = options.metrics;
    this.#onError = options.onError ?? (() => undefined);
  }

  /** Reads `key`. Never rejects. */
  async get(key: string): Promise<CacheRead> {
    try {
      const value = await this.#client.get(this.#prefix + key);
      if (value === null) {
        this.#metrics.cacheMisses.inc();
        return { kind: 'miss' };
      }
      this.#metrics.cacheHits.inc();
      return { kind: 'hit', value };
    } catch (error) {
      return { kind: 'unavailable', error: this.#failed(error, 'get') };
    }
  }

  /** Writes `key` with a time to live; false when Redis failed. Never rejects. */
  async set(key: string, value: string, ttlSeconds: number): Promise<boolean> {
    try {
      await this.#client.set(this.#prefix + key, value, 'EX', ttlSeconds);
      return true;
    } catch (error) {
      this.#failed(error, 'set');
      return false;
    }
  }

  #failed(error: unknown, operation: 'get' | 'set'): Error {
    const failure = error instanceof Error ? error : new Error(String(error));
    this.#metrics.cacheErrors.inc({ operation });
    this.#onError(failure, operation);
    return failure;
  }
}
