import type { FastifyInstance } from 'fastify';

type SentryModule = typeof import('@sentry/node');
/** Loaded by {@link initSentry} only: importing @sentry/node costs about 0.5 s of a worker's start. */
let Sentry: SentryModule | undefined;

/** Sentry settings of the worker (from SENTRY_DSN, SENTRY_ENVIRONMENT, SENTRY_SAMPLE_RATE). */
export interface SentryOptions {
  dsn: string;
  environment: string;
  sampleRate: number;
  /** Tags added to every event (worker id, app). */
  tags?: Record<string, string>;
}

/**
 * Initialises `@sentry/node` with its fastify integration, which reports errors thrown by route
 * handlers (fastify's error diagnostics channel and error hook). Call it only when a DSN is
 * configured; without one Sentry is never initialised and sends nothing. Tracing is off.
 */
export async function initSentry(options: SentryOptions): Promise<void> {
  // A restarted worker's partitions wait for its start, so the import is paid only with a DSN.
  Sentry = await import('@sentry/node');
  Sentry.init({
    dsn: options.dsn,
    environment: options.environment,
    sampleRate: options.sampleRate,
    tracesSampleRate: 0,
    integrations: [Sentry.fastifyIntegration()],
    initialScope: { tags: options.tags ?? {} },
  });
}

/** Flushes pending Sentry events (bounded) when the app closes. Register it only after {@link initSentry}. */
export function sentryPlugin(app: FastifyInstance, _options: unknown, done: (error?: Error) => void): void {
  app.addHook('onClose', async () => {
    await Sentry?.close(2000);
  });
  done();
}
