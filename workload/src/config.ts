import { hostname } from 'node:os';
import { workerAccess, type ClientAccess } from '../../common/src/zookeeper-acl.ts';
import { DEFAULT_MOVE_WAIT_MS } from './plugins/partition-router.ts';

/** A configuration value that is missing or invalid. `variables` names every offending variable. */
export class ConfigError extends Error {
  readonly code = 'CAPSTAN_CONFIG_INVALID';
  readonly variables: string[];
  constructor(problems: readonly { variable: string; message: string }[]) {
    super(`invalid configuration: ${problems.map((p) => `${p.variable}: ${p.message}`).join('; ')}`);
    this.name = 'ConfigError';
    this.variables = problems.map((p) => p.variable);
  }
}

/** Everything a worker process reads from its environment, validated. */
export interface WorkerConfig {
  workerId: string;
  namespace: string;
  /** Name of the DistributedApp (the ZooKeeper subtree is `/capstan/<namespace>/<appName>`). */
  appName: string;
  /** `cache-gateway`, `counters`, or the name of a custom app loaded from `appModule`. */
  app: string;
  appModule: string | undefined;
  partitions: number;
  host: string;
  port: number;
  /** Base URL other workers use to reach this one (`http://host:port`). */
  advertiseAddress: string;
  /**
   * `access`: the app's worker identity and the ACL of the nodes the worker creates (see zookeeper-acl.ts),
   * from CAPSTAN_ZOOKEEPER_PASSWORD and CAPSTAN_ZOOKEEPER_OPERATOR_ID; without them, nodes open to the world.
   */
  zookeeper: {
    connectString: string;
    sessionTimeoutMs: number;
    /**
     * How long a worker disconnected from ZooKeeper (session not expired) stays ready while serving
     * nothing; undefined: the default, a third of the granted session timeout and at most 5 s
     * (`disconnectGraceMs` in zookeeper-directory.ts).
     */
    disconnectGraceMs: number | undefined;
    access?: ClientAccess;
  };
  redis: { url: string; password: string | undefined; commandTimeoutMs: number };
  upstream: { url: string | undefined; timeoutMs: number };
  cacheTtlSeconds: number;
  /** Bounds of cache-gateway's owner-local memory tier; 0 turns it off. */
  memoryCache: { maxEntries: number; maxBytes: number };
  forwardTimeoutMs: number;
  /** How long a request for a moving partition waits for an owner before it gets 503. */
  moveWaitMs: number;
  /** SIGTERM: how long to keep serving while the load balancer notices the worker is not ready. */
  drainDelayMs: number;
  /** SIGTERM: the longest the whole drain may take before the worker exits anyway. */
  drainTimeoutMs: number;
  logLevel: string;
  sentry: { dsn: string; environment: string; sampleRate: number } | undefined;
  /**
   * The pod's UID and a file that survives container restarts in the pod (an emptyDir): together they
   * give each start of the worker an incarnation (see `Incarnation`). Either missing: none.
   */
  incarnation: { podUid: string; file: string } | undefined;
  /** Testing aid: counters requests marked `x-capstan-test-delay: 1` wait this long before writing. */
  countersWriteDelayMs: number;
}

type Env = Readonly<Record<string, string | undefined>>;
type Problems = { variable: string; message: string }[];

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Reads values from `env`, recording a problem (and returning a placeholder) for each bad one. */
class Reader {
  readonly problems: Problems = [];
  readonly #env: Env;
  constructor(env: Env) {
    this.#env = env;
  }

  string(name: string, fallback?: string): string {
    const value = this.#env[name]?.trim();
    if (value) return value;
    if (fallback === undefined) this.problems.push({ variable: name, message: 'is required' });
    return fallback ?? '';
  }

  optional(name: string): string | undefined {
    const value = this.#env[name]?.trim();
    return value ? value : undefined;
  }

  int(name: string, fallback: number, range: { min: number; max: number }): number {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^-?\d+$/.test(raw) || value < range.min || value > range.max) {
      this.problems.push({
        variable: name,
        message: `expected an integer from ${range.min} to ${range.max}, got ${JSON.stringify(raw)}`,
      });
      return fallback;
    }
    return value;
  }

  number(name: string, fallback: number, range: { min: number; max: number }): number {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < range.min || value > range.max) {
      this.problems.push({
        variable: name,
        message: `expected a number from ${range.min} to ${range.max}, got ${JSON.stringify(raw)}`,
      });
      return fallback;
    }
    return value;
  }

  url(name: string, protocols: string[], required: boolean): string | undefined {
    const raw = required ? this.string(name) : this.optional(name);
    if (!raw) return undefined;
    try {
      const url = new URL(raw);
      if (protocols.includes(url.protocol) && url.hostname !== '') return raw;
    } catch {
      // reported below
    }
    this.problems.push({
      variable: name,
      message: `expected an absolute ${protocols.map((p) => p.replace(':', '')).join(' or ')} URL, got ${JSON.stringify(raw)}`,
    });
    return undefined;
  }

  oneOf(name: string, fallback: string, allowed: readonly string[]): string {
    const value = this.string(name, fallback);
    if (allowed.includes(value)) return value;
    this.problems.push({ variable: name, message: `expected one of ${allowed.join(', ')}, got ${value}` });
    return fallback;
  }

  matches(name: string, value: string, pattern: RegExp, what: string): string {
    if (value !== '' && !pattern.test(value))
      this.problems.push({ variable: name, message: `must be ${what}` });
    return value;
  }
}

const MS = { min: 1, max: 3_600_000 };

/**
 * Reads and validates the worker configuration from `env` (process.env by default). Every variable is
 * checked before anything starts; all problems are reported together in one {@link ConfigError} that
 * names each variable. Defaults are listed in the README's configuration table.
 */
export function loadConfig(env: Env = process.env): WorkerConfig {
  const r = new Reader(env);
  const app = r.matches('CAPSTAN_APP', r.string('CAPSTAN_APP', 'cache-gateway'), DNS_LABEL, 'a DNS label');
  const appModule = r.optional('CAPSTAN_APP_MODULE');
  if (app !== 'cache-gateway' && app !== 'counters' && appModule === undefined) {
    r.problems.push({ variable: 'CAPSTAN_APP_MODULE', message: `is required for the custom app ${app}` });
  }
  const host = r.string('CAPSTAN_HOST', '0.0.0.0');
  const port = r.int('CAPSTAN_PORT', 8080, { min: 0, max: 65535 });
  const upstreamUrl = r.url('CAPSTAN_UPSTREAM', ['http:', 'https:'], app === 'cache-gateway');
  const config: WorkerConfig = {
    workerId: r.matches(
      'CAPSTAN_WORKER_ID',
      r.string('CAPSTAN_WORKER_ID', hostname()),
      /^[^/\s]+$/,
      'without / or spaces',
    ),
    ...appRef(r),
    app,
    appModule,
    partitions: r.int('CAPSTAN_PARTITIONS', 64, { min: 1, max: 4096 }),
    host,
    port,
    advertiseAddress:
      r.url('CAPSTAN_ADVERTISE_ADDRESS', ['http:'], false) ??
      `http://${host === '0.0.0.0' ? hostname() : host}:${port}`,
    zookeeper: zooKeeperConfig(r),
    redis: {
      url: r.url('CAPSTAN_REDIS_URL', ['redis:', 'rediss:'], true) ?? '',
      password: r.optional('CAPSTAN_REDIS_PASSWORD'),
      commandTimeoutMs: r.int('CAPSTAN_REDIS_COMMAND_TIMEOUT_MS', 500, MS),
    },
    upstream: { url: upstreamUrl, timeoutMs: r.int('CAPSTAN_UPSTREAM_TIMEOUT_MS', 5000, MS) },
    cacheTtlSeconds: r.int('CAPSTAN_CACHE_TTL_SECONDS', 60, { min: 1, max: 86_400 * 30 }),
    memoryCache: {
      maxEntries: r.int('CAPSTAN_MEMORY_CACHE_ENTRIES', 10_000, { min: 0, max: 10_000_000 }),
      maxBytes: r.int('CAPSTAN_MEMORY_CACHE_BYTES', 32 * 2 ** 20, { min: 0, max: 2 ** 40 }),
    },
    forwardTimeoutMs: r.int('CAPSTAN_FORWARD_TIMEOUT_MS', 5000, MS),
    moveWaitMs: r.int('CAPSTAN_MOVE_WAIT_MS', DEFAULT_MOVE_WAIT_MS, { min: 0, max: 60_000 }),
    drainDelayMs: r.int('CAPSTAN_DRAIN_DELAY_MS', 2000, { min: 0, max: 300_000 }),
    drainTimeoutMs: r.int('CAPSTAN_DRAIN_TIMEOUT_MS', 25_000, MS),
    logLevel: r.oneOf('LOG_LEVEL', 'info', LOG_LEVELS),
    sentry: sentryConfig(r),
    incarnation: incarnationConfig(r),
    countersWriteDelayMs: r.int('CAPSTAN_COUNTERS_WRITE_DELAY_MS', 0, { min: 0, max: 600_000 }),
  };
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return config;
}

/** The app a process belongs to: its namespace and name, DNS labels. */
function appRef(r: Reader): { namespace: string; appName: string } {
  return {
    namespace: r.matches(
      'CAPSTAN_NAMESPACE',
      r.string('CAPSTAN_NAMESPACE', 'default'),
      DNS_LABEL,
      'a DNS label',
    ),
    appName: r.matches('CAPSTAN_APP_NAME', r.string('CAPSTAN_APP_NAME'), DNS_LABEL, 'a DNS label'),
  };
}

function zooKeeperConfig(r: Reader): WorkerConfig['zookeeper'] {
  const sessionTimeoutMs = r.int('CAPSTAN_ZOOKEEPER_SESSION_TIMEOUT_MS', 10_000, { min: 1000, max: 120_000 });
  return {
    connectString: r.string('CAPSTAN_ZOOKEEPER_CONNECT'),
    sessionTimeoutMs,
    disconnectGraceMs: disconnectGrace(r, sessionTimeoutMs),
    ...zooKeeperAccess(r),
  };
}

/**
 * CAPSTAN_ZOOKEEPER_DISCONNECT_GRACE_MS: 0 up to half the session timeout. A longer grace would keep a
 * worker in the load balancer while its session may expire and its partitions move away.
 */
function disconnectGrace(r: Reader, sessionTimeoutMs: number): number | undefined {
  const name = 'CAPSTAN_ZOOKEEPER_DISCONNECT_GRACE_MS';
  if (r.optional(name) === undefined) return undefined;
  const grace = r.int(name, -1, { min: 0, max: 60_000 });
  if (grace < 0) return undefined;
  const max = Math.floor(sessionTimeoutMs / 2);
  if (grace <= max) return grace;
  r.problems.push({
    variable: name,
    message: `must be at most half of CAPSTAN_ZOOKEEPER_SESSION_TIMEOUT_MS (${max} ms), got ${grace}`,
  });
  return undefined;
}

function zooKeeperAccess(r: Reader): { access?: ClientAccess } {
  const password = r.optional('CAPSTAN_ZOOKEEPER_PASSWORD');
  const operatorId = r.optional('CAPSTAN_ZOOKEEPER_OPERATOR_ID');
  if (password === undefined && operatorId === undefined) return {};
  if (password === undefined || operatorId === undefined) {
    const missing = password === undefined ? 'CAPSTAN_ZOOKEEPER_PASSWORD' : 'CAPSTAN_ZOOKEEPER_OPERATOR_ID';
    r.problems.push({
      variable: missing,
      message: 'is required with the other of CAPSTAN_ZOOKEEPER_PASSWORD and CAPSTAN_ZOOKEEPER_OPERATOR_ID',
    });
    return {};
  }
  if (!/^[^:]+:[A-Za-z0-9+/]+=*$/.test(operatorId)) {
    r.problems.push({
      variable: 'CAPSTAN_ZOOKEEPER_OPERATOR_ID',
      message: 'must be a ZooKeeper digest id (user:base64 of the SHA-1 of user:password)',
    });
    return {};
  }
  return { access: workerAccess(password, operatorId) };
}

function incarnationConfig(r: Reader): WorkerConfig['incarnation'] {
  const podUid = r.optional('CAPSTAN_POD_UID');
  const file = r.optional('CAPSTAN_INCARNATION_FILE');
  return podUid === undefined || file === undefined ? undefined : { podUid, file };
}

function sentryConfig(r: Reader): WorkerConfig['sentry'] {
  const dsn = r.url('SENTRY_DSN', ['http:', 'https:'], false);
  const environment = r.string('SENTRY_ENVIRONMENT', 'production');
  const sampleRate = r.number('SENTRY_SAMPLE_RATE', 1, { min: 0, max: 1 });
  return dsn === undefined ? undefined : { dsn, environment, sampleRate };
}

/** What the owner-map process beside HAProxy reads (see `owner-map-main.ts`). */
export interface OwnerMapConfig {
  namespace: string;
  appName: string;
  zookeeper: WorkerConfig['zookeeper'];
  /** HAProxy's admin socket, `host:port` on loopback. */
  runtime: { host: string; port: number };
  /** The map file as HAProxy's config names it. */
  mapFile: string;
  logLevel: string;
}

/** Reads and checks the owner-map process's environment; throws {@link ConfigError} listing every problem. */
export function loadOwnerMapConfig(env: Env = process.env): OwnerMapConfig {
  const r = new Reader(env);
  const runtime = r.matches(
    'CAPSTAN_HAPROXY_RUNTIME',
    r.string('CAPSTAN_HAPROXY_RUNTIME', '127.0.0.1:9999'),
    /^[^:\s]+:\d+$/,
    'host:port',
  );
  const [host, port] = runtime.split(':');
  const config: OwnerMapConfig = {
    ...appRef(r),
    zookeeper: zooKeeperConfig(r),
    runtime: { host: host ?? '127.0.0.1', port: Number(port) },
    mapFile: r.string('CAPSTAN_HAPROXY_MAP'),
    logLevel: r.oneOf('LOG_LEVEL', 'info', LOG_LEVELS),
  };
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return config;
}
