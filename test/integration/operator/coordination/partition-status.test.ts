/**
 * What people see of the partitions, against real processes: a Manager (leading unconditionally) runs the
 * DistributedApp controller and the coordinators wired through the observation store, as the operator
 * does, with a real ZooKeeper and the test apiserver. Two workers claim through the workers' own
 * `PartitionOwnership`; a third is frozen (it registers and claims its partitions by hand, then stops
 * reacting), so that after it leaves the members its partitions stay held by it and cannot be claimed by
 * their new owners until its session closes: the Rebalancing window is held open by the test, not by timing.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import type { DistributedApp } from '../../../../operator/src/api/schema.ts';
import { addCoordination } from '../../../../operator/src/coordination/leader-runnable.ts';
import { PartitionObservations } from '../../../../operator/src/coordination/partition-observations.ts';
import { addDistributedAppController } from '../../../../operator/src/controller/setup.ts';
import { createLogger, Manager } from '../../../../operator/src/runtime/index.ts';
import { connect, type ZooKeeperClient } from '../../../../common/src/zookeeper-client.ts';
import { memberPath, type AppRef } from '../../../../common/src/zk-paths.ts';
import { freePort, startZooKeeper, type ZooKeeperService } from '../../../../workload/src/local/index.ts';
import { createNamespace, kubectl, loadKubeConfig, waitFor } from '../../../harness/kube.ts';
import { applyApp, condition, getJson } from '../controller/helpers.ts';
import { installCrd } from '../controller/operator-process.ts';
import { claimAssigned, readAssignment, startSilentWorker, startWorker, type FakeWorker } from './helpers.ts';

const PARTITIONS = 6;
const APP = 'orders';
const FROZEN = 'orders-workers-2';

describe('partition status of a DistributedApp (controller + coordinators, ZooKeeper, apiserver)', () => {
  let zk: ZooKeeperService;
  let admin: ZooKeeperClient;
  let frozen: ZooKeeperClient | undefined;
  let namespace: string;
  let manager: Manager;
  let registry: Registry;
  const workers: FakeWorker[] = [];
  const ref = (): AppRef => ({ namespace, app: APP });

  /** The controller and the coordinators wired as in the operator, on a fresh registry and store. */
  async function startOperator(): Promise<Manager> {
    registry = new Registry();
    const logger = createLogger({ level: 'warn' });
    const started = new Manager({ kubeConfig: loadKubeConfig(), registry, logger });
    const observations = new PartitionObservations();
    const { caches } = addDistributedAppController(started, {
      namespaces: [namespace],
      identity: 'partition-status-test',
      logger,
      partitions: observations,
    });
    addCoordination(started, { apps: caches.apps, identity: 'partition-status-test', logger, observations });
    await started.start();
    return started;
  }

  const app = (): Promise<DistributedApp | undefined> => getJson<DistributedApp>('dapp', APP, namespace);

  async function metric(name: string): Promise<number | undefined> {
    const text = await registry.metrics();
    const line = text.split('\n').find((l) => l.startsWith(name));
    return line === undefined ? undefined : Number(line.split(' ').at(-1));
  }

  beforeAll(async () => {
    [zk] = await Promise.all([startZooKeeper(), installCrd()]);
    admin = await connect({ connectString: zk.connectString, sessionTimeoutMs: 4_000 });
    namespace = await createNamespace('pstatus');
    manager = await startOperator();
  }, 120_000);

  afterAll(async () => {
    await manager?.stop();
    for (const w of workers) await w.ownership.close().catch(() => undefined);
    await Promise.all(workers.map((w) => w.client.close()));
    await frozen?.close();
    await admin?.close();
    await zk?.stop();
    if (namespace) await kubectl(['delete', 'namespace', namespace, '--wait=false'], { allowFailure: true });
  });

  it('shows count, per-worker counts, owned == count, the last rebalance and Rebalancing False', async () => {
    await applyApp(namespace, APP, {
      workers: { upstream: 'http://backend.default.svc:8080', replicas: 3, partitions: PARTITIONS },
      coordination: { external: { connectString: zk.connectString } },
      failurePolicy: { rebalanceDelaySeconds: 0 },
    });
    frozen = await startSilentWorker(zk, ref(), FROZEN, 4_000);
    for (const id of ['orders-workers-0', 'orders-workers-1']) workers.push(await startWorker(zk, ref(), id));
    const balanced = await waitFor('an assignment over all three workers', async () => {
      const record = await readAssignment(admin, ref());
      const owners = new Set(record?.partitions.map((e) => e.owner));
      return owners.size === 3 && !owners.has(undefined) ? record : undefined;
    });
    const frozenPartitions = await claimAssigned(frozen, ref(), FROZEN);
    expect(frozenPartitions).toHaveLength(2);
    const status = await waitFor('status with every partition owned', async () => {
      const current = await app();
      return current?.status?.partitions?.owned === PARTITIONS ? current.status : undefined;
    });
    expect(status.partitions).toEqual({
      count: PARTITIONS,
      epoch: expect.any(Number),
      byWorker: { 'orders-workers-0': 2, 'orders-workers-1': 2, [FROZEN]: 2 },
      owned: PARTITIONS,
    });
    expect(balanced.partitions).toHaveLength(PARTITIONS);
    expect(status.lastRebalance).toEqual({
      time: expect.any(String),
      reason: expect.stringMatching(/^members changed/),
      moved: expect.any(Number),
    });
    expect(condition({ status } as DistributedApp, 'Rebalancing')).toMatchObject({
      status: 'False',
      reason: 'Balanced',
    });
    expect(await metric(`capstan_partitions_unowned{namespace="${namespace}",app="${APP}"}`)).toBe(0);

    const { stdout } = await kubectl(['get', 'dapp', APP, '-n', namespace]);
    const [header, row] = stdout.trim().split('\n');
    const columns = header!.split(/\s+/);
    expect(columns).toEqual(['NAME', 'READY', 'DESIRED', 'PARTITIONS', 'OWNED', 'PHASE', 'AGE']);
    const values = row!.split(/\s+/);
    expect(values[columns.indexOf('PARTITIONS')]).toBe(String(PARTITIONS));
    expect(values[columns.indexOf('OWNED')]).toBe(String(PARTITIONS));
  });

  it('is Rebalancing while a departed member’s partitions are not yet claimed, Balanced once they are', async () => {
    const before = (await app())!.status!;
    const settledBefore = (await metric('capstan_rebalance_duration_seconds_count')) ?? 0;
    // The frozen worker leaves the members but keeps holding its partitions, as a worker whose process
    // hangs would until its session ends: the survivors are assigned them and must wait.
    await frozen!.remove(memberPath(ref(), FROZEN));
    const moving = await waitFor('Rebalancing True', async () => {
      const current = await app();
      return condition(current, 'Rebalancing')?.status === 'True' ? current!.status! : undefined;
    });
    expect(condition({ status: moving } as DistributedApp, 'Rebalancing')).toMatchObject({
      reason: 'PartitionsMoving',
      message: `2 of ${PARTITIONS} partitions not yet claimed by their new owners; 4 owned`,
    });
    expect(moving.partitions).toMatchObject({
      count: PARTITIONS,
      byWorker: { 'orders-workers-0': 3, 'orders-workers-1': 3 },
      owned: 4,
    });
    expect(moving.partitions?.epoch).toBeGreaterThan(before.partitions!.epoch!);
    expect(moving.lastRebalance).toMatchObject({ reason: `members changed (left: ${FROZEN})`, moved: 2 });
    expect(await metric(`capstan_partitions_unowned{namespace="${namespace}",app="${APP}"}`)).toBe(2);
    expect((await metric('capstan_rebalance_duration_seconds_count')) ?? 0).toBe(settledBefore);

    // Its session ends: the nodes go and the survivors claim.
    await frozen!.close();
    frozen = undefined;
    const balanced = await waitFor('Rebalancing False again', async () => {
      const current = await app();
      return condition(current, 'Rebalancing')?.status === 'False' ? current!.status! : undefined;
    });
    expect(condition({ status: balanced } as DistributedApp, 'Rebalancing')?.reason).toBe('Balanced');
    expect(balanced.partitions?.owned).toBe(PARTITIONS);
    expect(balanced.lastRebalance).toEqual(moving.lastRebalance);
    await waitFor('the rebalance timed until claimed', async () =>
      ((await metric('capstan_rebalance_duration_seconds_count')) ?? 0) > settledBefore ? true : undefined,
    );
    expect(await metric(`capstan_partitions_unowned{namespace="${namespace}",app="${APP}"}`)).toBe(0);
  });

  it('a new leader rebuilds the ownership from ZooKeeper and keeps the stored last rebalance', async () => {
    const before = (await app())!.status!;
    await manager.stop();
    manager = await startOperator();
    // Something the new leader must write, so it has reconciled the app once it shows.
    await kubectl(['scale', 'dapp', APP, '-n', namespace, '--replicas=2']);
    const after = await waitFor('the new leader reconciled', async () => {
      const current = await app();
      return current?.status?.workers?.desired === 2 && current.status.partitions?.owned === PARTITIONS
        ? current.status
        : undefined;
    });
    expect(after.lastRebalance).toEqual(before.lastRebalance);
    expect(after.partitions).toEqual(before.partitions);
    const rebalancing = (status: typeof after) => status.conditions?.find((c) => c.type === 'Rebalancing');
    expect(rebalancing(after)?.status).toBe('False');
    expect(rebalancing(after)?.lastTransitionTime).toBe(rebalancing(before)?.lastTransitionTime);
  });

  it('says so when the coordinator cannot reach ZooKeeper: owned unset, Rebalancing Unknown', async () => {
    await applyApp(namespace, 'unreachable', {
      workers: { upstream: 'http://backend.default.svc:8080', replicas: 1, partitions: 4 },
      coordination: { external: { connectString: `127.0.0.1:${await freePort()}` } },
    });
    const status = await waitFor('Rebalancing Unknown', async () => {
      const current = await getJson<DistributedApp>('dapp', 'unreachable', namespace);
      return condition(current, 'Rebalancing')?.status === 'Unknown' ? current!.status! : undefined;
    });
    expect(condition({ status } as DistributedApp, 'Rebalancing')?.reason).toBe('ZooKeeperUnreachable');
    expect(status.partitions).toEqual({ count: 4 });
  });
});
