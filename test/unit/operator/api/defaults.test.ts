import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { applyDefaults, applySpecDefaults } from '../../../../operator/src/api/defaults.ts';
import {
  APP_NAME_MAX_LENGTH,
  CAPSTAN_VERSION,
  DNS_LABEL_MAX_LENGTH,
  STATEFULSET_NAME_MAX_LENGTH,
} from '../../../../operator/src/api/limits.ts';
import type { DistributedAppSpec } from '../../../../operator/src/api/schema.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../../..');

describe('applySpecDefaults', () => {
  const minimal = { workers: { upstream: 'http://backend:8080' } };

  it('fills in every default of a minimal spec', () => {
    const expected: DistributedAppSpec = {
      workers: {
        image: `ghcr.io/capstan-dev/worker:${CAPSTAN_VERSION}`,
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

describe('limits', () => {
  it('the worker image tag follows the package version', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    expect(CAPSTAN_VERSION).toBe(pkg.version);
  });

  it('derived names of the longest app name stay within Kubernetes limits', () => {
    const name = 'a'.repeat(APP_NAME_MAX_LENGTH);
    expect(`${name}-zookeeper-headless`.length).toBeLessThanOrEqual(DNS_LABEL_MAX_LENGTH);
    expect(`${name}-zookeeper`.length).toBeLessThanOrEqual(STATEFULSET_NAME_MAX_LENGTH);
    expect(`${name}-workers-headless`.length).toBeLessThanOrEqual(DNS_LABEL_MAX_LENGTH);
    // controller-revision-hash label: <statefulset>-<hash of up to 10 characters>
    expect(`${name}-zookeeper-0123456789`.length).toBeLessThanOrEqual(DNS_LABEL_MAX_LENGTH);
  });
});
