import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { decodeAssignment, ownersOf } from '../../../common/src/assignment-record.ts';
import type { AssignmentRecord } from '../../../common/src/assignment-record.ts';
import { PartitionOwnership } from '../../../common/src/partition-ownership.ts';
import { Rebalancer } from '../../../common/src/rebalancer.ts';
import { connect } from '../../../common/src/zookeeper-client.ts';
import type { ZooKeeperClient } from '../../../common/src/zookeeper-client.ts';
import { assignmentPath, memberPath, membersPath, ownerPath } from '../../../common/src/zk-paths.ts';
import { startZooKeeper, waitUntil } from '../../../workload/src/local/index.ts';
import type { ZooKeeperService } from '../../../workload/src/local/index.ts';

const APP = { namespace: 'default', app: 'orders' };
const PARTITIONS = 12;
const SESSION_MS = 4_000;
// Above the session timeout: a worker whose session ended has been silent for that long already, so
// 1.5 s of the delay are left when its member record vanishes.
const DELAY_MS = SESSION_MS + 1_500;

interface Worker {
  id: string;
  client: ZooKeeperClient;
  ownership: PartitionOwnership;
}

/** A worker with its own session, registered and claiming what the assignment gives it. */
async function newWorker(zk: ZooKeeperService, id: string): Promise<Worker> {
  const client = await connect({ connectString: zk.connectString, sessionTimeoutMs: SESSION_MS });
  const ownership = new PartitionOwnership({ ...APP, client, workerId: id, member: { address: `${id}:80` } });
  await ownership.start();
  return { id, client, ownership };
}

describe('rebalancer with three workers', () => {
  let zk: ZooKeeperService;
  let admin: ZooKeeperClient;
  let rebalancer: Rebalancer;
  let rebalancerClient: ZooKeeperClient | undefined;
  const workers: Worker[] = [];
  const overlaps: string[] = [];
  let sampler: NodeJS.Timeout | undefined;

  const until = (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> =>
    waitUntil(async () => await check(), { what, timeoutMs, intervalMs: 25 });

  async function assignment(): Promise<AssignmentRecord | undefined> {
    const stat = await admin.exists(assignmentPath(APP));
    return stat ? decodeAssignment((await admin.get(assignmentPath(APP))).data) : undefined;
  }

  /** Every partition served by exactly its assigned owner, which holds `owners/<p>` with its session. */
  async function settled(live: readonly Worker[]): Promise<boolean> {
    const record = await assignment();
    if (record?.partitions.length !== PARTITIONS) return false;
    for (let p = 0; p < PARTITIONS; p++) {
      const entry = record.partitions[p]!;
      const servers = live.filter((w) => w.ownership.isServing(p)?.epoch === entry.epoch);
      if (servers.length !== 1 || servers[0]!.id !== entry.owner) return false;
      const stat = await admin.exists(ownerPath(APP, p));
      if (stat?.ephemeralOwner !== servers[0]!.client.sessionId) return false;
    }
    return true;
  }

  async function startWorker(id: string): Promise<Worker> {
    const worker = await newWorker(zk, id);
    workers.push(worker);
    return worker;
  }

  beforeAll(async () => {
    zk = await startZooKeeper();
    admin = await connect({ connectString: zk.connectString, sessionTimeoutMs: SESSION_MS });
    // Sample every 10 ms: no two workers may ever serve the same partition at once.
    sampler = setInterval(() => {
      for (let p = 0; p < PARTITIONS; p++) {
        const serving = workers.filter((w) => w.ownership.isServing(p)).map((w) => w.id);
        if (serving.length > 1) overlaps.push(`partition ${p}: ${serving.join(',')}`);
      }
    }, 10);
    sampler.unref();
  }, 60_000);

  afterAll(async () => {
    clearInterval(sampler);
    await rebalancer?.close();
    for (const w of workers) await w.ownership.close().catch(() => undefined);
    await Promise.all([...workers.map((w) => w.client.close()), admin?.close(), rebalancerClient?.close()]);
    await zk?.stop();
  });

  it('gives every partition exactly one owner, then moves exactly a lost worker’s partitions after the delay', async () => {
    rebalancerClient = await connect({ connectString: zk.connectString, sessionTimeoutMs: SESSION_MS });
    rebalancer = new Rebalancer({
      ...APP,
      client: rebalancerClient,
      partitions: PARTITIONS,
      departureDelayMs: DELAY_MS,
    });
    await rebalancer.start();
    for (const id of ['w-a', 'w-b', 'w-c']) await startWorker(id);
    await until('three workers settled', () => settled(workers));
    const before = (await assignment())!;
    const counts = ['w-a', 'w-b', 'w-c'].map((id) => before.partitions.filter((e) => e.owner === id).length);
    expect(counts).toEqual([4, 4, 4]);

    // Lose w-b's session without a graceful release.
    const lost = workers[1]!;
    const lostPartitions = before.partitions.flatMap((e, p) => (e.owner === lost.id ? [p] : []));
    const lostAt = Date.now();
    await lost.client.close();
    await until('rebalancer saw the departure', () => !rebalancer.members.includes(lost.id));
    // Inside the rest of the delay nothing moves.
    expect((await assignment())!.partitions.map((e) => e.owner)).toEqual(
      before.partitions.map((e) => e.owner),
    );

    const survivors = workers.filter((w) => w !== lost);
    await until('survivors settled', async () => {
      const record = await assignment();
      return !record?.partitions.some((e) => e.owner === lost.id) && (await settled(survivors));
    });
    const failoverMs = Date.now() - lostAt;
    const after = (await assignment())!;
    const moved = after.partitions.flatMap((e, p) => (e.owner !== before.partitions[p]!.owner ? [p] : []));
    expect(moved).toEqual(lostPartitions);
    expect(rebalancer.lastRebalance?.moved.map((m) => m.partition)).toEqual(lostPartitions);
    for (const p of moved) expect(after.partitions[p]!.epoch).toBe(before.partitions[p]!.epoch + 1);
    for (let p = 0; p < PARTITIONS; p++) {
      if (!moved.includes(p)) expect(after.partitions[p]!.epoch).toBe(before.partitions[p]!.epoch);
    }
    const survivorCounts = survivors.map((w) => after.partitions.filter((e) => e.owner === w.id).length);
    expect(Math.max(...survivorCounts) - Math.min(...survivorCounts)).toBeLessThanOrEqual(1);
    process.stdout.write(
      `failover after session close: ${failoverMs} ms (delay ${DELAY_MS} ms, session ${SESSION_MS} ms)\n`,
    );

    // A new worker takes only what balance needs, handed over by the current owners (release, then claim).
    // In-flight work on the current owner holds the handoff back until it ends.
    const holder = survivors[0]!;
    const flights = new Map(
      after.partitions.flatMap((e, p) => (e.owner === holder.id ? [[p, holder.ownership.begin(p)!]] : [])),
    );
    await startWorker('w-d');
    const newcomer = workers.at(-1)!;
    const handedOver = async (): Promise<number[]> =>
      ((await assignment())?.partitions ?? []).flatMap((e, p) =>
        e.owner === newcomer.id && flights.has(p) ? [p] : [],
      );
    await until(
      'some of the holder’s partitions assigned to the newcomer',
      async () => (await handedOver()).length > 0,
    );
    for (const p of await handedOver()) {
      expect(holder.ownership.isServing(p)).toBeUndefined();
      expect(newcomer.ownership.isServing(p)).toBeUndefined();
      expect((await admin.exists(ownerPath(APP, p)))?.ephemeralOwner).toBe(holder.client.sessionId);
    }
    for (const flight of flights.values()) flight.end();
    const live = [...survivors, newcomer];
    await until('three workers settled again', () => settled(live));
    const final = (await assignment())!;
    const movedToD = final.partitions.filter((e, p) => e.owner !== after.partitions[p]!.owner);
    expect(movedToD.every((e) => e.owner === 'w-d')).toBe(true);
    // Three live workers again: each survivor hands over what exceeds its new share (12 / 3).
    expect(movedToD).toHaveLength(PARTITIONS - 2 * (PARTITIONS / 3));
    expect(overlaps).toEqual([]);
  }, 90_000);
});

describe('rebalancer: when a worker went silent', () => {
  let zk: ZooKeeperService;
  let client: ZooKeeperClient;
  let rebalancer: Rebalancer | undefined;
  const workers: Worker[] = [];

  beforeAll(async () => {
    zk = await startZooKeeper();
    client = await connect({ connectString: zk.connectString, sessionTimeoutMs: SESSION_MS });
  }, 60_000);

  afterAll(async () => {
    await rebalancer?.close();
    for (const w of workers) await w.ownership.close().catch(() => undefined);
    await Promise.all([...workers.map((w) => w.client.close()), client?.close()]);
    await zk?.stop();
  });

  it('dates a vanished member back by its session timeout, and a worker restarted with a new session never vanishes', async () => {
    // The delay is within the session timeout (4 s): a member whose session ended has waited it out.
    rebalancer = new Rebalancer({ ...APP, client, partitions: PARTITIONS, departureDelayMs: 3_000 });
    await rebalancer.start();
    for (const id of ['w-a', 'w-b', 'w-c']) workers.push(await newWorker(zk, id));
    const owned = (id: string): number =>
      ownersOf(rebalancer!.lastRebalance?.record).filter((o) => o === id).length;
    await waitUntil(() => Promise.resolve(['w-a', 'w-b', 'w-c'].every((id) => owned(id) === 4)), {
      what: 'four partitions each',
      timeoutMs: 30_000,
    });
    const member = JSON.parse((await client.get(memberPath(APP, 'w-a'))).data.toString('utf8')) as object;
    expect(member).toEqual({ address: 'w-a:80', sessionTimeoutMs: SESSION_MS });

    // w-c restarts: a new process, a new session, while the old session still lives. Its member record
    // is taken over in one transaction, so the member list never lacks it.
    const lists: string[][] = [];
    const unwatch = client.watchChildren(membersPath(APP), (names) => lists.push(names ?? []));
    const restarted = await newWorker(zk, 'w-c');
    const old = workers.splice(2, 1, restarted)[0]!;
    // The old process is gone: its session ends with it (closing its ownership after that touches nothing).
    await old.client.close();
    await old.ownership.close().catch(() => undefined);
    expect((await client.exists(memberPath(APP, 'w-c')))?.ephemeralOwner).toBe(restarted.client.sessionId);
    unwatch();
    expect(lists.filter((names) => !names.includes('w-c'))).toEqual([]);
    expect(rebalancer.members).toEqual(['w-a', 'w-b', 'w-c']);

    // w-b's session ends without a departure notice: its partitions move on that membership change,
    // not when a timer for the rest of the delay fires.
    const lost = workers.splice(1, 1)[0]!;
    await lost.client.close();
    await waitUntil(() => Promise.resolve(owned('w-b') === 0), {
      what: 'w-b’s partitions moved',
      timeoutMs: 30_000,
    });
    expect(rebalancer.lastRebalance?.reason).toBe('members changed (left: w-b)');
    expect([owned('w-a'), owned('w-c')]).toEqual([6, 6]);
  }, 90_000);
});
