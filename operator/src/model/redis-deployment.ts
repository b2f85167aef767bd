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

/**
 * Starts Redis with the file from the ConfigMap and `requirepass` read from standard input (`-`), written
 * there by the shell from the Secret's environment variable: the password never appears in an argument
 * list (the container's spec as the runtime stores it, `ps`, `/proc/<pid>/cmdline`). The here-document is
 * a pipe in dash (the official image's `sh`), so nothing is written to the read-only root filesystem, and
 * `exec` leaves Redis as the container's first process, which gets the kubelet's SIGTERM. The operator
 * generates the password in hex, so the line needs no quoting.
 */
function redisStartScript(): string {
  return [
    `exec redis-server ${CONFIG_DIR}/${REDIS_CONFIG_FILE} - <<EOF`,
    'requirepass $REDIS_PASSWORD',
    'EOF',
  ].join('\n');
}

function redisContainer(redis: RedisSpec, secretName: string): V1Container {
  const passwordFromSecret = { secretKeyRef: { name: secretName, key: REDIS_PASSWORD_KEY } };
  return {
    name: 'redis',
    image: redis.image,
    command: ['sh', '-c', redisStartScript()],
    env: [
      { name: 'REDIS_PASSWORD', valueFrom: passwordFromSecret },
      // For `redis-cli` run by hand in the container (kubectl exec).
      { name: 'REDISCLI_AUTH', valueFrom: passwordFromSecret },
    ],
    ports: [{ name: 'redis', containerPort: PORTS.redis, protocol: 'TCP' }],
    // A TCP probe, not `redis-cli ping`: this Redis persists nothing, so it has no loading phase and
    // serves as soon as it accepts connections, and an exec probe costs a runtime exec with a shell and
    // redis-cli each time (about 0.8 % of a core in the container's shim at one every 10 s).
    readinessProbe: {
      tcpSocket: { port: 'redis' },
      initialDelaySeconds: 1,
      periodSeconds: 5,
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
