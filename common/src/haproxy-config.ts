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

/**
 * Interval of HAProxy's purge of idle connections to the workers (`pool-purge-delay`, HAProxy's default,
 * rendered so that it is a decision). HAProxy 2.6 has no idle timeout on server-side connections:
 * `timeout http-keep-alive` is the client side only, and neither it nor `timeout server` runs on a
 * connection waiting in the pool. The purge task closes part of the idle connections each interval, those
 * beyond its estimate of the need (the documentation says half of them).
 */
export const HAPROXY_POOL_PURGE_DELAY_MS = 5000;

/**
 * Purge intervals after which HAProxy has closed every idle connection to a worker that gets no more
 * requests: about 13 when half go each interval for a pool of `maxConnections` (4096 by default), more
 * since the estimate of the need decays over a few intervals; 16 with that margin.
 */
export const HAPROXY_IDLE_PURGE_INTERVALS = 16;

/**
 * The longest an unused idle connection to a worker stays open in HAProxy (80 s). A worker's
 * `keepAliveTimeout` must be above it, so that it is HAProxy that drops an unused connection and not the
 * worker closing one that HAProxy is about to reuse (that request would fail, or be sent again).
 */
export const HAPROXY_SERVER_IDLE_MAX_MS = HAPROXY_IDLE_PURGE_INTERVALS * HAPROXY_POOL_PURGE_DELAY_MS;

/**
 * How long HAProxy keeps a client's connection open waiting for its next request (`timeout
 * http-keep-alive`, client side): long enough for a client that sends a request every few seconds to
 * keep its connection, short enough that idle clients do not hold connections (of `maxConnections`)
 * for `timeout client`.
 */
export const HAPROXY_CLIENT_KEEP_ALIVE_MS = 10_000;

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
   * worker meets it; `httpKeepAlive` (a client's idle connection) {@link HAPROXY_CLIENT_KEEP_ALIVE_MS}.
   */
  timeouts?: { connect?: number; client?: number; server?: number; check?: number; httpKeepAlive?: number };
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
    frontendSection(options.frontend, options.timeouts?.httpKeepAlive ?? HAPROXY_CLIENT_KEEP_ALIVE_MS),
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
    ...connectionReuseLines(t.httpKeepAlive ?? HAPROXY_CLIENT_KEEP_ALIVE_MS),
    `  retries ${checkRetries(options.retries)}`,
    '  option redispatch',
    '  retry-on conn-failure empty-response response-timeout',
    ...errorAnswers(),
  ];
}

/**
 * Keep-alive on both sides and how connections to the workers are shared between requests. The workers
 * are fastify servers (HTTP/1.1, keep-alive) that the operator runs, with a `keepAliveTimeout` above
 * {@link HAPROXY_SERVER_IDLE_MAX_MS}, so an idle connection to one is HAProxy's to close.
 */
function connectionReuseLines(clientKeepAliveMs: number): string[] {
  return [
    // HAProxy's default mode, stated: each connection, to a client or to a worker, stays open after a
    // response for the next request (no `http-server-close`, no `httpclose`).
    '  option http-keep-alive',
    // `safe` (the default) sends the first request of every client connection over a new connection to
    // the worker; `aggressive` also sends it over an idle one that has been reused at least once, which
    // proves the worker keeps connections open. Clients that open a connection per request then cost
    // no connect to a worker. `always` would also use a connection before it proved that, which
    // HAProxy recommends only where connections never break soon after release; a worker being
    // drained or killed does break them. A reused connection that fails before an answer is sent again
    // under the retry rules below (a read, a keyed write) or answered 502 OUTCOME_UNKNOWN.
    '  http-reuse aggressive',
    `  timeout http-keep-alive ${ms('timeouts.httpKeepAlive', clientKeepAliveMs)}`,
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

function frontendSection(frontend: HaproxyConfigOptions['frontend'], clientKeepAliveMs: number): string[] {
  return [
    'frontend public',
    `  bind ${listenAddress('frontend', frontend)}`,
    '  option httplog',
    ...keepAliveHint(clientKeepAliveMs),
    '  default_backend workers',
  ];
}

/**
 * The `Keep-Alive` header clients get: HAProxy's own idle timeout, one second under it. HAProxy passes a
 * worker's `Keep-Alive: timeout=90` through, which speaks of the worker's connection to HAProxy; a client
 * that honours it (undici does) kept an idle connection long after HAProxy had closed it, and a request
 * sent as HAProxy closed it failed ("other side closed").
 */
function keepAliveHint(clientKeepAliveMs: number): string[] {
  const seconds = Math.floor(clientKeepAliveMs / 1000) - 1;
  return seconds >= 1
    ? [`  http-response set-header keep-alive timeout=${seconds}`]
    : ['  http-response del-header keep-alive'];
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
    // Default-server lines add up. Idle connections to a worker are purged at this interval (see
    // HAPROXY_POOL_PURGE_DELAY_MS); no `pool-max-conn`: the idle pool is bounded by maxconn, and a cap
    // below the concurrency to one owner would close connections that the next burst opens again.
    `  default-server pool-purge-delay ${ms('poolPurgeDelay', HAPROXY_POOL_PURGE_DELAY_MS)}`,
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
