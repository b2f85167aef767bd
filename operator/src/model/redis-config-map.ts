import type { V1ConfigMap } from '@kubernetes/client-node';
import { renderRedisConfig } from '../../../common/src/redis-config.ts';
import type { DistributedApp, RedisSpec } from '../api/schema.ts';
import type { Desired } from './metadata.ts';
import { objectMeta } from './metadata.ts';
import { appNames } from './names.ts';
import { appIdentity } from './owner.ts';
import { PORTS } from './ports.ts';
import { quantityToBytes } from './quantity.ts';

/** Key of `redis.conf` in the ConfigMap. */
export const REDIS_CONFIG_FILE = 'redis.conf';

/** Redis's working directory (an emptyDir: nothing is persisted). */
export const REDIS_DATA_DIR = '/data';

/**
 * The rendered config files of the in-cluster Redis: `maxmemory` (the spec's quantity in bytes), the
 * eviction policy, and no persistence. The password is not in the file (a ConfigMap is not secret): the
 * container passes it on the command line from the Secret.
 */
export function redisFiles(redis: RedisSpec): Record<string, string> {
  const config = renderRedisConfig({
    port: PORTS.redis,
    bind: '0.0.0.0',
    maxMemory: quantityToBytes('spec.cache.redis.maxMemory', redis.maxMemory),
    evictionPolicy: redis.evictionPolicy,
    dir: REDIS_DATA_DIR,
  });
  return { [REDIS_CONFIG_FILE]: config };
}

/** The ConfigMap holding `redis.conf`. */
export function redisConfigMap(app: DistributedApp, redis: RedisSpec): Desired<V1ConfigMap> {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: objectMeta(app, 'redis', appNames(appIdentity(app).name).redisConfig, redis.image),
    data: redisFiles(redis),
  };
}
