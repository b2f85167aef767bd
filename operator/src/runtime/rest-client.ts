/**
 * The operator's one way to talk to the apiserver. `InstrumentedKubeConfig` is a `KubeConfig` whose API
 * clients count every request in `rest_client_requests_total{code,method}` (by wrapping the generated
 * clients' `HttpLibrary`, the layer that sees both the request and its response or failure) and share
 * one connection pool. `apiRequest` makes a raw, counted request for list/watch paths.
 */
import {
  IsomorphicFetchHttpLibrary,
  KubeConfig,
  RequestContext,
  ServerConfiguration,
  createConfiguration,
  setHeaderMiddleware,
  wrapHttpLibrary,
  type ApiConstructor,
  type ApiType,
  type HttpLibrary,
  type RequestContext as RequestContextType,
  type ResponseContext,
} from '@kubernetes/client-node';
import { fetch, type Dispatcher, type Response } from 'undici';
import type { RestRequestObserver } from './metrics.ts';

/** The `code` label used when a request got no HTTP response (connection refused, aborted). */
export const NO_RESPONSE_CODE = '<error>';

function countingHttpLibrary(observer: RestRequestObserver): HttpLibrary {
  const inner = new IsomorphicFetchHttpLibrary();
  return wrapHttpLibrary({
    async send(request: RequestContextType): Promise<ResponseContext> {
      const method = request.getHttpMethod().toString();
      try {
        const response = await inner.send(request).toPromise();
        observer.request(method, String(response.httpStatusCode));
        return response;
      } catch (error: unknown) {
        observer.request(method, NO_RESPONSE_CODE);
        throw error;
      }
    },
  });
}

/**
 * A copy of `source` (clusters, users, contexts, current context) whose `makeApiClient` builds clients
 * that report every request to `observer`. Its authentication reuses one connection pool for all
 * requests instead of a new TLS agent per request. The source config is not modified.
 */
export class InstrumentedKubeConfig extends KubeConfig {
  readonly observer: RestRequestObserver;
  #dispatcher: Dispatcher | undefined;

  constructor(source: KubeConfig, observer: RestRequestObserver) {
    super();
    this.observer = observer;
    this.loadFromOptions({
      clusters: source.clusters,
      users: source.users,
      contexts: source.contexts,
      currentContext: source.currentContext,
    });
  }

  override makeApiClient<T extends ApiType>(apiClientType: ApiConstructor<T>): T {
    const cluster = this.getCurrentCluster();
    if (!cluster) throw new RestClientError('ERR_NO_CLUSTER', 'kubeconfig has no current cluster');
    const configuration = createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: this },
      httpApi: countingHttpLibrary(this.observer),
      middleware: [setHeaderMiddleware('User-Agent', 'capstan-operator')],
    });
    return new apiClientType(configuration);
  }

  override async applySecurityAuthentication(context: RequestContextType): Promise<void> {
    await super.applySecurityAuthentication(context);
    // The parent builds a fresh agent per request; keep the first one so connections are reused.
    const created = context.getDispatcher();
    if (created === undefined) return;
    if (this.#dispatcher === undefined) this.#dispatcher = created;
    else context.setDispatcher(this.#dispatcher);
  }

  /** Closes the shared connection pool. */
  async close(): Promise<void> {
    await this.#dispatcher?.close();
    this.#dispatcher = undefined;
  }
}

/** A failure of the REST layer with a stable `code` and the HTTP status when there was one. */
export class RestClientError extends Error {
  readonly code: string;
  readonly statusCode: number | undefined;
  constructor(code: string, message: string, options?: { cause?: unknown; statusCode?: number }) {
    super(message, options);
    this.name = 'RestClientError';
    this.code = code;
    this.statusCode = options?.statusCode;
  }
}

/** A raw request. */
export interface ApiRequest {
  /** Default GET. */
  readonly method?: string;
  /** Absolute API path such as `/api/v1/namespaces/ns/configmaps`. */
  readonly path: string;
  /** Query parameters; undefined values are left out. */
  readonly query?: Record<string, string | number | boolean | undefined>;
  readonly signal?: AbortSignal;
}

/**
 * Sends an authenticated request with `kc`'s credentials and returns the response (any status). The
 * request is counted when `kc` is an `InstrumentedKubeConfig`. Throws `RestClientError`
 * `ERR_NO_RESPONSE` when no response arrives (network failure, abort).
 */
export async function apiRequest(kc: KubeConfig, request: ApiRequest): Promise<Response> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new RestClientError('ERR_NO_CLUSTER', 'kubeconfig has no current cluster');
  const url = new URL(cluster.server.replace(/\/$/, '') + request.path);
  for (const [key, value] of Object.entries(request.query ?? {})) {
    if (value !== undefined) url.searchParams.set(key, String(value));
  }
  const method = request.method ?? 'GET';
  const context = new RequestContext(url.toString(), method as never);
  await kc.applySecurityAuthentication(context);
  const observer = kc instanceof InstrumentedKubeConfig ? kc.observer : undefined;
  try {
    const response = await fetch(url, {
      method,
      headers: { ...context.getHeaders(), Accept: 'application/json' },
      dispatcher: context.getDispatcher(),
      signal: request.signal,
    });
    observer?.request(method, String(response.status));
    return response;
  } catch (error: unknown) {
    observer?.request(method, NO_RESPONSE_CODE);
    throw new RestClientError('ERR_NO_RESPONSE', `${method} ${request.path}: no response`, { cause: error });
  }
}
