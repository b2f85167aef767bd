import { describe, expect, it } from '@jest/globals';
import type { DistributedApp } from '../../../../operator/src/api/schema.ts';
import type { OwnershipReading } from '../../../../operator/src/coordination/ownership-summary.ts';
import {
  appDetail,
  appSummary,
  operatorView,
  partitionMap,
} from '../../../../operator/src/dashboard/view-model.ts';

const PASSWORD = 's3cret-operator-password';

/** An app whose spec and status carry every kind of field a secret could hide in. */
function app(): DistributedApp {
  return {
    apiVersion: 'capstan.dev/v1alpha1',
    kind: 'DistributedApp',
    metadata: { name: 'shop', namespace: 'team-a', annotations: { token: PASSWORD } },
    spec: {
      workers: { replicas: 3, partitions: 4, env: [{ name: 'API_KEY', value: PASSWORD }] },
      cache: {
        external: { url: `redis://:${PASSWORD}@redis:6379`, passwordSecretRef: { name: 'r', key: 'p' } },
      },
    },
    status: {
      phase: 'Running',
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'AllReady',
          message: 'every component is ready',
          lastTransitionTime: '2026-01-01T00:00:00Z',
          observedGeneration: 1,
        },
      ],
      workers: { desired: 3, ready: 2 },
      partitions: { count: 4, epoch: 7, owned: 3, byWorker: { 'shop-workers-0': 4 } },
      lastRebalance: { time: '2026-01-01T00:01:00Z', reason: 'members changed', moved: 2 },
    },
  } as unknown as DistributedApp;
}

/** p0 owned, p1 moving (assigned to a live member, still held by the old owner), p2 waiting, p3 unassigned. */
const reading: OwnershipReading = {
  record: {
    partitions: [
      { owner: 'shop-workers-0', epoch: 1 },
      { owner: 'shop-workers-1', epoch: 4 },
      { owner: 'shop-workers-2', epoch: 2 },
      { owner: undefined, epoch: 0 },
    ],
  },
  version: 9,
  holders: new Map([
    [0, 'shop-workers-0'],
    [1, 'shop-workers-0'],
  ]),
  members: new Set(['shop-workers-1', 'shop-workers-0']),
};

describe('partitionMap', () => {
  it('lists every partition with owner, epoch and holder, and marks the ones not owned', () => {
    const map = partitionMap(reading);
    expect(map.partitions).toEqual([
      { partition: 0, owner: 'shop-workers-0', epoch: 1, holder: 'shop-workers-0', state: 'owned' },
      { partition: 1, owner: 'shop-workers-1', epoch: 4, holder: 'shop-workers-0', state: 'moving' },
      { partition: 2, owner: 'shop-workers-2', epoch: 2, holder: null, state: 'waiting' },
      { partition: 3, owner: null, epoch: 0, holder: null, state: 'unassigned' },
    ]);
    expect(map.unowned).toBe(3);
    expect(map.version).toBe(9);
    expect(map.members).toEqual(['shop-workers-0', 'shop-workers-1']);
  });

  it('is empty before an assignment exists', () => {
    const map = partitionMap({
      record: undefined,
      version: undefined,
      holders: new Map(),
      members: new Set(),
    });
    expect(map).toEqual({ version: null, members: [], partitions: [], unowned: 0 });
  });
});

describe('appSummary', () => {
  it('takes the partition counts from the reading when this process has one', () => {
    const summary = appSummary(app(), reading);
    expect(summary).toMatchObject({
      namespace: 'team-a',
      name: 'shop',
      phase: 'Running',
      workers: { desired: 3, ready: 2 },
      partitions: { count: 4, owned: 1, version: 9 },
      lastRebalance: { time: '2026-01-01T00:01:00Z', reason: 'members changed', moved: 2 },
      observed: true,
    });
    expect(summary.conditions).toEqual([
      {
        type: 'Ready',
        status: 'True',
        reason: 'AllReady',
        message: 'every component is ready',
        lastTransitionTime: '2026-01-01T00:00:00Z',
      },
    ]);
  });

  it('falls back to the status the leader wrote (a standby)', () => {
    const summary = appSummary(app());
    expect(summary.partitions).toEqual({ count: 4, owned: 3, version: 7 });
    expect(summary.observed).toBe(false);
  });

  it('shows an app without status as Pending with the spec’s replicas', () => {
    const bare = { ...app(), status: undefined } as unknown as DistributedApp;
    expect(appSummary(bare)).toMatchObject({
      phase: 'Pending',
      workers: { desired: 3, ready: 0 },
      partitions: { count: 0, owned: null, version: null },
      lastRebalance: null,
    });
  });
});

describe('appDetail', () => {
  it('never carries a secret of the spec, annotations or env', () => {
    const detail = appDetail(app(), reading, [], []);
    const text = JSON.stringify(detail);
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain('passwordSecretRef');
    expect(text).not.toContain('API_KEY');
    expect(detail.partitionMap?.partitions).toHaveLength(4);
  });

  it('has no partition map without a reading', () => {
    expect(appDetail(app(), undefined, [], []).partitionMap).toBeNull();
  });
});

describe('operatorView', () => {
  it('says who leads as this replica saw it', () => {
    const standby = operatorView({
      identity: 'b',
      leading: false,
      observedLeader: 'a',
      latest: undefined,
      intervalMs: 10_000,
      points: [],
    });
    expect(standby.leader).toEqual({ leading: false, electionEnabled: true, holder: 'a' });
    expect(standby.totals).toBeNull();
    const alone = operatorView({
      identity: 'a',
      leading: true,
      observedLeader: undefined,
      latest: undefined,
      intervalMs: 10_000,
      points: [],
    });
    expect(alone.leader).toEqual({ leading: true, electionEnabled: false, holder: 'a' });
  });
});
