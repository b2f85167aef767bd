/**
 * Writes to the apiserver with a body (apply patches, merge patches, creates, deletes), authenticated
 * with the kubeconfig's credentials and counted in `rest_client_requests_total` when the config is the
 * manager's `InstrumentedKubeConfig`. Reads go through the informers' caches instead.
 */
import { RequestContext, type KubeConfig } from '@kubernetes/client-node';
import { fetch } from 'undici';
import { InstrumentedKubeConfig, NO_RESPONSE_CODE } from '../runtime/index.ts';
import { ControllerError } from './errors.ts';

/** One request with an optional JSON body. */
export interface WriteRequest {
  readonly method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  /** Absolute API path, e.g. `/api/v1/namespaces/ns/configmaps/name`. */
  readonly path: string;
  readonly query?: Record<string, string | boolean | undefined>;
  readonly body?: unknown;
  /** Default `application/json`. */
  readonly contentType?: string;
  readonly signal?: AbortSignal;
}

/** The status and decoded JSON body of a response. */
export interface ApiResponse {
  readonly status: number;
  readonly body: unknown;
}

function url(kc: KubeConfig, request: WriteRequest): URL {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new ControllerError('ERR_NO_CLUSTER', 'kubeconfig has no current cluster');
  const target = new URL(cluster.server.replace(/\/$/, '') + request.path);
  for (const [key, value] of Object.entries(request.query ?? {})) {
    if (value !== undefined) target.searchParams.set(key, String(value));
  }
  return target;
}

function parseBody(text: string): unknown {
  try {
    return text === '' ? undefined : (JSON.parse(text) as unknown);
  } catch {
    return { message: text.slice(0, 500) };
  }
}

/**
 * Sends `request` and returns its status and body, whatever the status. Throws `ControllerError`
 * `ERR_NO_RESPONSE` when no response arrives.
 */
export async function send(kc: KubeConfig, request: WriteRequest): Promise<ApiResponse> {
  const target = url(kc, request);
  const context = new RequestContext(target.toString(), request.method);
  await kc.applySecurityAuthentication(context);
  const observer = kc instanceof InstrumentedKubeConfig ? kc.observer : undefined;
  const headers: Record<string, string> = { ...context.getHeaders(), Accept: 'application/json' };
  if (request.body !== undefined) headers['Content-Type'] = request.contentType ?? 'application/json';
  try {
    const response = await fetch(target, {
      method: request.method,
      headers,
      body: request.body === undefined ? undefined : JSON.stringify(request.body),
      dispatcher: context.getDispatcher(),
      signal: request.signal,
    });
    observer?.request(request.method, String(response.status));
    return { status: response.status, body: parseBody(await response.text()) };
  } catch (error: unknown) {
    observer?.request(request.method, NO_RESPONSE_CODE);
    throw new ControllerError('ERR_NO_RESPONSE', `${request.method} ${request.path}: no response`, {
      cause: error,
    });
  }
}

/** The `message` of a Kubernetes Status body, or the HTTP status. */
export function statusMessage(response: ApiResponse): string {
  const message = (response.body as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' ? message : `HTTP ${response.status}`;
}
