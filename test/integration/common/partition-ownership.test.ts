import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PartitionOwnership } from '../../../common/src/partition-ownership.ts';
import type { Incarnation } from '../../../common/src/partition-ownership.ts';
import { Rebalancer } from '../../../common/src/rebalancer.ts';
import { connect } from '../../../common/src/zookeeper-client.ts';
import type { ZooKeeperClient } from '../../../common/src/zookeeper-client.ts';
import { memberPath, membersPath, ownerPath, ownersPath } from '../../../common/src/zk-paths.ts';
import { startZooKeeper, waitUntil } from '../../../workload/src/local/index.ts';
import type { ZooKeeperService } from '../../../workload/src/local/index.ts';

const PARTITIONS = 6;
// Far longer than the test: nothing here may wait for a session to expire or a departure delay.
const SESSION_MS = 60_000;
const DELAY_MS = 10 * 60_000;

// A worker killed with -9 leaves its session open until it expires. The previous life here is a
// client that keeps that session open with the owner nodes an earlier incarnation wrote in it.
describe('a worker restarted in its pod', () => {
  let zk: ZooKeeperService;
  const clients: ZooKeeperClient[] = [];
  const closers: (() => Promise<void>)[] = [];
  let app = 0;

  const client = async (): Promise<ZooKeeperClient> => {
    const c = await connect({ connectString: zk.connectString, sessionTimeoutMs: SESSION_MS });
    clients.push(c);
    return c;
  };

  /** A fresh app whose worker `w` is served by a rebalancer and whose previous life holds every partition. */
  async function previousLife(
    left: Incarnation,
  ): Promise<{ ref: { namespace: string; app: string }; old: ZooKeeperClient }> {
    const ref = { namespace: 'default', app: `restart-${++app}` };
    const old = await client();
    await old.mkdirp(ownersPath(ref));
    await old.mkdirp(membersPath(ref));
    await old.create(memberPath(ref, 'w'), JSON.stringify({ address: 'w' }), 'ephemeral');
    for (let p = 0; p < PARTITIONS; p++) {
      const data = { workerId: 'w', epoch: 1, pod: left.pod, incarnation: left.count };
      await old.create(ownerPath(ref, p), JSON.stringify(data), 'ephemeral');
    }
    const rebalancer = new Rebalancer({
      ...ref,
      client: await client(),
      partitions: PARTITIONS,
      departureDelayMs: DELAY_MS,
    });
    await rebalancer.start();
    closers.push(() => rebalancer.close());
    return { ref, old };
  }

  async function restart(
    ref: { namespace: string; app: string },
    incarnation: Incarnation,
  ): Promise<{ ownership: PartitionOwnership; session: string }> {
    const c = await client();
    const ownership = new PartitionOwnership({
      ...ref,
      client: c,
      workerId: 'w',
      member: { address: 'w' },
      incarnation,
    });
    await ownership.start();
    closers.push(() => ownership.close());
    return { ownership, session: c.sessionId };
  }

  const ownerSessions = async (
    admin: ZooKeeperClient,
    ref: { namespace: string; app: string },
  ): Promise<string[]> =>
    Promise.all(
      Array.from(
        { length: PARTITIONS },
        async (_, p) => (await admin.exists(ownerPath(ref, p)))?.ephemeralOwner ?? '',
      ),
    );

  beforeAll(async () => {
    zk = await startZooKeeper();
  });
  afterAll(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await Promise.all(clients.map((c) => c.close()));
    await zk?.stop();
  });

  it('takes its partitions back from its earlier incarnation at once, while that session is still open', async () => {
    const { ref, old } = await previousLife({ pod: 'pod-uid-1', count: 1 });
    const { ownership, session } = await restart(ref, { pod: 'pod-uid-1', count: 2 });
    await waitUntil(() => Promise.resolve(ownership.serving().size === PARTITIONS), {
      what: 'every partition served by the new incarnation',
      timeoutMs: 30_000,
    });
    expect(old.connected).toBe(true);
    expect(await ownerSessions(old, ref)).toEqual(Array.from({ length: PARTITIONS }, () => session));
  });

  it.each([
    ['another pod (the StatefulSet recreated it)', { pod: 'pod-uid-2', count: 5 }],
    ['the same count in the same pod', { pod: 'pod-uid-1', count: 1 }],
  ])('waits for the old session when nothing proves the old process dead: %s', async (_, incarnation) => {
    const { ref, old } = await previousLife({ pod: 'pod-uid-1', count: 1 });
    const { ownership, session } = await restart(ref, incarnation);
    const admin = await client();
    const oldSession = old.sessionId;
    // The new process is registered and the assignment names it; give its claims a few round trips.
    await waitUntil(() => Promise.resolve(ownership.ownerOf(0)?.workerId === 'w'), {
      what: 'the assignment',
      timeoutMs: 30_000,
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(ownership.serving().size).toBe(0);
    expect(new Set(await ownerSessions(admin, ref))).toEqual(new Set([oldSession]));
    await old.close(); // the old session ends: now the partitions may move
    await waitUntil(() => Promise.resolve(ownership.serving().size === PARTITIONS), {
      what: 'every partition served once the old session ended',
      timeoutMs: 30_000,
    });
    expect(new Set(await ownerSessions(admin, ref))).toEqual(new Set([session]));
  });
});
