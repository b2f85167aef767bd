/**
 * Who may read the dashboard, as controller-runtime's secure metrics and kube-rbac-proxy decide it: the
 * request's `Authorization: Bearer <token>` is checked with a TokenReview (authentication), then the user
 * it names with a SubjectAccessReview for {@link DASHBOARD_ACCESS}, `get` on `distributedapps` in group
 * `capstan.dev` in every namespace (the dashboard shows every app). No token or an unauthenticated one is
 * 401, a user without the permission 403, an apiserver that cannot be asked 503; each with a message that
 * says what to do. A dashboard bound to loopback only ({@link isLoopback}) skips this: only processes of the
 * pod (or `kubectl port-forward`, which needs `create` on `pods/portforward`) reach it.
 * Decisions are cached per token for `ttlMs` (default 10 s) so a polling page costs no review per request.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { send, statusMessage } from '../controller/api-client.ts';

/** The user a TokenReview returned. */
export interface UserInfo {
  readonly username: string;
  readonly uid?: string;
  readonly groups?: readonly string[];
  readonly extra?: Readonly<Record<string, readonly string[]>>;
}

/** The apiserver's reviews (the boundary tests fake). Both reject when the apiserver cannot be asked. */
export interface ReviewApi {
  /** The token's user, or undefined when it is not authenticated. */
  tokenReview(token: string): Promise<UserInfo | undefined>;
  /** Whether `user` may do {@link DASHBOARD_ACCESS}, with the authorizer's reason. */
  accessReview(user: UserInfo): Promise<{ allowed: boolean; reason: string }>;
}

/** The authorization check: the permission a dashboard reader needs. */
export const DASHBOARD_ACCESS = { verb: 'get', group: 'capstan.dev', resource: 'distributedapps' } as const;

/** How a request is answered. */
export type AuthDecision =
  | { readonly status: 200; readonly user: string }
  | { readonly status: 401 | 403 | 503; readonly message: string };

const NO_TOKEN =
  'a Kubernetes bearer token is required: send "Authorization: Bearer $(kubectl create token NAME)", ' +
  'or reach the dashboard through kubectl port-forward when it is bound to loopback';

/** Whether `host` (a bind address) accepts connections from this machine only. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function bearer(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

function denied(user: string, reason: string): string {
  const why = reason === '' ? '' : ` (${reason})`;
  const { verb, group, resource } = DASHBOARD_ACCESS;
  return `user "${user}" may not read the dashboard: it needs ${verb} on ${resource}.${group} in all namespaces${why}`;
}

/** The decision for a request with this `Authorization` header (pure but for `api`). */
export async function decide(header: string | undefined, api: ReviewApi): Promise<AuthDecision> {
  const token = bearer(header);
  if (token === undefined) return { status: 401, message: NO_TOKEN };
  try {
    const user = await api.tokenReview(token);
    if (user === undefined) return { status: 401, message: 'the bearer token is not valid (TokenReview)' };
    const access = await api.accessReview(user);
    if (!access.allowed) return { status: 403, message: denied(user.username, access.reason) };
    return { status: 200, user: user.username };
  } catch (error: unknown) {
    const detail = error instanceof Error ? error.message : String(error);
    return { status: 503, message: `cannot check the token with the Kubernetes API: ${detail}` };
  }
}

/** Options of {@link CachedAuthorizer}. */
export interface CachedAuthorizerOptions {
  readonly api: ReviewApi;
  /** Default 10 000. */
  readonly ttlMs?: number;
  /** Default Date.now. */
  readonly now?: () => number;
}

/** Tokens remembered at most; the oldest is forgotten first. */
const MAX_CACHED = 1_000;

/** {@link decide} with each token's 200/401/403 remembered for `ttlMs` (503s are not remembered). */
export class CachedAuthorizer {
  readonly #o: CachedAuthorizerOptions;
  readonly #cache = new Map<string, { decision: AuthDecision; until: number }>();

  constructor(options: CachedAuthorizerOptions) {
    this.#o = options;
  }

  async decide(header: string | undefined): Promise<AuthDecision> {
    const now = (this.#o.now ?? Date.now)();
    const key = header ?? '';
    const hit = this.#cache.get(key);
    if (hit !== undefined && hit.until > now) return hit.decision;
    this.#cache.delete(key);
    const decision = await decide(header, this.#o.api);
    if (decision.status === 503) return decision;
    this.#cache.set(key, { decision, until: now + (this.#o.ttlMs ?? 10_000) });
    if (this.#cache.size > MAX_CACHED) this.#cache.delete(this.#cache.keys().next().value ?? '');
    return decision;
  }
}

interface ReviewStatus {
  status?: { authenticated?: boolean; allowed?: boolean; reason?: string; user?: UserInfo; error?: string };
}

async function create(kc: KubeConfig, path: string, body: unknown): Promise<ReviewStatus> {
  const response = await send(kc, { method: 'POST', path, body });
  if (response.status >= 300) throw new Error(`POST ${path}: ${statusMessage(response)}`);
  return response.body ?? {};
}

/** The real reviews, as the operator's ServiceAccount (`create` on both kinds, see rbac/rules.ts). */
export function kubeReviewApi(kc: KubeConfig): ReviewApi {
  return {
    async tokenReview(token) {
      const review = await create(kc, '/apis/authentication.k8s.io/v1/tokenreviews', {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenReview',
        spec: { token },
      });
      const user = review.status?.user;
      return review.status?.authenticated === true && user?.username !== undefined ? user : undefined;
    },
    async accessReview(user) {
      const review = await create(kc, '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user: user.username,
          ...(user.uid === undefined ? {} : { uid: user.uid }),
          ...(user.groups === undefined ? {} : { groups: user.groups }),
          ...(user.extra === undefined ? {} : { extra: user.extra }),
          resourceAttributes: { ...DASHBOARD_ACCESS, namespace: '' },
        },
      });
      return { allowed: review.status?.allowed === true, reason: review.status?.reason ?? '' };
    },
  };
}
