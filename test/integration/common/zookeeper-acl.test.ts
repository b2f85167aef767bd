/**
 * The per-app digest ACLs against a real ZooKeeper: the operator's tree, workers that register and serve
 * under it, and what the app's workers, another app and anyone else may not do.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ensureAppTree } from '../../../common/src/app-tree.ts';
import { decodeAssignment } from '../../../common/src/assignment-record.ts';
import { PartitionOwnership } from '../../../common/src/partition-ownership.ts';
import { Rebalancer } from '../../../common/src/rebalancer.ts';
import {
  appTree,
  digestId,
  operatorAccess,
  OPERATOR_USER,
  workerAccess,
  type AppCredentials,
  type ClientAccess,
} from '../../../common/src/zookeeper-acl.ts';
import { connect, isZooKeeperError, type ZooKeeperClient } from '../../../common/src/zookeeper-client.ts';
import {
  appRoot,
  assignmentPath,
  memberPath,
  membersPath,
  ownerPath,
  ownersPath,
} from '../../../common/src/zk-paths.ts';
import { startZooKeeper, waitUntil, type ZooKeeperService } from '../../../workload/src/local/index.ts';

const APP = { namespace: 'demo', app: 'shop' };
const OTHER = { namespace: 'demo', app: 'orders' };
const PARTITIONS = 8;
const CREDENTIALS: AppCredentials = {
  operatorPassword: 'shop-operator-pw',
  workerPassword: 'shop-worker-pw',
};
const OTHER_CREDENTIALS: AppCredentials = {
  operatorPassword: 'orders-op-pw',
  workerPassword: 'orders-wk-pw',
};

/** The error code `work` rejects with, or 'ok'. */
async function outcome(work: Promise<unknown>): Promise<string> {
  try {
    await work;
    return 'ok';
  } catch (error: unknown) {
    if (isZooKeeperError(error)) return error.code;
    throw error;
  }
}

describe('per-app ZooKeeper ACLs', () => {
  let zk: ZooKeeperService;
  const clients: ZooKeeperClient[] = [];
  let operator: ZooKeeperClient;
  let rebalancer: Rebalancer;
  const workers: PartitionOwnership[] = [];

  async function client(access?: ClientAccess): Promise<ZooKeeperClient> {
    const c = await connect({ connectString: zk.connectString, sessionTimeoutMs: 4_000, ...access });
    clients.push(c);
    return c;
  }

  const workerOf = (): ClientAccess =>
    workerAccess(CREDENTIALS.workerPassword, digestId(OPERATOR_USER, CREDENTIALS.operatorPassword));

  beforeAll(async () => {
    zk = await startZooKeeper();
    // A tree from before ACLs: made by an anonymous client, open to the world.
    const legacy = await client();
    await legacy.mkdirp(membersPath(APP));
    await legacy.mkdirp(ownersPath(APP));
    operator = await client(operatorAccess(CREDENTIALS));
    await ensureAppTree(operator, APP, CREDENTIALS);
    rebalancer = new Rebalancer({
      ...APP,
      client: operator,
      partitions: PARTITIONS,
      departureDelayMs: 120_000,
    });
    await rebalancer.start();
    for (const id of ['shop-worker-0', 'shop-worker-1']) {
      const c = await client(workerOf());
      const ownership = new PartitionOwnership({
        ...APP,
        client: c,
        workerId: id,
        member: { address: `${id}:80` },
      });
      await ownership.start();
      workers.push(ownership);
    }
  }, 120_000);

  afterAll(async () => {
    for (const w of workers) await w.close().catch(() => undefined);
    await rebalancer?.close();
    await Promise.all(clients.map((c) => c.close()));
    await zk?.stop();
  });

  it('lets the workers register and serve every partition under the operator tightened tree', async () => {
    await waitUntil(
      // Both workers serving: the first one to register may serve everything before the second joins.
      () =>
        Promise.resolve(
          workers.every((w) => w.serving().size > 0) &&
            workers.reduce((sum, w) => sum + w.serving().size, 0) === PARTITIONS,
        ),
      {
        what: 'every partition served, by both workers',
        timeoutMs: 30_000,
      },
    );
    // The operator reads what the workers created.
    const owner = JSON.parse((await operator.get(ownerPath(APP, 0))).data.toString()) as { workerId: string };
    expect(['shop-worker-0', 'shop-worker-1']).toContain(owner.workerId);
    const record = decodeAssignment((await operator.get(assignmentPath(APP))).data);
    expect(new Set(record.partitions.map((e) => e.owner))).toEqual(
      new Set(['shop-worker-0', 'shop-worker-1']),
    );
  });

  it('tightened the open tree made before ACLs', async () => {
    const { acl } = await operator.getAcl(membersPath(APP));
    expect(acl.some((e) => e.scheme === 'world')).toBe(false);
    expect(acl.find((e) => e.id.startsWith('capstan-worker:'))?.perms).toEqual(['read', 'create', 'delete']);
  });

  it('refuses the world everything under the app', async () => {
    const anyone = await client();
    expect(await outcome(anyone.get(assignmentPath(APP)))).toBe('NO_AUTH');
    expect(await outcome(anyone.children(membersPath(APP)))).toBe('NO_AUTH');
    expect(await outcome(anyone.create(memberPath(APP, 'intruder'), '{}', 'ephemeral'))).toBe('NO_AUTH');
    expect(await outcome(anyone.remove(ownerPath(APP, 0)))).toBe('NO_AUTH');
    expect(await outcome(anyone.set(appRoot(APP), 'x'))).toBe('NO_AUTH');
    expect(
      await outcome(anyone.setAcl(assignmentPath(APP), [{ scheme: 'world', id: 'anyone', perms: ['read'] }])),
    ).toBe('NO_AUTH');
  });

  it("refuses the app's workers the assignment and anything outside their directories", async () => {
    const worker = await client(workerOf());
    expect(await outcome(worker.get(assignmentPath(APP)))).toBe('ok');
    expect(await outcome(worker.set(assignmentPath(APP), '{}'))).toBe('NO_AUTH');
    expect(await outcome(worker.remove(assignmentPath(APP)))).toBe('NO_AUTH');
    expect(await outcome(worker.create(`${appRoot(APP)}/extra`))).toBe('NO_AUTH');
  });

  it("gives another app its own tree beside this one and no access to this one's", async () => {
    const other = await client(operatorAccess(OTHER_CREDENTIALS));
    await ensureAppTree(other, OTHER, OTHER_CREDENTIALS);
    expect(await other.exists(membersPath(OTHER))).toBeDefined();
    expect(await outcome(other.get(assignmentPath(APP)))).toBe('NO_AUTH');
    expect(await outcome(other.create(memberPath(APP, 'intruder'), '{}', 'ephemeral'))).toBe('NO_AUTH');
    // A worker with a wrong password is nobody.
    const impostor = await client(workerAccess('guessed', digestId(OPERATOR_USER, 'guessed')));
    expect(await outcome(impostor.get(assignmentPath(APP)))).toBe('NO_AUTH');
  });

  it('lets a worker that leaves on purpose leave its notice, so its partitions move before the long delay', async () => {
    const leaving = workers.pop()!;
    await leaving.close();
    await waitUntil(() => Promise.resolve(workers[0]!.serving().size === PARTITIONS), {
      what: 'the remaining worker serves every partition',
      timeoutMs: 30_000,
    });
  });

  it('is idempotent: a second run changes nothing', async () => {
    const before = await operator.getAcl(membersPath(APP));
    await ensureAppTree(operator, APP, CREDENTIALS);
    const after = await operator.getAcl(membersPath(APP));
    expect(after.version).toBe(before.version);
  });

  it('lets a worker that starts before the operator made the tree wait for it instead of failing', async () => {
    const LATE = { namespace: 'demo', app: 'late' };
    // The app root as the operator makes it, without members/ and owners/ yet: workers may not create those.
    const root = appTree(LATE, CREDENTIALS).find((n) => n.path === appRoot(LATE))!;
    await operator.mkdirp(root.path.slice(0, root.path.lastIndexOf('/')));
    await operator.create(root.path, undefined, 'persistent', root.acl);
    const warnings: string[] = [];
    const worker = new PartitionOwnership({
      ...LATE,
      client: await client(workerOf()),
      workerId: 'late-0',
      member: { address: 'late-0:80' },
      logger: { warn: (_fields, message) => warnings.push(message) },
    });
    const starting = worker.start();
    await waitUntil(() => Promise.resolve(warnings.length > 0), {
      what: 'the worker finding the tree incomplete',
      timeoutMs: 10_000,
    });
    expect(warnings[0]).toMatch(/waiting for the operator/);
    await ensureAppTree(operator, LATE, CREDENTIALS);
    await starting;
    expect(await operator.children(membersPath(LATE))).toEqual(['late-0']);
    await worker.close();
  });
});
