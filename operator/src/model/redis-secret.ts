import type { V1Secret } from '@kubernetes/client-node';
import type { DistributedApp, RedisSpec } from '../api/schema.ts';
import type { Desired } from './metadata.ts';
import { objectMeta } from './metadata.ts';
import { ModelInputError } from './model-error.ts';
import { appNames } from './names.ts';
import type { Observed } from './observed.ts';
import { appIdentity } from './owner.ts';

/** Key of the password in the Redis Secret. */
export const REDIS_PASSWORD_KEY = 'password';

/**
 * The Secret with the in-cluster Redis password. The password is an input (`observed.redisPassword`): the
 * reconciler generates it once and afterwards passes back what the existing Secret holds, so the Secret is
 * never rewritten; it is also marked immutable. Throws {@link ModelInputError} without a password.
 */
export function redisSecret(app: DistributedApp, redis: RedisSpec, observed: Observed): Desired<V1Secret> {
  const password = observed.redisPassword;
  if (password === undefined || password === '') {
    throw new ModelInputError('observed.redisPassword', 'an in-cluster Redis needs the generated password');
  }
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: objectMeta(app, 'redis', appNames(appIdentity(app).name).redisAuth, redis.image),
    type: 'Opaque',
    immutable: true,
    data: { [REDIS_PASSWORD_KEY]: Buffer.from(password, 'utf8').toString('base64') },
  };
}
