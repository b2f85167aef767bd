import type { V1Container, V1Deployment } from '@kubernetes/client-node';
import type { DistributedApp, HAProxySpec } from '../api/schema.ts';
import { configChecksumAnnotation } from './checksum.ts';
import {
  HAPROXY_CONFIG_DIR,
  HAPROXY_CONFIG_FILE,
  HAPROXY_OWNER_MAP_FILE,
  haproxyFiles,
} from './haproxy-config-map.ts';
import { selectorLabels, standardLabels } from './labels.ts';
import type { Desired } from './metadata.ts';
import { objectMeta } from './metadata.ts';
import { appNames } from './names.ts';
import type { Observed } from './observed.ts';
import { appIdentity } from './owner.ts';
import { basePodSpec, containerResources } from './pod-spec.ts';
import { PORTS } from './ports.ts';
import { containerSecurityContext, tmpMount, tmpVolume } from './security.ts';
import { zooKeeperClientEnv } from './worker-env.ts';

function haproxyContainer(haproxy: HAProxySpec): V1Container {
  return {
    name: 'haproxy',
    image: haproxy.image,
    command: ['haproxy', '-f', `${HAPROXY_CONFIG_DIR}/${HAPROXY_CONFIG_FILE}`],
    ports: [
      { name: 'http', containerPort: PORTS.haproxyHttp, protocol: 'TCP' },
      { name: 'stats', containerPort: PORTS.haproxyStats, protocol: 'TCP' },
    ],
    readinessProbe: {
      httpGet: { path: '/stats', port: 'stats' },
      periodSeconds: 5,
      timeoutSeconds: 2,
      failureThreshold: 2,
    },
    livenessProbe: {
      tcpSocket: { port: 'http' },
      initialDelaySeconds: 5,
      periodSeconds: 10,
      timeoutSeconds: 2,
      failureThreshold: 6,
    },
    resources: containerResources(haproxy.resources),
    securityContext: containerSecurityContext(),
    volumeMounts: [{ name: 'config', mountPath: HAPROXY_CONFIG_DIR, readOnly: true }, tmpMount()],
  };
}

/**
 * Beside HAProxy, the process that keeps its owner map in step with ZooKeeper (workload/src/owner-map-main.ts),
 * from the workers' image and with the workers' ZooKeeper identity (it only reads).
 */
function ownerMapContainer(app: DistributedApp, observed: Observed): V1Container {
  const { name, namespace } = appIdentity(app);
  return {
    name: 'owner-map',
    image: app.spec.workers.image,
    command: ['node', 'workload/src/owner-map-main.js'],
    env: [
      { name: 'CAPSTAN_NAMESPACE', value: namespace },
      { name: 'CAPSTAN_APP_NAME', value: name },
      { name: 'CAPSTAN_HAPROXY_RUNTIME', value: `127.0.0.1:${PORTS.haproxyRuntime}` },
      { name: 'CAPSTAN_HAPROXY_MAP', value: `${HAPROXY_CONFIG_DIR}/${HAPROXY_OWNER_MAP_FILE}` },
      ...zooKeeperClientEnv(app, observed),
    ],
    resources: { requests: { cpu: '10m', memory: '48Mi' }, limits: { memory: '128Mi' } },
    securityContext: containerSecurityContext(),
  };
}

/**
 * The HAProxy pods in front of the workers: a Deployment that rolls one new pod in before an old one
 * goes. The pod template carries the checksum of `haproxy.cfg`.
 */
export function haproxyDeployment(
  app: DistributedApp,
  haproxy: HAProxySpec,
  observed: Observed,
): Desired<V1Deployment> {
  const names = appNames(appIdentity(app).name);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: objectMeta(app, 'haproxy', names.haproxy, haproxy.image),
    spec: {
      replicas: haproxy.replicas,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      selector: { matchLabels: selectorLabels(app, 'haproxy') },
      template: {
        metadata: {
          labels: standardLabels(app, 'haproxy', haproxy.image),
          annotations: configChecksumAnnotation(haproxyFiles(app, haproxy, observed)),
        },
        spec: {
          ...basePodSpec(app, 'haproxy'),
          terminationGracePeriodSeconds: 35,
          containers: [haproxyContainer(haproxy), ownerMapContainer(app, observed)],
          volumes: [{ name: 'config', configMap: { name: names.haproxyConfig } }, tmpVolume()],
        },
      },
    },
  };
}
