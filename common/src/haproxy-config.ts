import { checkPort, checkPositiveInt, checkToken, ConfigRenderError } from './config-render-error.ts';

/** A backend server known by address. */
export interface HaproxyServer {
  name: string;
  host: string;
  port: number;
}

/** A fixed list of servers. */
export interface HaproxyStaticBackend {
  servers: readonly HaproxyServer[];
}

/**
 * Servers discovered through DNS: `count` slots named `<prefix>1..<prefix>count`, filled from the records of
 * `fqdn` (a headless Service in Kubernetes) as the resolver sees them.
 */
export interface HaproxyDnsBackend {
  serverTemplate: { prefix: string; count: number; fqdn: string; port: number };
  /** `nameserver` is `ip:port` of the DNS server (kube-dns in a cluster). */
  resolvers: { nameserver: string; holdValidMs?: number };
}

/** HAProxy `balance` algorithms that make sense for Capstan's HTTP workers. */
export type HaproxyAlgorithm = 'roundrobin' | 'leastconn' | 'random' | 'source' | 'uri' | 'first';

/** Options of {@link renderHaproxyConfig}. */
export interface HaproxyConfigOptions {
  frontend: { bind: string; port: number };
  backend: HaproxyStaticBackend | HaproxyDnsBackend;
  healthCheck: {
    /** Path probed with `GET`; a server is up while it answers 200. */
    path: string;
    /** Milliseconds between checks. */
    interval: number;
    /** Consecutive failures before a server is marked down; default 2. */
    fall?: number;
    /** Consecutive successes before it is up again; default 1. */
    rise?: number;
  };
  algorithm: HaproxyAlgorithm;
  /** Extra attempts on another server after a connection failure, empty response or response timeout. */
  retries: number;
  /** Stats page (`/stats`) and Prometheus exporter (`/metrics`), on this listener only. */
  stats: { bind: string; port: number };
  /**
   * Timeouts in milliseconds; defaults connect 2000, client 30000, check 1000 and server 10000, above the
   * longest a worker takes to answer (its move wait plus one forward), so only a frozen or vanished
   * worker meets it.
   */
  timeouts?: { connect?: number; client?: number; server?: number; check?: number };
  /** Connection limit of the process; default 4096. */
  maxConnections?: number;
  /**
   * Routing to partition owners: `sample` computes a request's partition (see `haproxyPartitionSample`),
   * `mapFile` (partition -> server name, kept up to date through the Runtime API) names its owner's
   * server; a request without an entry, or whose owner's server is down, is balanced as usual.
   */
  ownerRouting?: { sample: string; mapFile: string };
  /** The Runtime API's admin socket, on a TCP address (loopback). */
  runtime?: { bind: string; port: number };
}

/**
 * Renders an `haproxy.cfg` (HAProxy 2.6 syntax) with one HTTP frontend, one backend of workers health-checked
 * with `GET <path>` (`option httpchk` + `http-check send`), retries with redispatch on
 * `conn-failure empty-response response-timeout` (after a connection failure only, for writes without an
 * Idempotency-Key), JSON error answers, and a separate stats listener that also serves the built-in
 * Prometheus exporter at `/metrics`. Logs go to stdout. Pure; throws {@link ConfigRenderError} on invalid
 * options.
 */
export function renderHaproxyConfig(options: HaproxyConfigOptions): string {
  const sections = [
    globalSection(options),
    defaultsSection(options),
    ...('serverTemplate' in options.backend ? [resolversSection(options.backend)] : []),
    frontendSection(options.frontend),
    backendSection(options),
    statsSection(options.stats),
  ];
  return `${sections.map((s) => s.join('\n')).join('\n\n')}\n`;
}

function globalSection(options: HaproxyConfigOptions): string[] {
  return [
    'global',
    '  log stdout format raw local0 info',
    `  maxconn ${checkPositiveInt('maxConnections', options.maxConnections ?? 4096)}`,
    // Old processes finish in-flight requests after a reload, but not forever.
    '  hard-stop-after 30s',
    ...(options.runtime
      ? [`  stats socket ipv4@${listenAddress('runtime', options.runtime)} level admin`]
      : []),
  ];
}

function defaultsSection(options: HaproxyConfigOptions): string[] {
  const t = options.timeouts ?? {};
  return [
    'defaults',
    '  mode http',
    '  log global',
    '  option dontlognull',
    `  timeout connect ${ms('timeouts.connect', t.connect ?? 2000)}`,
    `  timeout client ${ms('timeouts.client', t.client ?? 30000)}`,
    `  timeout server ${ms('timeouts.server', t.server ?? 10000)}`,
    `  timeout check ${ms('timeouts.check', t.check ?? 1000)}`,
    `  retries ${checkRetries(options.retries)}`,
    '  option redispatch',
    '  retry-on conn-failure empty-response response-timeout',
    ...errorAnswers(),
  ];
}

/**
 * HAProxy's own answers, as JSON with the workers' error codes: 503 when no worker is up (nothing was
 * sent: safe to retry), 502/504 when a worker took the request and gave no answer (it may have been
 * applied). See README, "Retrying requests".
 */
function errorAnswers(): string[] {
  const answer = (status: number, code: string, message: string, extra = '') =>
    `  http-error status ${status} content-type application/json ` +
    `string '{"error":"${code}","message":"${message}"}'${extra}`;
  const unknown =
    'no answer from the worker: the request may have been applied; retry a write only with the same Idempotency-Key';
  return [
    answer(
      503,
      'NO_WORKER_AVAILABLE',
      'no worker is ready; nothing was sent; retry later',
      ' hdr retry-after 1',
    ),
    answer(502, 'OUTCOME_UNKNOWN', unknown),
    answer(504, 'OUTCOME_UNKNOWN', unknown),
  ];
}

function resolversSection(backend: HaproxyDnsBackend): string[] {
  return [
    'resolvers dns',
    `  nameserver ns1 ${checkAddress('resolvers.nameserver', backend.resolvers.nameserver)}`,
    '  accepted_payload_size 8192',
    '  resolve_retries 3',
    '  timeout resolve 1s',
    '  timeout retry 1s',
    `  hold valid ${ms('resolvers.holdValidMs', backend.resolvers.holdValidMs ?? 10000)}`,
  ];
}

function frontendSection(frontend: HaproxyConfigOptions['frontend']): string[] {
  return [
    'frontend public',
    `  bind ${listenAddress('frontend', frontend)}`,
    '  option httplog',
    '  default_backend workers',
  ];
}

function backendSection(options: HaproxyConfigOptions): string[] {
  const check = options.healthCheck;
  const fall = checkPositiveInt('healthCheck.fall', check.fall ?? 2);
  const rise = checkPositiveInt('healthCheck.rise', check.rise ?? 1);
  return [
    'backend workers',
    `  balance ${checkToken('algorithm', options.algorithm)}`,
    // A request that reached a worker is sent again (after no answer or a timeout) only when that cannot
    // apply it twice: a read, or a write with an Idempotency-Key. Connection failures are still retried.
    '  http-request disable-l7-retry if !METH_GET !{ req.hdr(idempotency-key) -m found }',
    ...ownerRoutingLines(options.ownerRouting),
    '  option httpchk',
    `  http-check send meth GET uri ${checkPath(check.path)}`,
    '  http-check expect status 200',
    `  default-server check inter ${ms('healthCheck.interval', check.interval)} fall ${fall} rise ${rise}` +
      // A name that does not resolve yet (a pod not yet created) must not keep HAProxy from starting.
      ' init-addr last,libc,none',
    ...serverLines(options.backend),
  ];
}

/** The owner's server for a request whose partition has an entry in the map (HAProxy ignores a down one). */
function ownerRoutingLines(routing: HaproxyConfigOptions['ownerRouting']): string[] {
  if (routing === undefined) return [];
  const file = checkToken('ownerRouting.mapFile', routing.mapFile);
  return [
    `  http-request set-var(txn.owner) ${checkSample(routing.sample)},map(${file})`,
    '  use-server %[var(txn.owner)] if { var(txn.owner) -m found }',
  ];
}

function serverLines(backend: HaproxyStaticBackend | HaproxyDnsBackend): string[] {
  if ('serverTemplate' in backend) {
    const t = backend.serverTemplate;
    const target = `${checkToken('serverTemplate.fqdn', t.fqdn)}:${checkPort('serverTemplate.port', t.port)}`;
    const prefix = checkToken('serverTemplate.prefix', t.prefix);
    const count = checkPositiveInt('serverTemplate.count', t.count);
    return [`  server-template ${prefix} ${count} ${target} resolvers dns init-addr none`];
  }
  if (backend.servers.length === 0) throw new ConfigRenderError('backend.servers', 'at least one server');
  const names = new Set<string>();
  return backend.servers.map((s, i) => {
    const name = checkToken(`backend.servers[${i}].name`, s.name);
    if (names.has(name)) throw new ConfigRenderError(`backend.servers[${i}].name`, `duplicate name ${name}`);
    names.add(name);
    const host = checkToken(`backend.servers[${i}].host`, s.host);
    return `  server ${name} ${host}:${checkPort(`backend.servers[${i}].port`, s.port)}`;
  });
}

function statsSection(stats: HaproxyConfigOptions['stats']): string[] {
  return [
    'frontend stats',
    `  bind ${listenAddress('stats', stats)}`,
    '  no log',
    '  http-request use-service prometheus-exporter if { path /metrics }',
    '  stats enable',
    '  stats uri /stats',
    '  stats refresh 10s',
  ];
}

function listenAddress(field: string, listener: { bind: string; port: number }): string {
  const host = checkToken(`${field}.bind`, listener.bind);
  const port = checkPort(`${field}.port`, listener.port);
  // IPv6 addresses need brackets only when they are not given; HAProxy also accepts `:::port`.
  return `${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`;
}

function checkAddress(field: string, address: string): string {
  const match = /^(.+):(\d+)$/.exec(checkToken(field, address));
  if (!match) throw new ConfigRenderError(field, `expected ip:port, got ${JSON.stringify(address)}`);
  checkPort(field, Number(match[2]));
  return address;
}

/** A sample expression: fetch and converters with their arguments, no spaces or quotes. */
function checkSample(sample: string): string {
  if (!/^[A-Za-z0-9_.,()/:-]+$/.test(sample))
    throw new ConfigRenderError(
      'ownerRouting.sample',
      `expected a sample expression, got ${JSON.stringify(sample)}`,
    );
  return sample;
}

function checkPath(path: string): string {
  if (!path.startsWith('/')) throw new ConfigRenderError('healthCheck.path', 'must start with /');
  return checkToken('healthCheck.path', path);
}

function checkRetries(retries: number): number {
  if (!Number.isInteger(retries) || retries < 0) {
    throw new ConfigRenderError('retries', `expected a non-negative integer, got ${String(retries)}`);
  }
  return retries;
}

function ms(field: string, value: number): string {
  return `${checkPositiveInt(field, value)}ms`;
}
