import type { V1Service } from '@kubernetes/client-node';
import type { DistributedApp, RedisSpec } from '../api/schema.ts';
import { selectorLabels } from './labels.ts';
import type { Desired } from './metadata.ts';
import { objectMeta } from './metadata.ts';
import { appNames, serviceDnsName } from './names.ts';
import { clusterDomain } from './observed.ts';
import type { Observed } from './observed.ts';
import { appIdentity } from './owner.ts';
import { PORTS } from './ports.ts';

/** The ClusterIP Service in front of the in-cluster Redis. */
export function redisService(app: DistributedApp, redis: RedisSpec): Desired<V1Service> {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: objectMeta(app, 'redis', appNames(appIdentity(app).name).redis, redis.image),
    spec: {
      type: 'ClusterIP',
      selector: selectorLabels(app, 'redis'),
      ports: [{ name: 'redis', port: PORTS.redis, targetPort: 'redis', protocol: 'TCP' }],
    },
  };
}

/** The Redis URL the workers use: the in-cluster Service, or the external URL passed through unchanged. */
export function redisUrl(app: DistributedApp, observed: Observed): string {
  const { redis, external } = app.spec.cache;
  if (redis === undefined) return external?.url ?? '';
  const { name, namespace } = appIdentity(app);
  return `redis://${serviceDnsName(appNames(name).redis, namespace, clusterDomain(observed))}:${PORTS.redis}`;
}
