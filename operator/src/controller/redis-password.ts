/**
 * The in-cluster Redis password: generated once, then always read back from the app's Secret (which is
 * immutable), so reconciles, restarts and new leaders keep the password the workers already use.
 */
import { randomBytes } from 'node:crypto';
import type { KubeConfig, V1Secret } from '@kubernetes/client-node';
import type { DistributedApp } from '../api/schema.ts';
import { appNames } from '../model/names.ts';
import { REDIS_PASSWORD_KEY } from '../model/redis-secret.ts';
import type { Store } from '../runtime/index.ts';
import { send, statusMessage } from './api-client.ts';
import { ControllerError } from './errors.ts';
import { objectPath, OWNED_RESOURCES } from './resources.ts';

/** Bytes of randomness in a generated password (hex encoded, so twice as many characters). */
const PASSWORD_BYTES = 24;

function decode(secret: V1Secret | undefined): string | undefined {
  const value = secret?.data?.[REDIS_PASSWORD_KEY];
  return value === undefined || value === '' ? undefined : Buffer.from(value, 'base64').toString('utf8');
}

/** Options of `redisPassword`. */
export interface RedisPasswordOptions {
  readonly kubeConfig: KubeConfig;
  readonly secrets: Store<V1Secret>;
  /** Source of randomness; default `crypto.randomBytes`. */
  readonly random?: (size: number) => Buffer;
  readonly signal?: AbortSignal;
}

/**
 * The password of the app's in-cluster Redis: from the cached Secret; when the cache has none, from the
 * apiserver (the cache may lag a Secret created moments ago); when the Secret does not exist, a new
 * random one. Throws `ControllerError` `ERR_SECRET_READ` when the Secret cannot be read.
 */
export async function redisPassword(app: DistributedApp, options: RedisPasswordOptions): Promise<string> {
  const namespace = app.metadata.namespace ?? '';
  const name = appNames(app.metadata.name ?? '').redisAuth;
  const cached = decode(options.secrets.get(namespace, name));
  if (cached !== undefined) return cached;
  const response = await send(options.kubeConfig, {
    method: 'GET',
    path: objectPath(OWNED_RESOURCES.Secret, namespace, name),
    signal: options.signal,
  });
  if (response.status === 200) {
    const stored = decode(response.body as V1Secret);
    if (stored !== undefined) return stored;
  } else if (response.status !== 404) {
    throw new ControllerError(
      'ERR_SECRET_READ',
      `reading Secret ${namespace}/${name}: ${statusMessage(response)}`,
      {
        statusCode: response.status,
      },
    );
  }
  return (options.random ?? randomBytes)(PASSWORD_BYTES).toString('hex');
}
