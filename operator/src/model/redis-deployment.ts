import type { V1Container, V1Deployment } from '@kubernetes/client-node';
import type { DistributedApp, RedisSpec } from '../api/schema.ts';
import { configChecksumAnnotation } from './checksum.ts';
import { selectorLabels, standardLabels } from './labels.ts';
import type { Desired } from './metadata.ts';
import { objectMeta } from './metadata.ts';
import { appNames } from './names.ts';
import { appIdentity } from './owner.ts';
import { basePodSpec, containerResources } from './pod-spec.ts';
import { PORTS } from './ports.ts';
import { REDIS_CONFIG_FILE, REDIS_DATA_DIR, redisFiles } from './redis-config-map.ts';
import { REDIS_PASSWORD_KEY } from './redis-secret.ts';
import { containerSecurityContext, tmpMount, tmpVolume } from './security.ts';

const CONFIG_DIR = '/etc/redis';

function redisContainer(redis: RedisSpec, secretName: string): V1Container {
  const passwordFromSecret = { secretKeyRef: { name: secretName, key: REDIS_PASSWORD_KEY } };
  return {
    name: 'redis',
    image: redis.image,
    // The password comes from the Secret, not the ConfigMap; the kubelet expands $(REDIS_PASSWORD).
    command: ['redis-server', `${CONFIG_DIR}/${REDIS_CONFIG_FILE}`, '--requirepass', '$(REDIS_PASSWORD)'],
    env: [
      { name: 'REDIS_PASSWORD', valueFrom: passwordFromSecret },
      // redis-cli in the readiness probe authenticates with this.
      { name: 'REDISCLI_AUTH', valueFrom: passwordFromSecret },
    ],
    ports: [{ name: 'redis', containerPort: PORTS.redis, protocol: 'TCP' }],
    readinessProbe: {
      exec: { command: ['sh', '-c', `redis-cli -h 127.0.0.1 -p ${PORTS.redis} ping | grep -q PONG`] },
      initialDelaySeconds: 2,
      // An exec probe starts processes in the container (runtime exec, sh, redis-cli): not too often.
      periodSeconds: 10,
      timeoutSeconds: 3,
      failureThreshold: 3,
    },
    livenessProbe: {
      tcpSocket: { port: 'redis' },
      initialDelaySeconds: 10,
      periodSeconds: 10,
      timeoutSeconds: 3,
      failureThreshold: 6,
    },
    resources: containerResources(redis.resources),
    securityContext: containerSecurityContext(),
    volumeMounts: [
      { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
      { name: 'data', mountPath: REDIS_DATA_DIR },
      tmpMount(),
    ],
  };
}

/**
 * The in-cluster Redis: one pod, replaced with `Recreate` so two never run at once, password from the
 * generated Secret, no persistence (its data directory is an emptyDir), readiness from `PING`. The pod
 * template carries the checksum of `redis.conf`.
 */
export function redisDeployment(app: DistributedApp, redis: RedisSpec): Desired<V1Deployment> {
  const names = appNames(appIdentity(app).name);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: objectMeta(app, 'redis', names.redis, redis.image),
    spec: {
      replicas: 1,
      strategy: { type: 'Recreate' },
      selector: { matchLabels: selectorLabels(app, 'redis') },
      template: {
        metadata: {
          labels: standardLabels(app, 'redis', redis.image),
          annotations: configChecksumAnnotation(redisFiles(redis)),
        },
        spec: {
          ...basePodSpec(app, 'redis'),
          terminationGracePeriodSeconds: 10,
          containers: [redisContainer(redis, names.redisAuth)],
          volumes: [
            { name: 'config', configMap: { name: names.redisConfig } },
            { name: 'data', emptyDir: {} },
            tmpVolume(),
          ],
        },
      },
    },
  };
}
