/**
 * Starts the operator's dashboard (see dashboard-server.ts) on `--dashboard-bind-address`: the metrics
 * history sampling the operator's registry, the Events lister and, when the address is not loopback, the
 * TokenReview + SubjectAccessReview authorizer (auth.ts). Every replica serves it; a standby shows its
 * caches and says it does not lead. Resolves once listening; the returned `close` stops it.
 */
import type { AddressInfo } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import type { Logger } from '../runtime/index.ts';
import { apiEventSource } from './app-events.ts';
import { CachedAuthorizer, isLoopback, kubeReviewApi } from './auth.ts';
import type { CoordinationView } from './coordination-log.ts';
import { buildDashboardServer, type AppLister, type LeadershipView } from './dashboard-server.ts';
import { MetricHistory } from './metric-history.ts';
import { loadStaticFiles } from './static-files.ts';

/** Options of {@link startDashboard}. */
export interface StartDashboardOptions {
  readonly address: { readonly host: string; readonly port: number };
  /** The manager's (counted) API client: reviews and Event lists go through it. */
  readonly kubeConfig: KubeConfig;
  readonly registry: Registry;
  readonly apps: AppLister;
  readonly coordination: CoordinationView;
  readonly leadership: LeadershipView;
  readonly logger: Logger;
  /** Default 10 000 (360 points: one hour). */
  readonly sampleIntervalMs?: number;
}

/** A listening dashboard. */
export interface RunningDashboard {
  /** `http://host:port`. */
  readonly url: string;
  readonly authenticated: boolean;
  close(): Promise<void>;
}

/** See the module comment. */
export async function startDashboard(options: StartDashboardOptions): Promise<RunningDashboard> {
  const log = options.logger.child({ component: 'dashboard' });
  const history = new MetricHistory({
    registry: options.registry,
    ...(options.sampleIntervalMs === undefined ? {} : { intervalMs: options.sampleIntervalMs }),
  });
  const authenticated = !isLoopback(options.address.host);
  const server = buildDashboardServer({
    sources: {
      apps: options.apps,
      coordination: options.coordination,
      events: apiEventSource(options.kubeConfig),
      leadership: options.leadership,
      history,
    },
    files: loadStaticFiles(),
    ...(authenticated
      ? { authorizer: new CachedAuthorizer({ api: kubeReviewApi(options.kubeConfig) }) }
      : {}),
    logger: log,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.address.port, options.address.host, () => resolve());
  });
  history.start();
  const { address, port } = server.address() as AddressInfo;
  const url = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
  log.info({ url, authenticated }, 'dashboard listening');
  return {
    url,
    authenticated,
    close: async () => {
      history.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
