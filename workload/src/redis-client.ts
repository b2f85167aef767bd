import { Redis } from 'ioredis';

/** Options of {@link createRedisClient}. */
export interface RedisClientOptions {
  url: string;
  password?: string | undefined;
  /** A command without an answer within this many ms fails with a timeout; default 500. */
  commandTimeoutMs?: number;
  /** Called for connection errors (ioredis reports every failed reconnect); rate-limit in the caller. */
  onError?: (error: Error) => void;
}

/**
 * An ioredis client set to fail fast: no offline queue (commands fail at once while disconnected), no
 * per-command retries, a command timeout, and reconnects in the background every 100..1000 ms. The
 * caller decides what a failed command means (the cache degrades; the fenced store refuses).
 */
export function createRedisClient(options: RedisClientOptions): Redis {
  const client = new Redis(options.url, {
    ...(options.password === undefined ? {} : { password: options.password }),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: options.commandTimeoutMs ?? 500,
    connectTimeout: 2000,
    retryStrategy: (attempt: number) => Math.min(100 * attempt, 1000),
    lazyConnect: false,
  });
  client.on('error', (error: Error) => options.onError?.(error));
  return client;
}

/** Closes the client: QUIT when connected, otherwise drops the connection (never waits for Redis). */
export async function closeRedisClient(client: Redis): Promise<void> {
  if (client.status === 'ready') {
    await client.quit().catch(() => client.disconnect());
    return;
  }
  client.disconnect();
}
