import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderRedisConfig } from '../../../common/src/redis-config.ts';
import { tcpExchange } from '../../../common/src/tcp-exchange.ts';
import { findBinary } from './binaries.ts';
import { freePort, LOOPBACK } from './ports.ts';
import { logTailSection, spawnManaged, type ManagedProcess } from './process.ts';
import { waitUntil } from './probes.ts';
import { makeTempDir, removeDir } from './temp-dir.ts';

/** Options of {@link startRedis}. */
export interface RedisOptions {
  /** `requirepass`; no authentication when unset. */
  password?: string;
  /** Port to listen on; a free one when unset. */
  port?: number;
  /** Readiness deadline in milliseconds; default 15000. */
  startTimeoutMs?: number;
}

/** A running redis-server on 127.0.0.1. */
export interface RedisService {
  host: string;
  port: number;
  /** `redis://[:password@]127.0.0.1:<port>` for ioredis and friends. */
  url: string;
  password: string | undefined;
  /** The instance's directory (config, log, working dir); removed by stop(). */
  dir: string;
  /** The current process (a new one after restart()). */
  readonly process: ManagedProcess;
  /** SIGTERM, then SIGKILL after a grace period; removes the directory. Idempotent. */
  stop(): Promise<void>;
  /** Ends the process with `signal` (default SIGKILL) and waits for its exit; the directory stays. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Stops the process if it runs and starts a new one on the same port with the same config. */
  restart(): Promise<void>;
}

/**
 * Starts redis-server in a temp directory with a config from {@link renderRedisConfig} (no persistence),
 * resolving once `PING` answers `PONG`. Throws a HarnessError with the log tail if it exits first or
 * does not answer in time.
 */
export async function startRedis(options: RedisOptions = {}): Promise<RedisService> {
  const binary = findBinary('redis-server', 'redis-server');
  const dir = await makeTempDir('redis');
  const port = options.port ?? (await freePort());
  const configFile = join(dir, 'redis.conf');
  const config = renderRedisConfig({ port, bind: LOOPBACK, password: options.password, dir });
  await writeFile(configFile, config);

  let current: ManagedProcess;
  let removed = false;
  const launch = async (): Promise<void> => {
    current = spawnManaged({ name: 'redis', command: binary, args: [configFile], dir });
    await waitForPong(current, port, options);
  };
  try {
    await launch();
  } catch (error) {
    await current!.stop();
    await removeDir(dir);
    throw error;
  }

  const auth = options.password === undefined ? '' : `:${encodeURIComponent(options.password)}@`;
  return {
    host: LOOPBACK,
    port,
    url: `redis://${auth}${LOOPBACK}:${port}`,
    password: options.password,
    dir,
    get process() {
      return current;
    },
    async stop() {
      await current.stop();
      if (!removed) await removeDir(dir);
      removed = true;
    },
    async kill(signal = 'SIGKILL') {
      await current.kill(signal);
    },
    async restart() {
      await current.stop();
      await launch();
    },
  };
}

function waitForPong(proc: ManagedProcess, port: number, options: RedisOptions): Promise<void> {
  const auth = options.password === undefined ? '' : resp('AUTH', options.password);
  return waitUntil(
    async () => {
      const reply = await tcpExchange(LOOPBACK, port, `${auth}${resp('PING')}`, {
        until: (r) => r.includes('+PONG') || r.includes('-'),
      });
      return reply.includes('+PONG');
    },
    {
      what: `redis-server on ${LOOPBACK}:${port} answering PING`,
      timeoutMs: options.startTimeoutMs ?? 15_000,
      abortReason: () => proc.describeExit(),
      details: () => logTailSection(proc),
    },
  );
}

/** A command in the Redis protocol's array-of-bulk-strings form (safe for any password bytes). */
function resp(...parts: string[]): string {
  const body = parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('');
  return `*${parts.length}\r\n${body}`;
}
