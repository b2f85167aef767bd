import { applyDefaults } from '../../../../operator/src/api/defaults.ts';
import type { WithoutDefaults } from '../../../../operator/src/api/defaults.ts';
import type { DistributedApp } from '../../../../operator/src/api/schema.ts';
import type { Observed } from '../../../../operator/src/model/observed.ts';

type AppInput = WithoutDefaults<DistributedApp>;

function stored(
  name: string,
  spec: AppInput['spec'],
  extra: Partial<AppInput['metadata']> = {},
): DistributedApp {
  return applyDefaults({
    apiVersion: 'capstan.dev/v1alpha1',
    kind: 'DistributedApp',
    metadata: { name, namespace: 'demo', uid: `uid-${name}`, generation: 1, ...extra },
    spec,
  });
}

/** The smallest useful app: cache-gateway in front of an upstream, every other field defaulted. */
export function minimalApp(): DistributedApp {
  return stored('hello', { workers: { upstream: 'http://backend.default.svc:8080' } });
}

/** A production-like app: 3-member ZooKeeper, 2 HAProxy behind a LoadBalancer, resources, Sentry. */
export function productionApp(): DistributedApp {
  return stored(
    'shop',
    {
      workers: {
        replicas: 6,
        partitions: 256,
        app: 'cache-gateway',
        upstream: 'https://catalog.shop.svc:8443',
        resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: '1', memory: '512Mi' } },
        env: [
          { name: 'LOG_LEVEL', value: 'info' },
          { name: 'API_TOKEN', valueFrom: { secretKeyRef: { name: 'shop-tokens', key: 'api' } } },
        ],
      },
      cache: {
        redis: {
          maxMemory: '1Gi',
          evictionPolicy: 'allkeys-lfu',
          resources: { requests: { cpu: '250m', memory: '1280Mi' }, limits: { cpu: '1', memory: '1536Mi' } },
        },
      },
      coordination: {
        zookeeper: {
          replicas: 3,
          storage: { size: '5Gi', storageClassName: 'fast' },
          resources: { requests: { cpu: '250m', memory: '512Mi' }, limits: { memory: '1Gi' } },
        },
      },
      loadBalancer: {
        haproxy: {
          replicas: 2,
          algorithm: 'leastconn',
          service: { type: 'LoadBalancer', port: 443, nodePort: 31443 },
          resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
        },
      },
      errorReporting: {
        sentry: { dsnSecretRef: { name: 'shop-sentry' }, environment: 'production', sampleRate: 0.25 },
      },
      failurePolicy: { rebalanceDelaySeconds: 15, crashLoopRestartAfterSeconds: 120 },
    },
    {
      labels: { 'app.kubernetes.io/part-of': 'shop' },
      annotations: { 'capstan.dev/restartedAt': '2025-01-02T03:04:05Z' },
    },
  );
}

/** An app using an existing Redis (with a password Secret) and an existing ZooKeeper ensemble. */
export function externalApp(): DistributedApp {
  return stored('counters', {
    workers: { app: 'counters', replicas: 4, partitions: 128 },
    cache: {
      external: { url: 'rediss://redis.data.svc:6380', passwordSecretRef: { name: 'counters-redis' } },
    },
    coordination: { external: { connectString: 'zk-0.zk.data.svc:2181,zk-1.zk.data.svc:2181/capstan' } },
  });
}

/** An app named `name`, otherwise like {@link minimalApp}. */
export function appNamed(name: string): DistributedApp {
  return stored(name, { workers: { upstream: 'http://backend.default.svc:8080' } });
}

/** What the reconciler would pass: the password read back from the Secret. */
export const OBSERVED: Observed = {
  redisPassword: 'correct-horse-battery-staple',
  zooKeeperCredentials: { operatorPassword: 'operator-secret-0123', workerPassword: 'worker-secret-4567' },
};
