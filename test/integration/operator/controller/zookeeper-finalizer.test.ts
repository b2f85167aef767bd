/**
 * The `capstan.dev/zookeeper-paths` finalizer against real processes: the operator as a child process under
 * its own RBAC with `--coordinate=true` (and reaching loopback only), the test apiserver with kwok nodes,
 * and a real ZooKeeper on loopback as the apps' external ensemble.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DistributedApp } from '../../../../operator/src/api/schema.ts';
import { ZOOKEEPER_PATHS_FINALIZER } from '../../../../operator/src/controller/zookeeper-finalizer.ts';
import { connect, type ZooKeeperClient } from '../../../../common/src/zookeeper-client.ts';
import {
  appRoot,
  leavingNoticePath,
  memberPath,
  membersPath,
  ownerPath,
  type AppRef,
} from '../../../../common/src/zk-paths.ts';
import { startZooKeeper, type ZooKeeperService } from '../../../../workload/src/local/index.ts';
import { eventsMatching, kubectl, waitFor, type KubeEvent } from '../../../harness/kube.ts';
import { appAccess } from '../coordination/helpers.ts';
import { applyApp, condition, getJson } from './helpers.ts';
import {
  operatorSandbox,
  startLeader,
  type OperatorProcess,
  type OperatorSandbox,
} from './operator-process.ts';

const ok = (condition: boolean): true | undefined => (condition ? true : undefined);

function externalSpec(connectString: string): unknown {
  return {
    workers: { app: 'counters', replicas: 2, partitions: 4 },
    cache: { external: { url: 'redis://127.0.0.1:6379' } },
    coordination: { external: { connectString } },
    failurePolicy: { rebalanceDelaySeconds: 0 },
  };
}

describe('the ZooKeeper finalizer (operator process with --coordinate=true)', () => {
  let zk: ZooKeeperService;
  let admin: ZooKeeperClient;
  let sandbox: OperatorSandbox | undefined;
  let operator: OperatorProcess | undefined;
  let leftover: ZooKeeperClient | undefined;
  const ref = (app: string): AppRef => ({ namespace: sandbox!.namespace, app });

  const app = (name: string): Promise<DistributedApp | undefined> =>
    getJson<DistributedApp>('dapp', name, sandbox!.namespace);

  /** Anonymous, so it sees only whether nodes exist (`exists` needs no permission). */
  const exists = async (path: string): Promise<boolean> => (await admin.exists(path)) !== undefined;

  async function events(name: string, reason: string): Promise<KubeEvent[] | undefined> {
    const items = await eventsMatching(sandbox!.namespace, `involvedObject.name=${name},reason=${reason}`);
    return items.length > 0 ? items : undefined;
  }

  async function workerPods(name: string): Promise<number> {
    const selector = `app.kubernetes.io/instance=${name},app.kubernetes.io/component=worker`;
    const { stdout } = await kubectl(['get', 'pods', '-n', sandbox!.namespace, '-l', selector, '-o', 'name']);
    return stdout.split('\n').filter((line) => line !== '').length;
  }

  async function withFinalizer(name: string): Promise<DistributedApp> {
    return waitFor(`the finalizer on ${name}`, async () => {
      const found = await app(name);
      return found?.metadata.finalizers?.includes(ZOOKEEPER_PATHS_FINALIZER) ? found : undefined;
    });
  }

  async function deleted(name: string): Promise<void> {
    await waitFor(`DistributedApp ${name} gone`, async () => ok((await app(name)) === undefined), 120_000);
  }

  beforeAll(async () => {
    [zk, sandbox] = await Promise.all([startZooKeeper(), operatorSandbox('zk-final', 1)]);
    admin = await connect({ connectString: zk.connectString, sessionTimeoutMs: 4_000 });
    operator = await startLeader(sandbox, 'zk-final', {
      extraArgs: ['--coordinate=true'],
      loopbackOnly: true,
    });
  }, 120_000);

  afterAll(async () => {
    await operator?.stop();
    await leftover?.close();
    await admin?.close();
    await zk?.stop();
    await sandbox?.cleanup();
  });

  it('gives an app with an external ZooKeeper the finalizer; deleting the app removes its paths first', async () => {
    const namespace = sandbox!.namespace;
    await applyApp(namespace, 'shop', externalSpec(zk.connectString));
    await withFinalizer('shop');
    const access = await appAccess(ref('shop'));
    await waitFor('the app’s tree made by its coordinator', async () =>
      ok(await exists(membersPath(ref('shop')))),
    );
    await waitFor('the worker pods', async () => ok((await workerPods('shop')) === 2));
    // A worker whose process is gone and whose session has not expired yet leaves nodes behind.
    leftover = await connect({ connectString: zk.connectString, sessionTimeoutMs: 10_000, ...access.worker });
    await leftover.create(memberPath(ref('shop'), 'shop-worker-0'), '{"address":"x:80"}', 'ephemeral');
    await leftover.create(ownerPath(ref('shop'), 0), '{"workerId":"shop-worker-0","epoch":1}', 'ephemeral');
    await leftover.create(leavingNoticePath(ref('shop'), 'shop-worker-1'), '{}', 'persistent');

    await kubectl(['delete', 'dapp', 'shop', '-n', namespace, '--wait=false']);
    await deleted('shop');
    expect(await exists(appRoot(ref('shop')))).toBe(false);
    // The shared parent stays for the namespace's other apps.
    expect(await exists(`/capstan/${namespace}`)).toBe(true);
    expect(await workerPods('shop')).toBe(0);
    const removed = await waitFor('a ZooKeeperPathsRemoved event', () =>
      events('shop', 'ZooKeeperPathsRemoved'),
    );
    expect(removed[0]!.type).toBe('Normal');
    expect(removed[0]!.message).toContain(appRoot(ref('shop')));
    await leftover.close();
    leftover = undefined;
  });

  it('never gives an app with an in-cluster ensemble the finalizer', async () => {
    const namespace = sandbox!.namespace;
    await applyApp(namespace, 'local', { workers: { app: 'counters', replicas: 1, partitions: 2 } });
    // Reported once its coordinator tried the ensemble's cluster DNS names (the loopback guard refuses them),
    // so the app has been reconciled more than once by then.
    const reconciled = await waitFor('Rebalancing Unknown: ZooKeeper unreachable', async () => {
      const found = await app('local');
      return condition(found, 'Rebalancing')?.reason === 'ZooKeeperUnreachable' ? found : undefined;
    });
    expect(reconciled.metadata.finalizers ?? []).toEqual([]);
    await kubectl(['delete', 'dapp', 'local', '-n', namespace, '--wait=false']);
    await deleted('local');
  });

  it('keeps an app being deleted while ZooKeeper is down, and finishes once it is back', async () => {
    const namespace = sandbox!.namespace;
    await applyApp(namespace, 'orders', externalSpec(zk.connectString));
    await withFinalizer('orders');
    await waitFor('the app’s tree', async () => ok(await exists(membersPath(ref('orders')))));
    const member = zk.members[0]!;
    await member.stop();
    try {
      await kubectl(['delete', 'dapp', 'orders', '-n', namespace, '--wait=false']);
      const failed = await waitFor('a ZooKeeperCleanupFailed event', () =>
        events('orders', 'ZooKeeperCleanupFailed'),
      );
      expect(failed[0]!.type).toBe('Warning');
      expect(failed[0]!.message).toContain(appRoot(ref('orders')));
      expect(failed[0]!.message).toContain(`kubectl patch dapp orders -n ${namespace} --type=json`);
      const waiting = await app('orders');
      expect(waiting?.metadata.deletionTimestamp).toBeDefined();
      expect(waiting?.metadata.finalizers).toContain(ZOOKEEPER_PATHS_FINALIZER);
    } finally {
      await member.start();
    }
    await deleted('orders');
    // A fresh session: whether the old one came back through the restart is not what this test is about.
    await admin.close();
    admin = await connect({ connectString: zk.connectString, sessionTimeoutMs: 4_000 });
    expect(await exists(appRoot(ref('orders')))).toBe(false);
    expect(await events('orders', 'ZooKeeperPathsRemoved')).toHaveLength(1);
  });
});
