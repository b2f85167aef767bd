import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { decodeAssignment } from '../../../common/src/assignment-record.ts';
import { PartitionOwnership } from '../../../common/src/partition-ownership.ts';
import { Rebalancer } from '../../../common/src/rebalancer.ts';
import { connect } from '../../../common/src/zookeeper-client.ts';
import type { ZooKeeperClient } from '../../../common/src/zookeeper-client.ts';
import { assignmentPath, leavingNoticePath } from '../../../common/src/zk-paths.ts';
import { startZooKeeper, waitUntil } from '../../../workload/src/local/index.ts';
import type { ZooKeeperService } from '../../../workload/src/local/index.ts';

const APP = { namespace: 'default', app: 'graceful' };
const PARTITIONS = 9;
// Far longer than the test may take: a partition that moves did so because of the notice, not the delay.
const DELAY_MS = 10 * 60_000;

describe('a worker that leaves on purpose', () => {
  let zk: ZooKeeperService;
  const clients: ZooKeeperClient[] = [];
  let rebalancer: Rebalancer;

  const client = async (): Promise<ZooKeeperClient> => {
    const c = await connect({ connectString: zk.connectString, sessionTimeoutMs: 4_000 });
    clients.push(c);
    return c;
  };
  const owners = async (admin: ZooKeeperClient): Promise<(string | undefined)[]> =>
    decodeAssignment((await admin.get(assignmentPath(APP))).data).partitions.map((p) => p.owner);
  const worker = async (id: string): Promise<PartitionOwnership> => {
    const ownership = new PartitionOwnership({
      ...APP,
      client: await client(),
      workerId: id,
      member: { address: id },
    });
    await ownership.start();
    return ownership;
  };

  beforeAll(async () => {
    zk = await startZooKeeper();
  });
  afterAll(async () => {
    await rebalancer?.close();
    await Promise.all(clients.map((c) => c.close()));
    await zk?.stop();
  });

  it('hands its partitions over without waiting for the rebalance delay', async () => {
    const admin = await client();
    rebalancer = new Rebalancer({
      ...APP,
      client: await client(),
      partitions: PARTITIONS,
      departureDelayMs: DELAY_MS,
    });
    await rebalancer.start();
    const a = await worker('a');
    const b = await worker('b');
    const c = await worker('c');
    await waitUntil(async () => new Set(await owners(admin)).size === 3, {
      what: 'three owners',
      timeoutMs: 30_000,
    });
    const ownedByC = (await owners(admin)).filter((o) => o === 'c').length;

    await c.close();
    await waitUntil(async () => !(await owners(admin)).includes('c'), {
      what: "c's partitions to move",
      timeoutMs: 30_000,
    });

    const after = await owners(admin);
    const counts = ['a', 'b'].map((w) => after.filter((o) => o === w).length);
    expect(counts.reduce((x, y) => x + y)).toBe(PARTITIONS);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    expect(rebalancer.lastRebalance?.moved).toHaveLength(ownedByC);
    expect(await admin.exists(leavingNoticePath(APP, 'c'))).toBeUndefined();
    await Promise.all([a.close(), b.close()]);
  });
});
