import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cacheGatewayApp } from './apps/cache-gateway.ts';
import { countersApp } from './apps/counters.ts';
import type { WorkerConfig } from './config.ts';
import { AppDefinitionError } from './define-app.ts';
import type { AppDefinition } from './define-app.ts';

/**
 * The app a worker runs: a built-in one by name, or the default export of `CAPSTAN_APP_MODULE` (an
 * {@link AppDefinition}, or a function of the worker config that returns one).
 */
export async function loadApp(config: WorkerConfig): Promise<AppDefinition> {
  if (config.app === 'cache-gateway' && config.upstream.url !== undefined) {
    return cacheGatewayApp({
      upstream: config.upstream.url,
      ttlSeconds: config.cacheTtlSeconds,
      timeoutMs: config.upstream.timeoutMs,
      memory: config.memoryCache,
    });
  }
  if (config.app === 'counters') return countersApp({ writeDelayMs: config.countersWriteDelayMs });
  if (config.appModule === undefined) throw new AppDefinitionError(`no module for app ${config.app}`);
  const module = (await import(pathToFileURL(resolve(config.appModule)).href)) as { default?: unknown };
  const exported = module.default;
  const definition =
    typeof exported === 'function' ? (exported as (c: WorkerConfig) => unknown)(config) : exported;
  const candidate = definition as Partial<AppDefinition> | undefined;
  if (typeof candidate?.name !== 'string' || !Array.isArray(candidate.routes)) {
    throw new AppDefinitionError(`${config.appModule} does not export an app made with defineApp()`);
  }
  return candidate as AppDefinition;
}
