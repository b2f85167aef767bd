import { describe, it, expect } from '@jest/globals';
import type { V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import type { ZooKeeperMode } from '../../../../common/src/zookeeper-four-letter.ts';
import {
  NO_ANSWERS,
  nextZooKeeperMemberToRestart,
  observeZooKeeperModes,
  zooKeeperModeProbeFunc,
  zooKeeperRollPlan,
} from '../../../../operator/src/controller/zookeeper-roll.ts';
import { PORTS } from '../../../../operator/src/model/ports.ts';

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
  ip?: string;
}

function pod(
  ordinal: number,
  { revision = 'old', ready = true, terminating = false, ip }: PodState = {},
): V1Pod {
  return {
    metadata: {
      name: `${SET}-${ordinal}`,
      uid: `uid-${ordinal}`,
      labels: { 'controller-revision-hash': revision },
      ...(terminating ? { deletionTimestamp: new Date('2030-01-01T00:00:00Z') } : {}),
    },
    status: {
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
      ...(ip === undefined ? {} : { podIP: ip }),
    },
  };
}

/** What each ordinal answered to `srvr` (undefined: no answer). */
function modes(...byOrdinal: (ZooKeeperMode | undefined)[]): Map<string, ZooKeeperMode | undefined> {
  return new Map(byOrdinal.map((mode, ordinal) => [`${SET}-${ordinal}`, mode]));
}

/** The members restarted, in order, when every restarted member comes back Ready on the new revision. */
function rollOrder(
  replicas: number,
  answers: (ordinals: readonly number[]) => Map<string, ZooKeeperMode | undefined>,
): string[] {
  const set = statefulSet(replicas);
  const rolled = new Set<number>();
  const restarted: string[] = [];
  for (let step = 0; step < replicas + 1; step++) {
    const pods = Array.from({ length: replicas }, (_, i) =>
      pod(i, { revision: rolled.has(i) ? 'new' : 'old' }),
    );
    const next = nextZooKeeperMemberToRestart(set, pods, answers([...rolled]));
    if (next === undefined) break;
    restarted.push(next);
    rolled.add(Number(next.slice(SET.length + 1)));
  }
  return restarted;
}

describe('zooKeeperRollPlan without answers (fallback: readiness only)', () => {
  it('finds members whose revision label differs from the update revision, highest ordinal first', () => {
    const pods = [pod(0), pod(1, { revision: 'new' }), pod(2)];
    expect(zooKeeperRollPlan(statefulSet(3), pods, NO_ANSWERS)).toEqual({
      outOfDate: [`${SET}-2`, `${SET}-0`],
      next: `${SET}-2`,
      nextMode: undefined,
      basis: 'by-ordinal',
    });
  });

  it('restarts the highest ordinal first, then the next once the restarted one is back and Ready', () => {
    const set = statefulSet(3);
    expect(nextZooKeeperMemberToRestart(set, [pod(0), pod(1), pod(2)], NO_ANSWERS)).toBe(`${SET}-2`);
    const two = pod(2, { revision: 'new' });
    expect(nextZooKeeperMemberToRestart(set, [pod(0), pod(1), two], NO_ANSWERS)).toBe(`${SET}-1`);
    const one = pod(1, { revision: 'new' });
    expect(nextZooKeeperMemberToRestart(set, [pod(0), one, two], NO_ANSWERS)).toBe(`${SET}-0`);
  });

  it('falls back to the ordinal order when every member is asked and none answers', () => {
    expect(rollOrder(3, () => modes(undefined, undefined, undefined))).toEqual([
      `${SET}-2`,
      `${SET}-1`,
      `${SET}-0`,
    ]);
  });

  it('restarts nothing while any member is not Ready', () => {
    const set = statefulSet(3);
    expect(
      nextZooKeeperMemberToRestart(set, [pod(0), pod(1, { ready: false }), pod(2)], NO_ANSWERS),
    ).toBeUndefined();
    const restarted = pod(2, { revision: 'new', ready: false });
    const plan = zooKeeperRollPlan(set, [pod(0), pod(1), restarted], NO_ANSWERS);
    expect(plan).toEqual({
      outOfDate: [`${SET}-1`, `${SET}-0`],
      next: undefined,
      nextMode: undefined,
      basis: 'members-down',
    });
  });

  it('restarts nothing while a member is terminating or missing', () => {
    const set = statefulSet(3);
    const terminating = pod(2, { terminating: true });
    expect(nextZooKeeperMemberToRestart(set, [pod(0), pod(1), terminating], NO_ANSWERS)).toBeUndefined();
    expect(nextZooKeeperMemberToRestart(set, [pod(0), pod(1)], NO_ANSWERS)).toBeUndefined();
    expect(zooKeeperRollPlan(set, [pod(0), pod(1)], NO_ANSWERS).outOfDate).toEqual([`${SET}-1`, `${SET}-0`]);
  });

  it('restarts nothing when every member is up to date', () => {
    const pods = [0, 1, 2].map((i) => pod(i, { revision: 'new' }));
    expect(zooKeeperRollPlan(statefulSet(3), pods, modes('follower', 'leader', 'follower'))).toEqual({
      outOfDate: [],
      next: undefined,
      nextMode: undefined,
      basis: 'up-to-date',
    });
  });

  it('waits until the StatefulSet controller has observed the latest spec', () => {
    const stale = statefulSet(3, 'new', 1);
    const plan = zooKeeperRollPlan(stale, [pod(0), pod(1), pod(2)], NO_ANSWERS);
    expect(plan).toMatchObject({ outOfDate: [], next: undefined, basis: 'up-to-date' });
  });

  it('ignores pods of other sets and ordinals beyond the replica count', () => {
    const set = statefulSet(1);
    const other: V1Pod = { ...pod(0), metadata: { ...pod(0).metadata, name: 'shop-zookeeper-extra-0' } };
    const scaledAway = pod(3, { ready: false });
    expect(zooKeeperRollPlan(set, [pod(0), other, scaledAway], NO_ANSWERS)).toMatchObject({
      outOfDate: [`${SET}-0`],
      next: `${SET}-0`,
    });
  });
});

describe('zooKeeperRollPlan with answers (followers first, leader last, only with quorum)', () => {
  const pods3 = [pod(0), pod(1), pod(2)];

  it('restarts the out-of-date followers first, highest ordinal first, the leader last', () => {
    // Member 2 leads throughout: the followers 1 and 0 go first.
    expect(rollOrder(3, () => modes('follower', 'follower', 'leader'))).toEqual([
      `${SET}-1`,
      `${SET}-0`,
      `${SET}-2`,
    ]);
    expect(rollOrder(5, () => modes('leader', 'follower', 'follower', 'follower', 'follower'))).toEqual([
      `${SET}-4`,
      `${SET}-3`,
      `${SET}-2`,
      `${SET}-1`,
      `${SET}-0`,
    ]);
  });

  it('says which role the member to restart has', () => {
    const answers = modes('follower', 'leader', 'follower');
    expect(zooKeeperRollPlan(statefulSet(3), pods3, answers)).toEqual({
      outOfDate: [`${SET}-2`, `${SET}-1`, `${SET}-0`],
      next: `${SET}-2`,
      nextMode: 'follower',
      basis: 'by-role',
    });
    const leaderLeft = [pod(0, { revision: 'new' }), pod(1), pod(2, { revision: 'new' })];
    expect(zooKeeperRollPlan(statefulSet(3), leaderLeft, answers)).toMatchObject({
      next: `${SET}-1`,
      nextMode: 'leader',
      basis: 'by-role',
    });
  });

  it('follows the leader when it moves during the roll', () => {
    // 2 leads until the first restart; then 1, already on the new revision, wins an election.
    const leading = (rolled: readonly number[]): Map<string, ZooKeeperMode | undefined> =>
      rolled.length === 0 ? modes('follower', 'follower', 'leader') : modes('follower', 'leader', 'follower');
    expect(rollOrder(3, leading)).toEqual([`${SET}-1`, `${SET}-2`, `${SET}-0`]);
  });

  it('restarts nothing when the answers show no leader or two', () => {
    for (const answers of [
      modes('follower', 'follower', 'follower'),
      modes('leader', 'follower', 'leader'),
      modes(undefined, undefined, 'follower'),
    ]) {
      expect(zooKeeperRollPlan(statefulSet(3), pods3, answers)).toEqual({
        outOfDate: [`${SET}-2`, `${SET}-1`, `${SET}-0`],
        next: undefined,
        nextMode: undefined,
        basis: 'no-quorum',
      });
    }
  });

  it('restarts no serving member whose restart would leave fewer than a majority serving', () => {
    // 0 leads, 1 follows, 2 does not answer: restarting 0 or 1 would leave one serving member of three.
    const answers = modes('leader', 'follower', undefined);
    const pods = [pod(0), pod(1), pod(2, { revision: 'new' })];
    expect(zooKeeperRollPlan(statefulSet(3), pods, answers)).toMatchObject({
      next: undefined,
      basis: 'no-quorum',
    });
    // Restarting the member that does not answer leaves the leader and the follower: a majority.
    expect(zooKeeperRollPlan(statefulSet(3), pods3, answers)).toMatchObject({
      next: `${SET}-2`,
      nextMode: undefined,
      basis: 'by-role',
    });
  });

  it('still restarts nothing while a member is down, whatever the others answer', () => {
    const pods = [pod(0), pod(1, { ready: false }), pod(2)];
    const plan = zooKeeperRollPlan(statefulSet(3), pods, modes('follower', undefined, 'leader'));
    expect(plan).toMatchObject({ next: undefined, basis: 'members-down' });
  });

  it('restarts a standalone single member (an outage that cannot be avoided)', () => {
    const set = statefulSet(1);
    expect(zooKeeperRollPlan(set, [pod(0)], modes('standalone'))).toEqual({
      outOfDate: [`${SET}-0`],
      next: `${SET}-0`,
      nextMode: 'standalone',
      basis: 'by-role',
    });
    expect(zooKeeperRollPlan(set, [pod(0)], NO_ANSWERS)).toMatchObject({
      next: `${SET}-0`,
      basis: 'by-ordinal',
    });
  });
});

describe('observeZooKeeperModes', () => {
  it('asks every member at its pod IP on the client port, and counts a pod without an IP as silent', async () => {
    const asked: string[] = [];
    const probe = zooKeeperModeProbeFunc((host, port) => {
      asked.push(`${host}:${port}`);
      return Promise.resolve<ZooKeeperMode | undefined>(host === '10.0.0.2' ? 'leader' : 'follower');
    });
    const members = [pod(2, { ip: '10.0.0.2' }), pod(1), pod(0, { ip: '10.0.0.0' })];
    const answers = await observeZooKeeperModes(members, probe, new AbortController().signal);
    expect(answers).toEqual(modes('follower', undefined, 'leader'));
    expect(asked.sort()).toEqual([`10.0.0.0:${PORTS.zookeeperClient}`, `10.0.0.2:${PORTS.zookeeperClient}`]);
  });

  it('gives each probe a signal that aborts at the deadline', async () => {
    // A member that never answers on its own: the probe returns once the deadline's signal aborts.
    const probe = zooKeeperModeProbeFunc(
      (_host, _port, signal) =>
        new Promise<ZooKeeperMode | undefined>((resolve) =>
          signal.addEventListener('abort', () => resolve(undefined), { once: true }),
        ),
    );
    const answers = await observeZooKeeperModes(
      [pod(0, { ip: '10.0.0.0' })],
      probe,
      new AbortController().signal,
      10,
    );
    expect(answers).toEqual(modes(undefined));
  });

  it('passes the caller abort on to the probes', async () => {
    const caller = new AbortController();
    caller.abort();
    const probe = zooKeeperModeProbeFunc((_host, _port, signal) =>
      Promise.resolve<ZooKeeperMode | undefined>(signal.aborted ? undefined : 'leader'),
    );
    const answers = await observeZooKeeperModes([pod(0, { ip: '10.0.0.0' })], probe, caller.signal);
    expect(answers).toEqual(modes(undefined));
  });
});
