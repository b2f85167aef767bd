/**
 * The dashboard's HTTP server (node:http): the page at `/` with its static files, and a read-only JSON
 * API for the page and for scripts. Every route answers GET (and HEAD) only; anything else is 405.
 *
 *   GET /api/v1/apps                     every DistributedApp in the cache: phase, conditions, workers, partitions
 *   GET /api/v1/apps/{namespace}/{name}  one app with its partition map, recent rebalances and events
 *   GET /api/v1/operator                 this replica: identity, leadership, health totals and the last hour
 *
 * Errors are JSON `{"error": "<code>", "message": "..."}`. With an {@link Authorizer} (a bind beyond
 * loopback) every `/api/` request needs a bearer token it accepts (401/403 otherwise); the static files
 * hold no data and are served to anyone, so the page can ask for a token. Data is read through
 * {@link DashboardSources}, small read-only views of the caches, the coordinators and the metrics history.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { DistributedApp } from '../api/schema.ts';
import type { Logger } from '../runtime/index.ts';
import type { AppEventSource } from './app-events.ts';
import type { AuthDecision } from './auth.ts';
import type { CoordinationView } from './coordination-log.ts';
import type { HistoryPoint, MetricsSample } from './metrics-sample.ts';
import type { StaticFiles } from './static-files.ts';
import { appDetail, appSummary, operatorView } from './view-model.ts';

/** The DistributedApp cache, read-only. */
export interface AppLister {
  list(namespace?: string): DistributedApp[];
  get(namespace: string, name: string): DistributedApp | undefined;
}

/** This replica's identity and leadership. */
export interface LeadershipView {
  readonly identity: string;
  isLeading(): boolean;
  /** The Lease holder last seen; undefined without leader election. */
  observedLeader(): string | undefined;
}

/** The metrics history, read-only. */
export interface HistoryView {
  readonly intervalMs: number;
  points(): HistoryPoint[];
  /** The registry now. */
  current(): Promise<MetricsSample>;
}

/** Where the dashboard reads from. */
export interface DashboardSources {
  readonly apps: AppLister;
  readonly coordination: CoordinationView;
  readonly events: AppEventSource;
  readonly leadership: LeadershipView;
  readonly history: HistoryView;
}

/** Decides a request from its `Authorization` header. */
export interface Authorizer {
  decide(header: string | undefined): Promise<AuthDecision>;
}

/** Options of {@link dashboardHandler}. */
export interface DashboardOptions {
  readonly sources: DashboardSources;
  readonly files: StaticFiles;
  /** undefined: no authentication (a loopback bind). */
  readonly authorizer?: Authorizer;
  readonly logger: Logger;
}

type Answer = { readonly status: number; readonly body: unknown };

const SECURITY_HEADERS = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
};

function error(status: number, code: string, message: string): Answer {
  return { status, body: { error: code, message } };
}

function sendJson(res: ServerResponse, answer: Answer, head: boolean): void {
  const body = JSON.stringify(answer.body);
  res.writeHead(answer.status, { ...SECURITY_HEADERS, 'Content-Type': 'application/json; charset=utf-8' });
  res.end(head ? undefined : body);
}

function sortedApps(apps: AppLister): DistributedApp[] {
  const key = (a: DistributedApp): string => `${a.metadata.namespace ?? ''}/${a.metadata.name ?? ''}`;
  return apps.list().sort((a, b) => key(a).localeCompare(key(b)));
}

async function appAnswer(sources: DashboardSources, namespace: string, name: string): Promise<Answer> {
  const app = sources.apps.get(namespace, name);
  if (app === undefined)
    return error(404, 'APP_NOT_FOUND', `no DistributedApp ${namespace}/${name} in the cache`);
  const reading = sources.coordination.reading(namespace, name);
  const events = await sources.events.list(namespace, name);
  return {
    status: 200,
    body: appDetail(app, reading, sources.coordination.rebalances(namespace, name), events),
  };
}

async function operatorAnswer(sources: DashboardSources): Promise<Answer> {
  const { leadership, history } = sources;
  return {
    status: 200,
    body: operatorView({
      identity: leadership.identity,
      leading: leadership.isLeading(),
      observedLeader: leadership.observedLeader(),
      latest: await history.current(),
      intervalMs: history.intervalMs,
      points: history.points(),
    }),
  };
}

/** The answer of an `/api/v1/...` path (after authorization). */
export async function apiAnswer(sources: DashboardSources, path: string): Promise<Answer> {
  let parts: string[];
  try {
    parts = path.split('/').slice(3).map(decodeURIComponent);
  } catch {
    return error(400, 'PATH_INVALID', 'the path is not valid percent-encoded UTF-8');
  }
  if (parts[0] === 'operator' && parts.length === 1) return operatorAnswer(sources);
  if (parts[0] !== 'apps')
    return error(404, 'NOT_FOUND', `no API route ${path}; see /api/v1/apps, /api/v1/operator`);
  if (parts.length === 1) {
    const coordination = sources.coordination;
    const items = sortedApps(sources.apps).map((app) =>
      appSummary(app, coordination.reading(app.metadata.namespace ?? '', app.metadata.name ?? '')),
    );
    return { status: 200, body: { leading: sources.leadership.isLeading(), items } };
  }
  if (parts.length === 3) return appAnswer(sources, parts[1] ?? '', parts[2] ?? '');
  return error(404, 'NOT_FOUND', `no API route ${path}; apps are /api/v1/apps/{namespace}/{name}`);
}

async function authorized(options: DashboardOptions, req: IncomingMessage): Promise<Answer | undefined> {
  if (options.authorizer === undefined) return undefined;
  const decision = await options.authorizer.decide(req.headers.authorization);
  if (decision.status === 200) return undefined;
  const code = { 401: 'UNAUTHENTICATED', 403: 'FORBIDDEN', 503: 'AUTH_UNAVAILABLE' }[decision.status];
  return error(decision.status, code, decision.message);
}

async function handle(options: DashboardOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const head = req.method === 'HEAD';
  if (req.method !== 'GET' && !head) {
    res.setHeader('Allow', 'GET, HEAD');
    return sendJson(res, error(405, 'METHOD_NOT_ALLOWED', 'the dashboard is read-only: GET only'), head);
  }
  const path = new URL(req.url ?? '/', 'http://dashboard').pathname;
  const file = options.files.get(path);
  if (file !== undefined) {
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': file.contentType });
    res.end(head ? undefined : file.body);
    return;
  }
  if (!path.startsWith('/api/v1/')) return sendJson(res, error(404, 'NOT_FOUND', `no page ${path}`), head);
  const refused = await authorized(options, req);
  sendJson(res, refused ?? (await apiAnswer(options.sources, path)), head);
}

/** The request listener; a failure answers 500 and is logged once. */
export function dashboardHandler(
  options: DashboardOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handle(options, req, res).catch((err: unknown) => {
      options.logger.error({ err, url: req.url?.slice(0, 256) }, 'dashboard request failed');
      if (!res.headersSent) sendJson(res, error(500, 'INTERNAL', 'internal error'), false);
      else res.destroy();
    });
  };
}

/** A server for {@link dashboardHandler}, not yet listening. */
export function buildDashboardServer(options: DashboardOptions): Server {
  const server = createServer(dashboardHandler(options));
  // Polling keeps connections open through port-forward; idle ones are dropped after a while.
  server.keepAliveTimeout = 30_000;
  return server;
}
