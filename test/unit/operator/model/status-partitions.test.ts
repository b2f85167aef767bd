import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import type { V1Deployment, V1StatefulSet } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import type { DistributedApp, DistributedAppStatus } from '../../../../operator/src/api/schema.ts';
import { computeStatus, statusEqual, type ObservedChildren } from '../../../../operator/src/model/status.ts';
import type { OwnershipSummary, PartitionInput } from '../../../../operator/src/model/status-partitions.ts';
import { minimalApp } from './fixtures.ts';

const T0 = new Date('2030-01-01T00:00:00Z');
const T1 = new Date('2030-01-01T00:05:00Z');
const GOLDEN = join(import.meta.dirname, 'golden', 'status-partitions.yaml');

function workload(replicas: number): V1StatefulSet & V1Deployment {
  return {
    metadata: { generation: 1 },
    spec: { replicas } as never,
    status: { replicas, readyReplicas: replicas, updatedReplicas: replicas, observedGeneration: 1 },
  };
}

function children(partitions?: PartitionInput): ObservedChildren {
  return {
    zookeeper: workload(1),
    redis: workload(1),
    workers: workload(3),
    haproxy: workload(1),
    ...(partitions === undefined ? {} : { partitions }),
  };
}

const BALANCED: OwnershipSummary = {
  count: 12,
  version: 3,
  byWorker: { 'hello-workers-0': 4, 'hello-workers-1': 4, 'hello-workers-2': 4 },
  owned: 12,
  claiming: 0,
  waiting: 0,
  unassigned: 0,
};
const MOVING: OwnershipSummary = {
  count: 12,
  version: 4,
  byWorker: { 'hello-workers-0': 6, 'hello-workers-2': 6 },
  owned: 8,
  claiming: 4,
  waiting: 0,
  unassigned: 0,
};
const LAST = {
  time: '2030-01-01T00:01:00.000Z',
  reason: 'members changed (left: hello-workers-1)',
  moved: 4,
};

function observed(ownership: OwnershipSummary, withLast = true): PartitionInput {
  return { state: 'observed', ownership, ...(withLast ? { lastRebalance: LAST } : {}) };
}

function rebalancing(status: DistributedAppStatus) {
  return status.conditions?.find((c) => c.type === 'Rebalancing');
}

function withStatus(app: DistributedApp, status: DistributedAppStatus): DistributedApp {
  return { ...app, status };
}

describe('the partition part of the status', () => {
  it('shows count, assignment version, per-worker counts and owned; Balanced when all are claimed', () => {
    const status = computeStatus(minimalApp(), children(observed(BALANCED)), T0);
    expect(status.partitions).toEqual({
      count: 12,
      epoch: 3,
      byWorker: { 'hello-workers-0': 4, 'hello-workers-1': 4, 'hello-workers-2': 4 },
      owned: 12,
    });
    expect(status.lastRebalance).toEqual(LAST);
    expect(rebalancing(status)).toMatchObject({
      status: 'False',
      reason: 'Balanced',
      message: '12 of 12 partitions owned',
    });
  });

  it('is Rebalancing while moved partitions are not yet claimed, with the counts', () => {
    const app = withStatus(minimalApp(), computeStatus(minimalApp(), children(observed(BALANCED)), T0));
    const status = computeStatus(app, children(observed(MOVING)), T1);
    expect(rebalancing(status)).toMatchObject({
      status: 'True',
      reason: 'PartitionsMoving',
      message: '4 of 12 partitions not yet claimed by their new owners; 8 owned',
      lastTransitionTime: T1.toISOString(),
    });
    expect(status.partitions?.owned).toBe(8);
  });

  it('is not Rebalancing for partitions waiting out a departed worker’s delay, but says so', () => {
    const waiting = { ...BALANCED, owned: 8, waiting: 4 };
    expect(rebalancing(computeStatus(minimalApp(), children(observed(waiting)), T0))).toMatchObject({
      status: 'False',
      reason: 'Balanced',
      message: '8 of 12 partitions owned; 4 wait for a departed worker',
    });
    const none = { ...BALANCED, count: 0, byWorker: {}, owned: 0 };
    const { version: _v, ...unversioned } = none;
    const status = computeStatus(minimalApp(), children(observed(unversioned, false)), T0);
    expect(rebalancing(status)?.message).toBe('No assignment yet');
    expect(status.partitions).toEqual({ count: 0, byWorker: {}, owned: 0 });
  });

  it('keeps the stored last rebalance until a newer one is known (a new leader has seen none)', () => {
    const stored = withStatus(minimalApp(), computeStatus(minimalApp(), children(observed(BALANCED)), T0));
    const restarted = computeStatus(stored, children(observed(BALANCED, false)), T1);
    expect(restarted.lastRebalance).toEqual(LAST);
    expect(statusEqual(stored.status, restarted)).toBe(true);
    const newer = { ...LAST, time: '2030-01-01T00:04:00.000Z', moved: 2 };
    const next = computeStatus(
      stored,
      children({ state: 'observed', ownership: BALANCED, lastRebalance: newer }),
      T1,
    );
    expect(next.lastRebalance).toEqual(newer);
  });

  it('keeps everything stored while the coordinator has not reported yet', () => {
    const stored = withStatus(minimalApp(), computeStatus(minimalApp(), children(observed(MOVING)), T0));
    for (const input of [undefined, { state: 'pending' } as const]) {
      const status = computeStatus(stored, children(input), T1);
      expect(statusEqual(stored.status, status)).toBe(true);
      expect(rebalancing(status)?.lastTransitionTime).toBe(T0.toISOString());
    }
  });

  it('says when ZooKeeper cannot be observed: owned unset, Rebalancing Unknown, the rest kept', () => {
    const stored = withStatus(minimalApp(), computeStatus(minimalApp(), children(observed(BALANCED)), T0));
    const status = computeStatus(stored, children({ state: 'unreachable' }), T1);
    expect(status.partitions).toEqual({
      count: 12,
      epoch: 3,
      byWorker: { 'hello-workers-0': 4, 'hello-workers-1': 4, 'hello-workers-2': 4 },
    });
    expect(status.lastRebalance).toEqual(LAST);
    expect(rebalancing(status)).toMatchObject({ status: 'Unknown', reason: 'ZooKeeperUnreachable' });
    const again = computeStatus(withStatus(minimalApp(), status), children({ state: 'unreachable' }), T1);
    expect(statusEqual(status, again)).toBe(true);
    const fresh = computeStatus(minimalApp(), children({ state: 'unreachable' }), T0);
    expect(fresh.partitions).toEqual({ count: 64 });
    expect(fresh.lastRebalance).toBeUndefined();
  });

  it('says when this operator does not coordinate', () => {
    const status = computeStatus(minimalApp(), children({ state: 'off' }), T0);
    expect(rebalancing(status)).toMatchObject({ status: 'Unknown', reason: 'NotCoordinated' });
    expect(status.partitions?.owned).toBeUndefined();
  });

  it('is stable: the same summary gives an equal status however often it is computed', () => {
    const first = computeStatus(minimalApp(), children(observed(MOVING)), T0);
    const second = computeStatus(withStatus(minimalApp(), first), children(observed(MOVING)), T1);
    expect(second).toEqual(first);
  });

  it('matches the golden file (UPDATE_GOLDEN=1 regenerates it)', () => {
    const balanced = computeStatus(minimalApp(), children(observed(BALANCED)), T0);
    const moving = computeStatus(withStatus(minimalApp(), balanced), children(observed(MOVING)), T1);
    const unreachable = computeStatus(
      withStatus(minimalApp(), moving),
      children({ state: 'unreachable' }),
      T1,
    );
    const actual = [balanced, moving, unreachable]
      .map((status) => stringify({ status }, { lineWidth: 0, singleQuote: true }))
      .join('---\n');
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(GOLDEN, actual);
    if (!existsSync(GOLDEN)) throw new Error(`${GOLDEN} is missing: run with UPDATE_GOLDEN=1 to create it`);
    expect(actual).toBe(readFileSync(GOLDEN, 'utf8'));
  });
});
