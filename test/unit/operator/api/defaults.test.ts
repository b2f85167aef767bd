import { describe, expect, it } from '@jest/globals';
import { applyDefaults, applySpecDefaults } from '../../../../operator/src/api/defaults.ts';
import { CAPSTAN_VERSION } from '../../../../operator/src/api/limits.ts';
import type { DistributedAppSpec } from '../../../../operator/src/api/schema.ts';

describe('applySpecDefaults', () => {
  const minimal = { workers: { upstream: 'http://backend:8080' } };

  it('fills in every default of a minimal spec', () => {
    const expected: DistributedAppSpec = {
      workers: {
        image: `ghcr.io/capstan-dev/capstan:${CAPSTAN_VERSION}`,
        replicas: 3,
        partitions: 64,
        app: 'cache-gateway',
        upstream: 'http://backend:8080',
      },
      cache: { redis: { image: 'redis:7', maxMemory: '256Mi', evictionPolicy: 'allkeys-lru' } },
      coordination: { zookeeper: { replicas: 1, image: 'zookeeper:3.9', storage: { size: '1Gi' } } },
      loadBalancer: {
        haproxy: {
          replicas: 1,
          algorithm: 'roundrobin',
          image: 'haproxy:2.8',
          service: { type: 'ClusterIP', port: 80 },
        },
      },
      failurePolicy: {
        rebalanceDelaySeconds: 10,
        crashLoopRestartAfterSeconds: 60,
        forceDeletePodsOnFailedNodes: false,
      },
    };
    expect(applySpecDefaults(minimal)).toEqual(expected);
  });

  it('keeps what is set, and does not add the in-cluster form next to an external one', () => {
    const spec = applySpecDefaults({
      ...minimal,
      cache: { external: { url: 'redis://r:6379', passwordSecretRef: { name: 'r' } } },
    });
    expect(spec.cache).toEqual({
      external: { url: 'redis://r:6379', passwordSecretRef: { name: 'r', key: 'password' } },
    });
    expect(spec.coordination.zookeeper?.replicas).toBe(1);
  });

  it('does not mutate its argument', () => {
    const input = structuredClone(minimal);
    applySpecDefaults(input);
    expect(input).toEqual(minimal);
  });

  it('defaults the spec of a whole object', () => {
    const app = applyDefaults({
      apiVersion: 'capstan.dev/v1alpha1',
      kind: 'DistributedApp',
      metadata: {},
      spec: minimal,
    });
    expect(app.spec.workers.partitions).toBe(64);
  });
});
