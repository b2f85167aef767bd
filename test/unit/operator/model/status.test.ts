import { describe, expect, it } from '@jest/globals';
import type { V1Deployment, V1StatefulSet } from '@kubernetes/client-node';
import type { DistributedApp, DistributedAppStatus } from '../../../../operator/src/api/schema.ts';
import { computeStatus, statusEqual } from '../../../../operator/src/model/status.ts';
import type { ObservedChildren } from '../../../../operator/src/model/status.ts';
import { statusEvents } from '../../../../operator/src/model/status-events.ts';
import { externalApp, minimalApp } from './fixtures.ts';

const T0 = new Date('2030-01-01T00:00:00Z');
const T1 = new Date('2030-01-01T00:05:00Z');

function workload(replicas: number, ready: number, updated = replicas): V1StatefulSet & V1Deployment {
  return {
    metadata: { generation: 1 },
    spec: { replicas } as never,
    status: { replicas, readyReplicas: ready, updatedReplicas: updated, observedGeneration: 1 },
  };
}

/** Children of the minimal app (1 ZooKeeper, Redis, 3 workers, 1 HAProxy) with `ready` pods each. */
function children(
  ready: Partial<Record<'zookeeper' | 'redis' | 'workers' | 'haproxy', number>> = {},
): ObservedChildren {
  return {
    zookeeper: workload(1, ready.zookeeper ?? 1),
    redis: workload(1, ready.redis ?? 1),
    workers: workload(3, ready.workers ?? 3),
    haproxy: workload(1, ready.haproxy ?? 1),
  };
}

function condition(status: DistributedAppStatus, type: string) {
  return status.conditions?.find((c) => c.type === type);
}

function withStatus(app: DistributedApp, status: DistributedAppStatus): DistributedApp {
  return { ...app, status };
}

describe('computeStatus', () => {
  it('is Pending with nothing created, Creating in progress', () => {
    const status = computeStatus(minimalApp(), {}, T0);
    expect(status.phase).toBe('Pending');
    expect(condition(status, 'Ready')).toMatchObject({ status: 'False', reason: 'ZooKeeperNotReady' });
    expect(condition(status, 'Progressing')).toMatchObject({ status: 'True', reason: 'Creating' });
    expect(condition(status, 'Degraded')).toMatchObject({ status: 'False' });
    expect(status.observedGeneration).toBe(1);
  });

  it('is Running and Ready when every component is ready', () => {
    const status = computeStatus(minimalApp(), children(), T0);
    expect(status.phase).toBe('Running');
    expect(condition(status, 'Ready')).toEqual({
      type: 'Ready',
      status: 'True',
      reason: 'AllComponentsReady',
      message: 'All components are ready',
      lastTransitionTime: T0.toISOString(),
      observedGeneration: 1,
    });
    expect(condition(status, 'Progressing')).toMatchObject({ status: 'False', reason: 'RolloutComplete' });
    expect(condition(status, 'CacheAvailable')).toMatchObject({ status: 'True' });
    expect(status.workers).toEqual({ desired: 3, current: 3, ready: 3 });
    expect(status.components?.zookeeper).toEqual({
      ready: true,
      readyReplicas: 1,
      message: 'ZooKeeper 1/1 ready',
    });
    expect(status.selector).toBe(
      'app.kubernetes.io/component=worker,app.kubernetes.io/instance=hello,app.kubernetes.io/name=capstan-worker',
    );
  });

  it('counts workers still starting as progressing, not degraded, before the app was first ready', () => {
    const status = computeStatus(minimalApp(), children({ workers: 0 }), T0);
    expect(status.phase).toBe('Progressing');
    expect(condition(status, 'Degraded')?.status).toBe('False');
  });

  it('turns Degraded once a ready app loses a component, keeping untouched transition times', () => {
    const app = minimalApp();
    const ready = computeStatus(app, children(), T0);
    const lost = computeStatus(withStatus(app, ready), children({ redis: 0 }), T1);
    expect(lost.phase).toBe('Degraded');
    expect(condition(lost, 'Degraded')).toMatchObject({
      status: 'True',
      reason: 'CacheUnavailable',
      lastTransitionTime: T1.toISOString(),
    });
    expect(condition(lost, 'CacheAvailable')).toMatchObject({ status: 'False', reason: 'RedisUnavailable' });
    expect(condition(lost, 'Progressing')?.lastTransitionTime).toBe(T0.toISOString());
    expect(computeStatus(withStatus(app, ready), children({ workers: 0 }), T1).phase).toBe('Failed');
  });

  it('needs a ZooKeeper majority to serve', () => {
    const app = { ...externalApp() };
    app.spec = {
      ...app.spec,
      coordination: { zookeeper: { replicas: 3, image: 'zookeeper:3.9', storage: { size: '1Gi' } } },
    };
    const base = { workers: workload(4, 4), haproxy: workload(1, 1) };
    const ready = computeStatus(app, { ...base, zookeeper: workload(3, 3) }, T0);
    const oneDown = computeStatus(withStatus(app, ready), { ...base, zookeeper: workload(3, 2) }, T1);
    expect(condition(oneDown, 'Degraded')?.status).toBe('False');
    expect(condition(oneDown, 'Ready')?.reason).toBe('ZooKeeperNotReady');
    const twoDown = computeStatus(withStatus(app, ready), { ...base, zookeeper: workload(3, 1) }, T1);
    expect(condition(twoDown, 'Degraded')?.reason).toBe('QuorumLost');
    expect(twoDown.phase).toBe('Failed');
  });

  it('says how far a roll has got while members move to a new template', () => {
    const app = { ...externalApp() };
    app.spec = {
      ...app.spec,
      coordination: { zookeeper: { replicas: 3, image: 'zookeeper:3.9', storage: { size: '1Gi' } } },
    };
    const base = { workers: workload(4, 4), haproxy: workload(1, 1) };
    const rolling = computeStatus(app, { ...base, zookeeper: workload(3, 3, 1) }, T0);
    expect(condition(rolling, 'Progressing')).toMatchObject({
      status: 'True',
      reason: 'RollingOut',
      message: 'ZooKeeper 3/3 ready, 1/3 updated',
    });
    expect(rolling.components?.zookeeper).toMatchObject({ ready: false, readyReplicas: 3 });
    const done = computeStatus(app, { ...base, zookeeper: workload(3, 3) }, T0);
    expect(condition(done, 'Progressing')).toMatchObject({ status: 'False', reason: 'RolloutComplete' });
  });

  it('reports failing pods and a missing Sentry Secret as Degraded at any time', () => {
    const status = computeStatus(
      minimalApp(),
      { ...children({ workers: 2 }), failingPods: [{ name: 'hello-worker-1', reason: 'CrashLoopBackOff' }] },
      T0,
    );
    expect(condition(status, 'Degraded')).toMatchObject({
      status: 'True',
      reason: 'PodsFailing',
      message: 'hello-worker-1: CrashLoopBackOff',
    });
    const app = minimalApp();
    app.spec.errorReporting = {
      sentry: { dsnSecretRef: { name: 's', key: 'dsn' }, environment: 'p', sampleRate: 1 },
    };
    const noSecret = computeStatus(app, { ...children(), sentryDsnSecretExists: false }, T0);
    expect(condition(noSecret, 'Degraded')).toMatchObject({ status: 'True', reason: 'SentrySecretMissing' });
  });

  it('treats external components as not managed and the cache as available', () => {
    const status = computeStatus(externalApp(), { workers: workload(4, 4), haproxy: workload(1, 1) }, T0);
    expect(status.phase).toBe('Running');
    expect(status.components?.redis).toEqual({
      readyReplicas: 0,
      message: 'External; not managed by the operator',
    });
    expect(condition(status, 'CacheAvailable')).toMatchObject({ status: 'True', reason: 'ExternalCache' });
  });

  it('keeps fields and conditions other writers own', () => {
    const app = withStatus(minimalApp(), {
      partitions: { count: 64, epoch: 7 },
      lastRebalance: { reason: 'WorkerLost', moved: 3 },
      conditions: [
        {
          type: 'Rebalancing',
          status: 'False',
          reason: 'Balanced',
          message: '',
          lastTransitionTime: T0.toISOString(),
        },
      ],
    });
    const status = computeStatus(app, children(), T1);
    expect(status.partitions).toEqual({ count: 64, epoch: 7 });
    expect(status.lastRebalance).toEqual({ reason: 'WorkerLost', moved: 3 });
    expect(condition(status, 'Rebalancing')?.lastTransitionTime).toBe(T0.toISOString());
  });
});

describe('statusEqual', () => {
  it('finds a recomputed unchanged status equal, so nothing is written', () => {
    const app = minimalApp();
    const first = computeStatus(app, children(), T0);
    const second = computeStatus(withStatus(app, first), children(), T1);
    expect(second).toEqual(first);
    expect(statusEqual(first, second)).toBe(true);
  });

  it('ignores transition times and key order but not content', () => {
    const a = computeStatus(minimalApp(), children(), T0);
    const b = computeStatus(minimalApp(), children(), T1);
    expect(statusEqual(a, b)).toBe(true);
    expect(
      statusEqual(a, { ...(JSON.parse(JSON.stringify(b)) as DistributedAppStatus), phase: 'Running' }),
    ).toBe(true);
    expect(statusEqual(a, computeStatus(minimalApp(), children({ workers: 2 }), T0))).toBe(false);
    expect(statusEqual(undefined, a)).toBe(false);
  });
});

describe('statusEvents', () => {
  it('reports becoming ready, degrading and recovering once each', () => {
    const app = minimalApp();
    const ready = computeStatus(app, children(), T0);
    expect(statusEvents(undefined, ready)).toEqual([
      { type: 'Normal', reason: 'Ready', message: 'All components are ready' },
    ]);
    expect(statusEvents(ready, computeStatus(withStatus(app, ready), children(), T1))).toEqual([]);
    const lost = computeStatus(withStatus(app, ready), children({ haproxy: 0 }), T1);
    expect(statusEvents(ready, lost)).toEqual([
      { type: 'Warning', reason: 'LoadBalancerUnavailable', message: 'HAProxy 0/1 ready' },
    ]);
    const back = computeStatus(withStatus(app, lost), children(), T1);
    expect(statusEvents(lost, back).map((e) => e.reason)).toEqual(['Ready', 'Recovered']);
  });
});
