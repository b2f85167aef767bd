import { describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import {
  ensembleReadiness,
  holdReason,
  podReady,
} from '../../../../operator/src/coordination/ensemble-readiness.ts';
import type { CoordinatorSpec } from '../../../../operator/src/coordination/coordinator-spec.ts';
import { ObjectStore } from '../../../../operator/src/runtime/index.ts';

const spec: CoordinatorSpec = {
  namespace: 'demo',
  app: 'shop',
  connectString: 'shop-zookeeper-0.shop-zookeeper-headless.demo.svc.cluster.local:2181',
  members: ['shop-zookeeper-0', 'shop-zookeeper-1', 'shop-zookeeper-2'],
  partitions: 12,
  departureDelayMs: 0,
  replicas: 3,
};

function pod(name: string, ready: string, namespace = 'demo'): V1Pod {
  return {
    metadata: { name, namespace },
    status: { conditions: [{ type: 'Ready', status: ready }] },
  };
}

describe('ensemble readiness', () => {
  it('counts the member pods whose Ready condition is True, in member order', () => {
    const pods = new ObjectStore<V1Pod>();
    pods.put(pod('shop-zookeeper-2', 'True'));
    pods.put(pod('shop-zookeeper-1', 'False'));
    pods.put(pod('shop-zookeeper-0', 'True', 'other'));
    pods.put(pod('shop-zookeeper-3', 'True'));
    expect(ensembleReadiness(spec, pods)).toEqual({ ready: ['shop-zookeeper-2'], members: 3, quorum: 2 });
    pods.put(pod('shop-zookeeper-0', 'True'));
    expect(ensembleReadiness(spec, pods)?.ready).toEqual(['shop-zookeeper-0', 'shop-zookeeper-2']);
  });

  it('holds below a majority and not from a majority on; never for an external ensemble', () => {
    expect(holdReason({ ready: ['a'], members: 3, quorum: 2 })).toBe(
      '1 of 3 ZooKeeper members Ready, a quorum needs 2',
    );
    expect(holdReason({ ready: ['a', 'b'], members: 3, quorum: 2 })).toBeUndefined();
    expect(holdReason({ ready: [], members: 1, quorum: 1 })).toBe(
      '0 of 1 ZooKeeper members Ready, a quorum needs 1',
    );
    const external = { ...spec, connectString: 'zk.example:2181' };
    delete (external as { members?: unknown }).members;
    expect(ensembleReadiness(external, new ObjectStore<V1Pod>())).toBeUndefined();
    expect(holdReason(undefined)).toBeUndefined();
  });

  it('reads a pod without conditions, or no pod at all, as not Ready', () => {
    expect(podReady(undefined)).toBe(false);
    expect(podReady({ metadata: { name: 'x' } })).toBe(false);
    expect(podReady(pod('x', 'Unknown'))).toBe(false);
    expect(podReady(pod('x', 'True'))).toBe(true);
  });
});
