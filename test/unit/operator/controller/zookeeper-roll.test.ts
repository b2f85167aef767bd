import { describe, it, expect } from '@jest/globals';
import type { V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import {
  nextZooKeeperMemberToRestart,
  zooKeeperRollPlan,
} from '../../../../operator/src/controller/zookeeper-roll.ts';

const SET = 'shop-zookeeper';

function statefulSet(replicas: number, updateRevision = 'new', observedGeneration = 2): V1StatefulSet {
  return {
    metadata: { name: SET, generation: 2, uid: 'set-uid' },
    spec: { replicas } as V1StatefulSet['spec'],
    status: { replicas, observedGeneration, updateRevision, currentRevision: 'old' },
  };
}

interface PodState {
  revision?: string;
  ready?: boolean;
  terminating?: boolean;
}

function pod(ordinal: number, { revision = 'old', ready = true, terminating = false }: PodState = {}): V1Pod {
  return {
    metadata: {
      name: `${SET}-${ordinal}`,
      uid: `uid-${ordinal}`,
      labels: { 'controller-revision-hash': revision },
      ...(terminating ? { deletionTimestamp: new Date('2030-01-01T00:00:00Z') } : {}),
    },
    status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  };
}

describe('nextZooKeeperMemberToRestart', () => {
  it('finds members whose revision label differs from the update revision, highest ordinal first', () => {
    const pods = [pod(0), pod(1, { revision: 'new' }), pod(2)];
    expect(zooKeeperRollPlan(statefulSet(3), pods)).toEqual({
      outOfDate: [`${SET}-2`, `${SET}-0`],
      next: `${SET}-2`,
    });
  });

  it('restarts the highest ordinal first, then the next once the restarted one is back and Ready', () => {
    const set = statefulSet(3);
    expect(nextZooKeeperMemberToRestart(set, [pod(0), pod(1), pod(2)])).toBe(`${SET}-2`);
    const two = pod(2, { revision: 'new' });
    expect(nextZooKeeperMemberToRestart(set, [pod(0), pod(1), two])).toBe(`${SET}-1`);
    const one = pod(1, { revision: 'new' });
    expect(nextZooKeeperMemberToRestart(set, [pod(0), one, two])).toBe(`${SET}-0`);
  });

  it('restarts nothing while any member is not Ready', () => {
    const set = statefulSet(3);
    expect(nextZooKeeperMemberToRestart(set, [pod(0), pod(1, { ready: false }), pod(2)])).toBeUndefined();
    const restarted = pod(2, { revision: 'new', ready: false });
    const plan = zooKeeperRollPlan(set, [pod(0), pod(1), restarted]);
    expect(plan).toEqual({ outOfDate: [`${SET}-1`, `${SET}-0`], next: undefined });
  });

  it('restarts nothing while a member is terminating or missing', () => {
    const set = statefulSet(3);
    expect(
      nextZooKeeperMemberToRestart(set, [pod(0), pod(1), pod(2, { terminating: true })]),
    ).toBeUndefined();
    expect(nextZooKeeperMemberToRestart(set, [pod(0), pod(1)])).toBeUndefined();
    expect(zooKeeperRollPlan(set, [pod(0), pod(1)]).outOfDate).toEqual([`${SET}-1`, `${SET}-0`]);
  });

  it('restarts nothing when every member is up to date', () => {
    const pods = [0, 1, 2].map((i) => pod(i, { revision: 'new' }));
    expect(zooKeeperRollPlan(statefulSet(3), pods)).toEqual({ outOfDate: [], next: undefined });
  });

  it('waits until the StatefulSet controller has observed the latest spec', () => {
    const stale = statefulSet(3, 'new', 1);
    expect(zooKeeperRollPlan(stale, [pod(0), pod(1), pod(2)])).toEqual({ outOfDate: [], next: undefined });
  });

  it('ignores pods of other sets and ordinals beyond the replica count', () => {
    const set = statefulSet(1);
    const other: V1Pod = { ...pod(0), metadata: { ...pod(0).metadata, name: 'shop-zookeeper-extra-0' } };
    const scaledAway = pod(3, { ready: false });
    expect(zooKeeperRollPlan(set, [pod(0), other, scaledAway])).toEqual({
      outOfDate: [`${SET}-0`],
      next: `${SET}-0`,
    });
  });
});
