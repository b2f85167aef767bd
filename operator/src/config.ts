/**
 * The operator's settings from command-line flags and the environment (the only place the operator
 * reads the environment). A flag wins over its variable; each variable is the flag's name in upper
 * case with `CAPSTAN_` in front (`--log-level` <- `CAPSTAN_LOG_LEVEL`). Invalid input throws
 * `ConfigError` naming the flag.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

/** Invalid flags or environment, with a stable `code`. */
export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** A host and port to listen on. */
export interface BindAddress {
  host: string;
  port: number;
}

/** Settings of one operator process. */
export interface OperatorConfig {
  /** Namespaces to watch; empty: all. */
  namespaces: string[];
  /** undefined: no metrics server ("0"). */
  metricsAddress: BindAddress | undefined;
  /** undefined: no health server ("0"). */
  healthAddress: BindAddress | undefined;
  /** undefined: no dashboard ("0"); beyond loopback it asks for a Kubernetes token. */
  dashboardAddress: BindAddress | undefined;
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectionId: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  maxConcurrentReconciles: number;
  logLevel: string;
  /** Path of a kubeconfig; undefined: in-cluster configuration. */
  kubeconfig: string | undefined;
  clusterDomain: string | undefined;
  /** Interval of the periodic resync of every app; 0: none. */
  syncPeriodMs: number;
  /** Run each app's partition rebalancer (in ZooKeeper) while this replica leads. */
  coordinate: boolean;
  /** How in-cluster ensembles are reached: by their cluster DNS names, or forwarded through the API server. */
  zooKeeperAccess: ZooKeeperAccess;
}

/** Values of `--zookeeper-access`. */
export const ZOOKEEPER_ACCESS = ['direct', 'port-forward'] as const;
export type ZooKeeperAccess = (typeof ZOOKEEPER_ACCESS)[number];

interface FlagSpec {
  type: 'string' | 'boolean';
  default: string;
  help: string;
}

const FLAGS = {
  namespaces: {
    type: 'string',
    default: '',
    help: 'Comma-separated namespaces to watch; empty watches all.',
  },
  'metrics-bind-address': { type: 'string', default: ':8080', help: 'Address of /metrics; "0" disables it.' },
  'health-probe-bind-address': {
    type: 'string',
    default: ':8081',
    help: 'Address of /healthz and /readyz; "0" disables it.',
  },
  'dashboard-bind-address': {
    type: 'string',
    default: ':8082',
    help: 'Address of the dashboard and its /api/v1 JSON API; "0" disables it. Beyond loopback it needs a Kubernetes bearer token.',
  },
  'leader-elect': {
    type: 'boolean',
    default: 'true',
    help: 'Elect a leader on a Lease so only one replica acts.',
  },
  'leader-election-namespace': {
    type: 'string',
    default: '',
    help: "Namespace of the Lease; default the pod's namespace (POD_NAMESPACE or the service account's), else default.",
  },
  'leader-election-id': { type: 'string', default: 'capstan-operator', help: 'Name of the Lease.' },
  'leader-elect-lease-duration': {
    type: 'string',
    default: '15s',
    help: 'How long a standby waits before taking over.',
  },
  'leader-elect-renew-deadline': {
    type: 'string',
    default: '10s',
    help: 'How long the leader retries renewing.',
  },
  'leader-elect-retry-period': {
    type: 'string',
    default: '2s',
    help: 'Interval of acquire and renew attempts.',
  },
  'max-concurrent-reconciles': { type: 'string', default: '4', help: 'DistributedApps reconciled at once.' },
  'sync-period': {
    type: 'string',
    default: '10m',
    help: 'Reconcile every DistributedApp this often even without a change; 0s disables it.',
  },
  coordinate: {
    type: 'boolean',
    default: 'true',
    help: "While leading, run each DistributedApp's partition rebalancer, which writes the assignment in the app's ZooKeeper.",
  },
  'zookeeper-access': {
    type: 'string',
    default: 'direct',
    help:
      'How the coordinators reach an in-cluster ZooKeeper: direct (its cluster DNS names; in a pod) or ' +
      'port-forward (through the API server, like kubectl port-forward; from outside the cluster, as make run does).',
  },
  'log-level': { type: 'string', default: 'info', help: 'trace, debug, info, warn, error or fatal.' },
  kubeconfig: {
    type: 'string',
    default: '',
    help: 'Path of a kubeconfig (also KUBECONFIG); unset: the in-cluster service account.',
  },
  'cluster-domain': {
    type: 'string',
    default: 'cluster.local',
    help: 'Cluster DNS domain used in generated addresses.',
  },
  help: { type: 'boolean', default: 'false', help: 'Print this help and exit.' },
} as const satisfies Record<string, FlagSpec>;

type FlagName = keyof typeof FLAGS;

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** The `--help` text. */
export function usage(): string {
  const lines = Object.entries(FLAGS).map(([name, spec]) => {
    const env = name === 'help' ? '' : ` [$${envName(name)}]`;
    const shown = spec.type === 'boolean' ? `--[no-]${name}[=true|false]` : `--${name}=<value>`;
    const def = spec.default === '' || name === 'help' ? '' : ` (default ${spec.default})`;
    return `  ${shown}${env}\n      ${spec.help}${def}`;
  });
  return [
    'Usage: capstan-operator [flags]',
    '',
    'Runs the Capstan operator: reconciles DistributedApps in the watched namespaces and, while leading,',
    "runs each app's partition rebalancer (see --coordinate).",
    'Flags (each can also be set by the environment variable in brackets):',
    ...lines,
    '',
  ].join('\n');
}

function envName(flag: string): string {
  return `CAPSTAN_${flag.toUpperCase().replaceAll('-', '_')}`;
}

/** Parses `--x=1h2m3s`-style durations (ms, s, m, h) into milliseconds. */
export function parseDuration(flag: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (match === null) throw new ConfigError(`--${flag}: "${text}" is not a duration such as 15s or 500ms`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(match[1]) * unit);
}

/** Parses `host:port`, `:port` (all interfaces) or "0" (disabled). */
export function parseBindAddress(flag: string, text: string): BindAddress | undefined {
  if (text === '0') return undefined;
  const colon = text.lastIndexOf(':');
  const port = Number(text.slice(colon + 1));
  if (colon < 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`--${flag}: "${text}" is not an address such as :8080 or 127.0.0.1:8080 (or 0)`);
  }
  const host = text.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return { host: host === '' ? '0.0.0.0' : host, port };
}

function parseBoolean(flag: string, text: string): boolean {
  if (text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0') return false;
  throw new ConfigError(`--${flag}: "${text}" is not true or false`);
}

function parsePositiveInt(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1)
    throw new ConfigError(`--${flag}: "${text}" is not a positive integer`);
  return value;
}

type Raw = Record<FlagName, string>;

/** `--flag=true|false` for a boolean flag becomes `--flag` or `--no-flag` (parseArgs takes no value for them). */
function normalizeBooleans(argv: readonly string[]): string[] {
  return argv.map((arg) => {
    const match = /^--([a-z-]+)=(.*)$/.exec(arg);
    const name = match?.[1] as FlagName | undefined;
    if (match === null || name === undefined || FLAGS[name]?.type !== 'boolean') return arg;
    return parseBoolean(name, match[2] ?? '') ? `--${name}` : `--no-${name}`;
  });
}

function rawValues(argv: readonly string[], env: NodeJS.ProcessEnv): Raw {
  const options = Object.fromEntries(
    Object.entries(FLAGS).map(([name, spec]) => [name, { type: spec.type }]),
  );
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: normalizeBooleans(argv),
      options,
      allowPositionals: false,
      strict: true,
      allowNegative: true,
    });
  } catch (error: unknown) {
    throw new ConfigError(error instanceof Error ? error.message : String(error));
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  return Object.fromEntries(
    (Object.keys(FLAGS) as FlagName[]).map((name) => {
      const given = values[name];
      const fromEnv = env[envName(name)];
      return [name, given !== undefined ? String(given) : (fromEnv ?? FLAGS[name].default)];
    }),
  ) as Raw;
}

function leaseNamespace(given: string, env: NodeJS.ProcessEnv): string {
  if (given !== '') return given;
  if (env.POD_NAMESPACE) return env.POD_NAMESPACE;
  if (existsSync(SERVICE_ACCOUNT_NAMESPACE)) return readFileSync(SERVICE_ACCOUNT_NAMESPACE, 'utf8').trim();
  return 'default';
}

function timings(raw: Raw): Pick<OperatorConfig, 'leaseDurationMs' | 'renewDeadlineMs' | 'retryPeriodMs'> {
  const leaseDurationMs = parseDuration('leader-elect-lease-duration', raw['leader-elect-lease-duration']);
  const renewDeadlineMs = parseDuration('leader-elect-renew-deadline', raw['leader-elect-renew-deadline']);
  const retryPeriodMs = parseDuration('leader-elect-retry-period', raw['leader-elect-retry-period']);
  if (renewDeadlineMs >= leaseDurationMs || retryPeriodMs >= renewDeadlineMs) {
    throw new ConfigError('leader election needs retry period < renew deadline < lease duration');
  }
  return { leaseDurationMs, renewDeadlineMs, retryPeriodMs };
}

/**
 * The configuration from `argv` (without node and the script) and `env`, or 'help' when `--help` was
 * given. Throws `ConfigError` on unknown flags or invalid values.
 */
export function parseConfig(argv: readonly string[], env: NodeJS.ProcessEnv): OperatorConfig | 'help' {
  const raw = rawValues(argv, env);
  if (parseBoolean('help', raw.help)) return 'help';
  if (!LOG_LEVELS.includes(raw['log-level'])) {
    throw new ConfigError(`--log-level: "${raw['log-level']}" is not one of ${LOG_LEVELS.join(', ')}`);
  }
  const access = raw['zookeeper-access'];
  if (!(ZOOKEEPER_ACCESS as readonly string[]).includes(access)) {
    throw new ConfigError(`--zookeeper-access: "${access}" is not one of ${ZOOKEEPER_ACCESS.join(', ')}`);
  }
  return {
    namespaces: raw.namespaces
      .split(',')
      .map((n) => n.trim())
      .filter((n) => n !== ''),
    metricsAddress: parseBindAddress('metrics-bind-address', raw['metrics-bind-address']),
    healthAddress: parseBindAddress('health-probe-bind-address', raw['health-probe-bind-address']),
    dashboardAddress: parseBindAddress('dashboard-bind-address', raw['dashboard-bind-address']),
    leaderElect: parseBoolean('leader-elect', raw['leader-elect']),
    leaderElectionNamespace: leaseNamespace(raw['leader-election-namespace'], env),
    leaderElectionId: raw['leader-election-id'],
    ...timings(raw),
    maxConcurrentReconciles: parsePositiveInt('max-concurrent-reconciles', raw['max-concurrent-reconciles']),
    syncPeriodMs: parseDuration('sync-period', raw['sync-period']),
    coordinate: parseBoolean('coordinate', raw.coordinate),
    zooKeeperAccess: access as ZooKeeperAccess,
    logLevel: raw['log-level'],
    kubeconfig: raw.kubeconfig || env.KUBECONFIG || undefined,
    clusterDomain: raw['cluster-domain'],
  };
}
