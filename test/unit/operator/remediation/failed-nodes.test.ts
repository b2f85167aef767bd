import { describe, expect, it } from '@jest/globals';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import type { DistributedApp } from '../../../../operator/src/api/schema.ts';
import type { StatusEvent } from '../../../../operator/src/model/status-events.ts';
import { nodeHealth } from '../../../../operator/src/remediation/failed-nodes.ts';
import { PodHistory } from '../../../../operator/src/remediation/pod-history.ts';
import { RemediationMetrics } from '../../../../operator/src/remediation/remediation-metrics.ts';
import {
  WorkerRemediation,
  type RemediationTarget,
} from '../../../../operator/src/remediation/worker-remediation.ts';
import { ObjectStore, silentLogger, systemClock } from '../../../../operator/src/runtime/index.ts';
import { appIndexValues, BY_APP_INDEX } from '../../../../operator/src/model/labels.ts';
import { storedApp } from '../coordination/helpers.ts';

function node(name: string, ready: boolean, taints: string[] = []): V1Node {
  return {
    metadata: { name },
    spec: { taints: taints.map((key) => ({ key, effect: 'NoExecute' })) },
    status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'Unknown' }] },
  };
}

function workerPod(name: string, nodeName: string): V1Pod {
  return {
    metadata: {
      name,
      namespace: 'demo',
      uid: `uid-${name}`,
      labels: { 'app.kubernetes.io/component': 'worker', 'app.kubernetes.io/instance': 'shop' },
    },
    spec: { nodeName, containers: [] },
    status: { phase: 'Running', containerStatuses: [] },
  };
}

describe('nodeHealth', () => {
  it('tells ready, failed and out-of-service nodes apart', () => {
    expect(nodeHealth(node('a', true))).toBe('ready');
    expect(nodeHealth(undefined)).toBe('ready');
    expect(nodeHealth(node('b', false))).toBe('failed');
    expect(nodeHealth(node('c', true, ['node.kubernetes.io/unreachable']))).toBe('failed');
    expect(nodeHealth(node('d', false, ['node.kubernetes.io/out-of-service']))).toBe('out-of-service');
  });
});

describe('worker pods on failed nodes', () => {
  function setUp(forceDelete: boolean, failedNode: V1Node) {
    const pods = new ObjectStore<V1Pod>({ [BY_APP_INDEX]: appIndexValues });
    pods.put(workerPod('shop-worker-0', 'node-a'));
    pods.put(workerPod('shop-worker-1', failedNode.metadata!.name!));
    const nodes = new ObjectStore<V1Node>();
    nodes.put(node('node-a', true));
    nodes.put(failedNode);
    const deleted: { name: string; force: boolean }[] = [];
    const events: StatusEvent[] = [];
    const removed: { worker: string; provenDead: string[] }[] = [];
    const members = new Set(['shop-worker-0', 'shop-worker-1']);
    const target: RemediationTarget = {
      removeStaleSession: (worker, provenDead) => {
        removed.push({ worker, provenDead: [...provenDead] });
        // A member still registered has its session removed; a gone one has its partitions moved at once.
        const gone = !members.has(worker);
        return Promise.resolve({
          session: gone ? undefined : '1',
          owners: [],
          rebalanced: gone,
          waiting: true,
        });
      },
      noticeLeaving: () => Promise.resolve(true),
      isMember: (worker) => members.has(worker),
    };
    const remediation = new WorkerRemediation({
      pods,
      nodes,
      history: new PodHistory(systemClock),
      metrics: new RemediationMetrics(new Registry()),
      deletePod: (_ns, name, _uid, options) => {
        deleted.push({ name, force: options?.force === true });
        return Promise.resolve();
      },
      events: { record: (_app, event) => Promise.resolve(void events.push(event)) },
      logger: silentLogger(),
      clock: systemClock,
    });
    const app: DistributedApp = storedApp('shop', {
      failurePolicy: { forceDeletePodsOnFailedNodes: forceDelete },
    });
    return { remediation, app, target, members, deleted, events, removed };
  }

  it("force-deletes with the opt-in, and only once the worker's session expired", async () => {
    const t = setUp(true, node('node-b', false));
    await t.remediation.run(t.app, t.target);
    expect(t.deleted).toEqual([]); // its session lives: its process may still serve
    t.members.delete('shop-worker-1'); // the session expired
    await t.remediation.run(t.app, t.target);
    await t.remediation.run(t.app, t.target);
    expect(t.deleted).toEqual([{ name: 'shop-worker-1', force: true }]);
    expect(t.events.map((e) => e.reason)).toEqual(['PodForceDeleted']);
  });

  it('moves the partitions once the session expired, without waiting for the rebalance delay', async () => {
    const t = setUp(false, node('node-b', false));
    await t.remediation.run(t.app, t.target);
    expect(t.removed).toEqual([]); // its session lives: fencing first
    t.members.delete('shop-worker-1');
    await t.remediation.run(t.app, t.target);
    await t.remediation.run(t.app, t.target);
    expect(t.removed).toEqual([{ worker: 'shop-worker-1', provenDead: ['shop-worker-1'] }]);
  });

  it('without the opt-in leaves the pod and says why, once', async () => {
    const t = setUp(false, node('node-b', false));
    t.members.delete('shop-worker-1');
    await t.remediation.run(t.app, t.target);
    await t.remediation.run(t.app, t.target);
    expect(t.deleted).toEqual([]);
    expect(t.events.map((e) => e.reason)).toEqual(['WorkerOnFailedNode']);
    expect(t.events[0]?.message).toContain('forceDeletePodsOnFailedNodes');
  });

  it('treats an out-of-service node as proof of death: the session is removed at once', async () => {
    const t = setUp(false, node('node-b', false, ['node.kubernetes.io/out-of-service']));
    await t.remediation.run(t.app, t.target);
    expect(t.removed).toEqual([{ worker: 'shop-worker-1', provenDead: ['shop-worker-1'] }]);
    expect(t.deleted).toEqual([]);
  });
});
