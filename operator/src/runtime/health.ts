/**
 * Health and metrics endpoints as a fastify plugin: `/healthz` (liveness), `/readyz` (readiness) with
 * named checks, and `/metrics` from the registry passed in. Responses follow controller-runtime:
 * 200 `ok` when every check passes, otherwise 500 listing `[+]name ok` / `[-]name failed: reason`.
 */
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';

/** A check passes by resolving; it fails by throwing (the message is shown) or returning false. */
export type HealthCheck = () => boolean | void | Promise<boolean | void>;

/** Named liveness and readiness checks. */
export class HealthChecks {
  readonly #checks = { healthz: new Map<string, HealthCheck>(), readyz: new Map<string, HealthCheck>() };

  /** Adds a liveness check (a failing one gets the pod restarted). */
  addHealthz(name: string, check: HealthCheck): void {
    this.#checks.healthz.set(name, check);
  }

  /** Adds a readiness check. */
  addReadyz(name: string, check: HealthCheck): void {
    this.#checks.readyz.set(name, check);
  }

  /** Runs every check of `kind`; `ok` is true when all passed. */
  async run(kind: 'healthz' | 'readyz'): Promise<{ ok: boolean; lines: string[] }> {
    const lines: string[] = [];
    let ok = true;
    for (const [name, check] of this.#checks[kind]) {
      const failure = await runCheck(check);
      ok &&= failure === undefined;
      lines.push(failure === undefined ? `[+]${name} ok` : `[-]${name} failed: ${failure}`);
    }
    return { ok, lines };
  }
}

async function runCheck(check: HealthCheck): Promise<string | undefined> {
  try {
    return (await check()) === false ? 'check returned false' : undefined;
  } catch (error: unknown) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** Options of `healthPlugin` and `buildHealthServer`. */
export interface HealthPluginOptions {
  readonly checks: HealthChecks;
  /** Served at `/metrics`. */
  readonly registry: Registry;
}

/** Registers `GET /healthz`, `GET /readyz` (add `?verbose` to list each check) and `GET /metrics`. */
export const healthPlugin: FastifyPluginAsync<HealthPluginOptions> = (app, options) => {
  for (const kind of ['healthz', 'readyz'] as const) {
    app.get(`/${kind}`, async (request, reply) => {
      const { ok, lines } = await options.checks.run(kind);
      const verbose = Object.hasOwn((request.query as object | undefined) ?? {}, 'verbose');
      const body = ok && !verbose ? 'ok' : [...lines, `${kind} check ${ok ? 'passed' : 'failed'}`].join('\n');
      return reply
        .code(ok ? 200 : 500)
        .type('text/plain; charset=utf-8')
        .send(body);
    });
  }
  app.get('/metrics', async (_request, reply) => {
    const text = await options.registry.metrics();
    return reply.type(options.registry.contentType).send(text);
  });
  return Promise.resolve();
};

/** A fastify instance serving only the health plugin (listen on it separately). */
export function buildHealthServer(options: HealthPluginOptions): FastifyInstance {
  const app = Fastify({ logger: false });
  void app.register(healthPlugin, options);
  return app;
}
