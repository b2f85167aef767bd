/**
 * The wiring in the operator process: `--coordinate` (default true) runs the coordinators while the
 * process leads, `--coordinate=false` does not, and SIGTERM closes their ZooKeeper sessions.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, isZooKeeperError, type ZooKeeperClient } from '../../../../common/src/zookeeper-client.ts';
import { assignmentPath } from '../../../../common/src/zk-paths.ts';
import { startZooKeeper, type ZooKeeperService } from '../../../../workload/src/local/index.ts';
import { waitFor } from '../../../harness/kube.ts';
import { applyApp } from '../controller/helpers.ts';
import {
  metricsText,
  operatorSandbox,
  startLeader,
  type OperatorProcess,
  type OperatorSandbox,
} from '../controller/operator-process.ts';
import {
  aliveConnections,
  appAccess,
  balancedOver,
  readAssignment,
  startWorker,
  type FakeWorker,
} from './helpers.ts';

const ok = (condition: boolean): true | undefined => (condition ? true : undefined);

describe('capstan-operator --coordinate', () => {
  let zk: ZooKeeperService;
  let admin: ZooKeeperClient;
  let sandbox: OperatorSandbox | undefined;
  let operator: OperatorProcess | undefined;
  let worker: FakeWorker | undefined;

  beforeAll(async () => {
    [zk, sandbox] = await Promise.all([startZooKeeper(), operatorSandbox('coord-op', 1)]);
    admin = await connect({ connectString: zk.connectString, sessionTimeoutMs: 4_000 });
  }, 120_000);

  afterAll(async () => {
    await operator?.stop('SIGKILL');
    await worker?.client.close();
    await admin?.close();
    await zk?.stop();
    await sandbox?.cleanup();
  });

  it('registers no coordination when turned off', async () => {
    operator = await startLeader(sandbox!, 'coord-off', { extraArgs: ['--coordinate=false'] });
    const text = await metricsText(operator);
    expect(text).toContain('leader_election_master_status{name="coord-off"} 1');
    expect(text).not.toContain('capstan_coordinator_connected');
    expect(await operator.stop()).toBe(0);
    operator = undefined;
  });

  it('rebalances an app while leading and closes its session on SIGTERM', async () => {
    const namespace = sandbox!.namespace;
    const ref = { namespace, app: 'shop' };
    await applyApp(namespace, 'shop', {
      workers: { upstream: 'http://backend.default.svc:8080', replicas: 2, partitions: 8 },
      coordination: { external: { connectString: zk.connectString } },
      failurePolicy: { rebalanceDelaySeconds: 0 },
    });
    operator = await startLeader(sandbox!, 'coord', { extraArgs: ['--coordinate=true'] });
    // As the operator: the app's tree carries its digest ACLs, which the operator sets up.
    const access = await appAccess(ref);
    worker = await startWorker(zk, ref, 'shop-workers-0', access.worker);
    const reader = await connect({
      connectString: zk.connectString,
      sessionTimeoutMs: 4_000,
      ...access.operator,
    });
    try {
      await waitFor('the assignment written by the operator', async () =>
        ok(balancedOver(await readAssignment(reader, ref), 8, ['shop-workers-0'])),
      );
      const anonymous = await admin.get(assignmentPath(ref)).then(
        () => 'read',
        (error: unknown) => (isZooKeeperError(error) ? error.code : 'other'),
      );
      expect(anonymous).toBe('NO_AUTH');
    } finally {
      await reader.close();
    }
    const gauge = `capstan_coordinator_connected{namespace="${namespace}",app="shop"} 1`;
    await waitFor('the connected gauge', async () =>
      ok((await metricsText(operator!))?.includes(gauge) ?? false),
    );
    const connections = await aliveConnections(zk);
    expect(await operator.stop()).toBe(0);
    operator = undefined;
    await waitFor('the operator’s ZooKeeper session closed', async () =>
      ok((await aliveConnections(zk)) === connections - 1),
    );
  });
});
