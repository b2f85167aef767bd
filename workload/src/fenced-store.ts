import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/** A write carried an epoch older than the newest the store has seen for its partition. */
export class StaleEpochError extends Error {
  readonly code = 'CAPSTAN_STALE_EPOCH';
  readonly partition: number;
  readonly epoch: number;
  readonly newest: number;
  constructor(partition: number, epoch: number, newest: number) {
    super(`partition ${partition}: epoch ${epoch} is older than ${newest}; the write was rejected`);
    this.name = 'StaleEpochError';
    this.partition = partition;
    this.epoch = epoch;
    this.newest = newest;
  }
}

/** Redis failed or did not answer in time; the write may or may not have been applied. */
export class StoreUnavailableError extends Error {
  readonly code = 'CAPSTAN_STORE_UNAVAILABLE';
  /**
   * A write whose command reached Redis and got no answer (timed out, connection lost): it may have been
   * applied. False when it was never sent (no connection: the client queues nothing).
   */
  readonly mayHaveApplied: boolean;
  constructor(cause: unknown, write = false) {
    super(`store unavailable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'StoreUnavailableError';
    this.mayHaveApplied = write && !NOT_SENT.test(cause instanceof Error ? cause.message : '');
  }
}

/** ioredis's message for a command refused while disconnected (the offline queue is off). */
const NOT_SENT = /Stream isn't writeable|Connection is closed|NOSCRIPT/;

// KEYS[1] epoch of the partition, KEYS[2] the value, KEYS[3] the request-id record ('' for none).
// ARGV[1] epoch, ARGV[2] op (fence | incr | set), ARGV[3] operand, ARGV[4] request-id TTL in seconds.
// Compare-and-write: the epoch is checked and raised in the same script that writes, so no write
// with a stale epoch can land after a newer owner has fenced the partition.
const SCRIPT = `
local newest = tonumber(redis.call('GET', KEYS[1]) or '-1')
local epoch = tonumber(ARGV[1])
if epoch < newest then return redis.error_reply('STALE_EPOCH ' .. newest) end
if epoch > newest then redis.call('SET', KEYS[1], epoch) end
if ARGV[2] == 'fence' then return {epoch, 0} end
if KEYS[3] ~= '' then
  local previous = redis.call('GET', KEYS[3])
  if previous then return {previous, 1} end
end
local result
if ARGV[2] == 'incr' then
  result = redis.call('INCRBY', KEYS[2], ARGV[3])
else
  redis.call('SET', KEYS[2], ARGV[3])
  result = ARGV[3]
end
if KEYS[3] ~= '' then redis.call('SET', KEYS[3], result, 'EX', ARGV[4]) end
return {result, 0}
`;
const SHA = createHash('sha1').update(SCRIPT).digest('hex');

/** One fenced write. `requestId` makes a retried write idempotent (its first result is returned). */
export interface FencedWrite {
  partition: number;
  epoch: number;
  key: string;
  requestId?: string | undefined;
}

/** Result of a fenced write; `duplicate` when `requestId` had been applied already. */
export interface FencedResult {
  value: string;
  duplicate: boolean;
}

/** Options of {@link FencedStore}. */
export interface FencedStoreOptions {
  client: Redis;
  /** Prefix of every key, e.g. `capstan:{ns/app}:`. */
  prefix: string;
  /** How long a request id is remembered; default 600 s. */
  requestIdTtlSeconds?: number;
}

/**
 * Values in Redis whose writes are fenced by partition epoch: a write is applied only if its epoch is
 * at least the newest epoch the store has seen for its partition (and raises it). A new owner calls
 * {@link FencedStore.fence} on claiming a partition, so from then on a paused or partitioned old owner
 * cannot write. Fails with {@link StaleEpochError} or {@link StoreUnavailableError}.
 */
export class FencedStore {
  readonly #client: Redis;
  readonly #prefix: string;
  readonly #ttl: number;

  constructor(options: FencedStoreOptions) {
    this.#client = options.client;
    this.#prefix = options.prefix;
    this.#ttl = options.requestIdTtlSeconds ?? 600;
  }

  /** Raises the partition's epoch to at least `epoch`; rejects when a newer epoch was seen. */
  async fence(partition: number, epoch: number): Promise<void> {
    await this.#run({ partition, epoch, key: '' }, 'fence', '0');
  }

  /** Adds `by` to the integer at `key`; resolves the new value. */
  async increment(write: FencedWrite, by = 1): Promise<FencedResult> {
    return this.#run(write, 'incr', String(by));
  }

  /** Sets `key` to `value`. */
  async set(write: FencedWrite, value: string): Promise<FencedResult> {
    return this.#run(write, 'set', value);
  }

  /** Reads `key` (unfenced: reads have no side effects); undefined when absent. */
  async get(key: string): Promise<string | undefined> {
    try {
      return (await this.#client.get(this.#valueKey(key))) ?? undefined;
    } catch (error) {
      throw new StoreUnavailableError(error);
    }
  }

  /** The newest epoch seen for `partition`, -1 when none. */
  async newestEpoch(partition: number): Promise<number> {
    try {
      return Number((await this.#client.get(this.#epochKey(partition))) ?? -1);
    } catch (error) {
      throw new StoreUnavailableError(error);
    }
  }

  async #run(write: FencedWrite, op: string, operand: string): Promise<FencedResult> {
    const keys = [
      this.#epochKey(write.partition),
      op === 'fence' ? '' : this.#valueKey(write.key),
      write.requestId ? `${this.#prefix}request:${write.key}:${write.requestId}` : '',
    ];
    const args = [String(write.epoch), op, operand, String(this.#ttl)];
    let reply: unknown;
    try {
      reply = await this.#eval(keys, args);
    } catch (error) {
      const newest = /^STALE_EPOCH (-?\d+)/.exec(error instanceof Error ? error.message : '');
      if (newest) throw new StaleEpochError(write.partition, write.epoch, Number(newest[1]));
      throw new StoreUnavailableError(error, op !== 'fence');
    }
    const [value, duplicate] = reply as [string | number, number];
    return { value: String(value), duplicate: duplicate === 1 };
  }

  async #eval(keys: string[], args: string[]): Promise<unknown> {
    try {
      return await this.#client.evalsha(SHA, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return this.#client.eval(SCRIPT, keys.length, ...keys, ...args);
    }
  }

  #epochKey(partition: number): string {
    return `${this.#prefix}epoch:${partition}`;
  }

  #valueKey(key: string): string {
    return `${this.#prefix}value:${key}`;
  }
}
