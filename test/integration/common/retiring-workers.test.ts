import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { decodeAssignment } from '../../../common/src/assignment-record.ts';
import { PartitionOwnership } from '../../../common/src/partition-ownership.ts';
import { Rebalancer } from '../../../common/src/rebalancer.ts';
import { connect } from '../../../common/src/zookeeper-client.ts';
import type { ZooKeeperClient } from '../../../common/src/zookeeper-client.ts';
import { assignmentPath, memberPath } from '../../../common/src/zk-paths.ts';
import { startZooKeeper, waitUntil } from '../../../workload/src/local/index.ts';
import type { ZooKeeperService } from '../../../workload/src/local/index.ts';

const APP = { namespace: 'default', app: 'retiring' };
const PARTITIONS = 12;

// A scale-down as the operator drives it: the coordinator restarts with the smaller worker count, and
// its rebalancer gives the workers that will go nothing while they are still registered and serving.
describe('a rebalancer with retiring workers', () => {
  let zk: ZooKeeperService;
  const clients: ZooKeeperClient[] = [];
  const closers: (() => Promise<void>)[] = [];

  const client = async (): Promise<ZooKeeperClient> => {
    const c = await connect({ connectString: zk.connectString, sessionTimeoutMs: 60_000 });
    clients.push(c);
    return c;
  };
  const owners = async (admin: ZooKeeperClient): Promise<(string | undefined)[]> =>
    decodeAssignment((await admin.get(assignmentPath(APP))).data).partitions.map((p) => p.owner);
  const rebalancer = async (retiring: ReadonlySet<string>): Promise<Rebalancer> => {
    const r = new Rebalancer({
      ...APP,
      client: await client(),
      partitions: PARTITIONS,
      retiring: (w) => retiring.has(w),
    });
    await r.start();
    closers.push(() => r.close());
    return r;
  };

  beforeAll(async () => {
    zk = await startZooKeeper();
  });
  afterAll(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await Promise.all(clients.map((c) => c.close()));
    await zk?.stop();
  });

  it('moves only the retiring workers’ partitions, balanced, while they stay members', async () => {
    const admin = await client();
    const first = await rebalancer(new Set());
    const workers = new Map<string, PartitionOwnership>();
    for (const id of ['w-0', 'w-1', 'w-2']) {
      const ownership = new PartitionOwnership({
        ...APP,
        client: await client(),
        workerId: id,
        member: { address: id },
      });
      await ownership.start();
      closers.push(() => ownership.close());
      workers.set(id, ownership);
    }
    const served = (): number => [...workers.values()].reduce((n, w) => n + w.serving().size, 0);
    await waitUntil(async () => new Set(await owners(admin)).size === 3 && served() === PARTITIONS, {
      what: 'three owners serving everything',
      timeoutMs: 30_000,
    });
    const before = await owners(admin);
    await first.close();

    await rebalancer(new Set(['w-2']));
    await waitUntil(async () => !(await owners(admin)).includes('w-2'), {
      what: 'w-2 drained',
      timeoutMs: 30_000,
    });
    const after = await owners(admin);
    const moved = after.filter((owner, p) => owner !== before[p]).length;
    expect(moved).toBe(before.filter((o) => o === 'w-2').length);
    const counts = ['w-0', 'w-1'].map((w) => after.filter((o) => o === w).length);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    await waitUntil(
      () => Promise.resolve(served() === PARTITIONS && workers.get('w-2')!.serving().size === 0),
      {
        what: 'the survivors serving every partition',
        timeoutMs: 30_000,
      },
    );
    expect(await admin.exists(memberPath(APP, 'w-2'))).toBeDefined();
  });
});
