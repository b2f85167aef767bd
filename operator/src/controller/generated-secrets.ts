/**
 * Values the operator generates once and keeps in an app's immutable Secret (the Redis password, the
 * ZooKeeper credentials): always read back from the Secret, so reconciles, restarts and new leaders keep
 * what the workers already use. New random values only while the Secret does not exist.
 */
import { randomBytes } from 'node:crypto';
import type { KubeConfig, V1Secret } from '@kubernetes/client-node';
import type { AppCredentials } from '../../../common/src/zookeeper-acl.ts';
import type { DistributedApp } from '../api/schema.ts';
import { appNames } from '../model/names.ts';
import { REDIS_PASSWORD_KEY } from '../model/redis-secret.ts';
import { ZOOKEEPER_SECRET_KEYS } from '../model/zookeeper-secret.ts';
import type { Store } from '../runtime/index.ts';
import { send, statusMessage } from './api-client.ts';
import { ControllerError } from './errors.ts';
import { objectPath, OWNED_RESOURCES } from './resources.ts';

/** Bytes of randomness in a generated password (hex encoded, so twice as many characters). */
const PASSWORD_BYTES = 24;

/** Options of the readers below. */
export interface GeneratedSecretOptions {
  readonly kubeConfig: KubeConfig;
  readonly secrets: Store<V1Secret>;
  /** Source of randomness; default `crypto.randomBytes`. */
  readonly random?: (size: number) => Buffer;
  readonly signal?: AbortSignal;
}

/** `keys` of `secret` decoded, or undefined unless every one is present and non-empty. */
export function decodeKeys<K extends string>(
  secret: V1Secret | undefined,
  keys: readonly K[],
): Record<K, string> | undefined {
  const values = keys.map((key) => secret?.data?.[key]);
  if (values.some((value) => value === undefined || value === '')) return undefined;
  return Object.fromEntries(
    keys.map((key, i) => [key, Buffer.from(values[i] as string, 'base64').toString('utf8')]),
  ) as Record<K, string>;
}

async function readStored(
  namespace: string,
  name: string,
  options: GeneratedSecretOptions,
): Promise<V1Secret | undefined> {
  const response = await send(options.kubeConfig, {
    method: 'GET',
    path: objectPath(OWNED_RESOURCES.Secret, namespace, name),
    signal: options.signal,
  });
  if (response.status === 200) return response.body as V1Secret;
  if (response.status === 404) return undefined;
  throw new ControllerError(
    'ERR_SECRET_READ',
    `reading Secret ${namespace}/${name}: ${statusMessage(response)}`,
    {
      statusCode: response.status,
    },
  );
}

/**
 * The values of `keys` in the app's Secret `name`: from the cache; when the cache has none, from the
 * apiserver (the cache may lag a Secret created moments ago); when the Secret does not exist, new random
 * ones. Throws `ControllerError` `ERR_SECRET_READ` when the Secret cannot be read.
 */
async function generatedValues<K extends string>(
  app: DistributedApp,
  name: string,
  keys: readonly K[],
  options: GeneratedSecretOptions,
): Promise<Record<K, string>> {
  const namespace = app.metadata.namespace ?? '';
  const cached = decodeKeys(options.secrets.get(namespace, name), keys);
  if (cached !== undefined) return cached;
  const stored = decodeKeys(await readStored(namespace, name, options), keys);
  if (stored !== undefined) return stored;
  const random = options.random ?? randomBytes;
  return Object.fromEntries(keys.map((key) => [key, random(PASSWORD_BYTES).toString('hex')])) as Record<
    K,
    string
  >;
}

/** The password of the app's in-cluster Redis (`<app>-redis-auth`). */
export async function redisPassword(app: DistributedApp, options: GeneratedSecretOptions): Promise<string> {
  const name = appNames(app.metadata.name ?? '').redisAuth;
  return (await generatedValues(app, name, [REDIS_PASSWORD_KEY], options))[REDIS_PASSWORD_KEY];
}

const CREDENTIAL_KEYS = [
  ZOOKEEPER_SECRET_KEYS.operatorPassword,
  ZOOKEEPER_SECRET_KEYS.workerPassword,
] as const;

function toCredentials(values: Record<(typeof CREDENTIAL_KEYS)[number], string>): AppCredentials {
  return { operatorPassword: values['operator-password'], workerPassword: values['worker-password'] };
}

/** The app's ZooKeeper credentials of a Secret's data, or undefined while any is missing. */
export function credentialsOf(secret: V1Secret | undefined): AppCredentials | undefined {
  const values = decodeKeys(secret, CREDENTIAL_KEYS);
  return values === undefined ? undefined : toCredentials(values);
}

/** The app's ZooKeeper digest credentials (`<app>-zookeeper-auth`). */
export async function zooKeeperCredentials(
  app: DistributedApp,
  options: GeneratedSecretOptions,
): Promise<AppCredentials> {
  const name = appNames(app.metadata.name ?? '').zookeeperAuth;
  return toCredentials(await generatedValues(app, name, CREDENTIAL_KEYS, options));
}
