import { checkPort, checkPositiveInt, checkToken, ConfigRenderError } from './config-render-error.ts';

/** Redis's `maxmemory-policy` values. */
export type RedisEvictionPolicy =
  | 'noeviction'
  | 'allkeys-lru'
  | 'allkeys-lfu'
  | 'allkeys-random'
  | 'volatile-lru'
  | 'volatile-lfu'
  | 'volatile-random'
  | 'volatile-ttl';

/** What Redis writes to disk; nothing unless asked. */
export interface RedisPersistence {
  /** RDB snapshot rules: snapshot after `seconds` if at least `changes` keys changed. */
  snapshots?: readonly { seconds: number; changes: number }[];
  /** Append-only file with `appendfsync everysec`. */
  appendOnly?: boolean;
}

/** Options of {@link renderRedisConfig}. */
export interface RedisConfigOptions {
  port: number;
  /** Space-separated addresses to listen on (`0.0.0.0` in a pod, `127.0.0.1` locally). */
  bind: string;
  /** `requirepass` for the default user; no authentication when unset. */
  password?: string;
  /** `maxmemory` as bytes or with a Redis unit (`256mb`, `1gb`); unlimited when unset. */
  maxMemory?: number | string;
  /** Default `allkeys-lru` when `maxMemory` is set (Capstan's Redis is a cache), Redis's default otherwise. */
  evictionPolicy?: RedisEvictionPolicy;
  persistence?: RedisPersistence;
  /** Working directory for RDB/AOF files; Redis's start directory when unset. */
  dir?: string;
}

/**
 * Renders a `redis.conf` for a foreground Redis that logs to stdout. Without `persistence` nothing is saved
 * (`save ""`, `appendonly no`). Protected mode stays on without a password (only loopback clients may then
 * connect) and is off with one (the password guards access). Pure; throws {@link ConfigRenderError} on
 * invalid options.
 */
export function renderRedisConfig(options: RedisConfigOptions): string {
  const lines = [
    `port ${checkPort('port', options.port)}`,
    `bind ${checkBind(options.bind)}`,
    `protected-mode ${options.password === undefined ? 'yes' : 'no'}`,
    'daemonize no',
    'logfile ""',
    'databases 16',
    ...(options.dir ? [`dir ${checkToken('dir', options.dir)}`] : []),
    ...(options.password === undefined ? [] : [`requirepass ${quote('password', options.password)}`]),
    ...memoryLines(options),
    ...persistenceLines(options.persistence),
  ];
  return `${lines.join('\n')}\n`;
}

function checkBind(bind: string): string {
  const addresses = bind.trim().split(/\s+/);
  if (addresses.length === 0 || addresses[0] === '') throw new ConfigRenderError('bind', 'no address');
  return addresses.map((a) => checkToken('bind', a)).join(' ');
}

function memoryLines(options: RedisConfigOptions): string[] {
  const lines: string[] = [];
  if (options.maxMemory !== undefined) lines.push(`maxmemory ${checkMemory(options.maxMemory)}`);
  const policy = options.evictionPolicy ?? (options.maxMemory === undefined ? undefined : 'allkeys-lru');
  if (policy !== undefined) lines.push(`maxmemory-policy ${checkToken('evictionPolicy', policy)}`);
  return lines;
}

function checkMemory(value: number | string): string {
  if (typeof value === 'number') return String(checkPositiveInt('maxMemory', value));
  if (!/^[1-9][0-9]*(b|k|kb|m|mb|g|gb)?$/i.test(value)) {
    throw new ConfigRenderError(
      'maxMemory',
      `expected bytes or a Redis size like 256mb, got ${JSON.stringify(value)}`,
    );
  }
  return value.toLowerCase();
}

function persistenceLines(persistence: RedisPersistence = {}): string[] {
  const snapshots = persistence.snapshots ?? [];
  const save = snapshots.length
    ? snapshots.map(
        (s, i) =>
          `save ${checkPositiveInt(`persistence.snapshots[${i}].seconds`, s.seconds)} ` +
          `${checkPositiveInt(`persistence.snapshots[${i}].changes`, s.changes)}`,
      )
    : ['save ""'];
  const aof = persistence.appendOnly ? ['appendonly yes', 'appendfsync everysec'] : ['appendonly no'];
  return [...save, ...aof];
}

/** A Redis config string argument in double quotes, with `\` and `"` escaped. */
function quote(field: string, value: string): string {
  if (value === '' || /[\r\n\0]/.test(value)) {
    throw new ConfigRenderError(field, 'must be non-empty and on one line');
  }
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
