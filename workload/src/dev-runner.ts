import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import type { HaproxyAlgorithm } from '../../common/src/haproxy-config.ts';
import { LocalFleet } from './local-fleet.ts';
import type { FleetOptions } from './local-fleet.ts';

/** The example file cannot be run locally; `code` is stable and the message names the field. */
export class DevRunnerError extends Error {
  readonly code = 'CAPSTAN_DEV_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'DevRunnerError';
  }
}

/** Command-line overrides of `capstan dev`. */
export interface DevOptions {
  /** HAProxy frontend port; a free one when unset. */
  port?: number;
  /** Upstream of cache-gateway; the tiny local upstream when unset (cluster URLs do not resolve here). */
  upstream?: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function field(source: Obj, path: string): unknown {
  let value: unknown = source;
  for (const part of path.split('.')) value = isObj(value) ? value[part] : undefined;
  return value;
}

function int(source: Obj, path: string, fallback: number, range: [number, number]): number {
  const value = field(source, path) ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < range[0] || value > range[1]) {
    throw new DevRunnerError(
      `${path}: expected an integer from ${range[0]} to ${range[1]}, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function str(source: Obj, path: string, fallback: string): string {
  const value = field(source, path) ?? fallback;
  if (typeof value !== 'string' || value === '')
    throw new DevRunnerError(`${path}: expected a non-empty string`);
  return value;
}

/** `spec.workers.env` entries with a literal value (secret references cannot be resolved locally). */
function literalEnv(app: Obj): Record<string, string> {
  const list = field(app, 'spec.workers.env');
  if (!Array.isArray(list)) return {};
  const entries = list
    .filter(isObj)
    .flatMap((e) =>
      typeof e.name === 'string' && typeof e.value === 'string' ? [[e.name, e.value] as const] : [],
    );
  return Object.fromEntries(entries);
}

/**
 * Turns a DistributedApp object into fleet options, applying the defaults the CRD applies for the
 * fields a local run needs (3 workers, 64 partitions, cache-gateway, 1 ZooKeeper member, roundrobin,
 * rebalanceDelaySeconds 10), with HAProxy's owner routing on. External Redis/ZooKeeper and Sentry secret references are ignored: the
 * local run always starts its own. Throws {@link DevRunnerError} naming the bad field.
 */
export function fleetOptionsFrom(app: unknown, options: DevOptions = {}): FleetOptions {
  if (!isObj(app) || app.kind !== 'DistributedApp') throw new DevRunnerError('kind: expected DistributedApp');
  const partitions = int(app, 'spec.workers.partitions', 64, [1, 4096]);
  const workers = int(app, 'spec.workers.replicas', 3, [1, partitions]);
  const zookeeperReplicas = int(app, 'spec.coordination.zookeeper.replicas', 1, [1, 7]);
  const algorithm = str(app, 'spec.loadBalancer.haproxy.algorithm', 'roundrobin') as HaproxyAlgorithm;
  return {
    namespace: str(app, 'metadata.namespace', 'default'),
    name: str(app, 'metadata.name', ''),
    app: str(app, 'spec.workers.app', 'cache-gateway'),
    workers,
    partitions,
    zookeeperReplicas,
    sessionTimeoutMs: 6000,
    departureDelayMs: int(app, 'spec.failurePolicy.rebalanceDelaySeconds', 10, [0, 3600]) * 1000,
    ...(options.upstream ? { upstream: options.upstream } : {}),
    // As in the cluster: HAProxy sends each request to its partition's owner from the owner map.
    haproxy: { algorithm, ownerRouting: true, ...(options.port ? { port: options.port } : {}) },
    workerEnv: { LOG_LEVEL: 'warn', ...literalEnv(app) },
  };
}

/** Reads the first DistributedApp of a YAML file. */
export async function readAppFile(path: string): Promise<unknown> {
  const documents = parseAllDocuments(await readFile(path, 'utf8'));
  const objects = (Array.isArray(documents) ? documents : [documents]).map((d) => d.toJS() as unknown);
  const app = objects.find((o) => isObj(o) && o.kind === 'DistributedApp');
  if (!app) throw new DevRunnerError(`${path}: no DistributedApp in the file`);
  return app;
}

/** What `capstan dev` prints once everything runs. */
export function describeFleet(fleet: LocalFleet): string {
  const o = fleet.options;
  const example =
    o.app === 'counters'
      ? [`  curl -X POST ${fleet.url}/v1/counters/hello/incr`, `  curl ${fleet.url}/v1/counters/hello`]
      : [`  curl -i ${fleet.url}/v1/cache/hello`];
  return [
    `${o.namespace ?? 'default'}/${o.name}: ${o.app}, ${fleet.workers.size} workers, ${o.partitions} partitions`,
    `  app (HAProxy)     ${fleet.url}`,
    `  HAProxy stats     ${fleet.haproxy.statsUrl}/stats`,
    ...[...fleet.workers.values()].map(
      (w) => `  worker ${w.id.padEnd(10)} ${w.url}  (/metrics /readyz /_capstan/status)`,
    ),
    ...(fleet.upstream ? [`  tiny upstream     ${fleet.upstream.url}`] : []),
    `  ZooKeeper         ${fleet.zookeeper.connectString}`,
    `  Redis             ${fleet.redis.url}`,
    'Try:',
    ...example,
    'Ctrl-C stops everything.',
  ].join('\n');
}

/** `capstan dev <file>`: runs the app locally until SIGINT/SIGTERM, then stops every process. */
export async function runDev(file: string, options: DevOptions = {}): Promise<void> {
  const fleetOptions = fleetOptionsFrom(await readAppFile(file), options);
  const fleet = new LocalFleet(fleetOptions);
  const stopped = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  process.stdout.write(`starting ${fleetOptions.name} from ${file} ...\n`);
  try {
    await Promise.race([fleet.start(), stopped]);
    if (fleet.workers.size > 0 && fleet.haproxy) process.stdout.write(`${describeFleet(fleet)}\n`);
    await stopped;
  } finally {
    process.stdout.write('stopping ...\n');
    await fleet.stop();
  }
}
