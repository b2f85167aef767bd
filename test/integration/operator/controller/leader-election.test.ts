import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { waitFor } from '../../../harness/kube.ts';
import { applyApp, waitForReady } from './helpers.ts';
import {
  isLeading,
  metricsText,
  startOperator,
  waitForLeader,
  writeRequests,
  operatorSandbox,
  type OperatorProcess,
  type OperatorSandbox,
} from './operator-process.ts';

const LEASE_SECONDS = 6;
const LEASE_ID = 'le';

function spec(replicas: number): unknown {
  return {
    workers: { upstream: 'http://backend.default.svc:8080', replicas },
    coordination: { external: { connectString: 'zk.example:2181' } },
  };
}

/** Waits until `operator` serves metrics and reports that it does not lead. */
async function waitForStandby(operator: OperatorProcess): Promise<void> {
  await waitFor('a standby operator', async () => {
    const text = await metricsText(operator);
    return text?.includes(`leader_election_master_status{name="${LEASE_ID}"} 0`) ? true : undefined;
  });
}

describe('two operator processes', () => {
  let namespace: string;
  let sandbox: OperatorSandbox | undefined;
  let kubeconfig: string;
  const running: OperatorProcess[] = [];
  const start = async (): Promise<OperatorProcess> => {
    const operator = await startOperator({
      kubeconfig,
      namespaces: [namespace],
      leaseNamespace: namespace,
      leaseId: LEASE_ID,
      leaseSeconds: LEASE_SECONDS,
    });
    running.push(operator);
    return operator;
  };

  beforeAll(async () => {
    sandbox = await operatorSandbox('op-le', 1);
    namespace = sandbox.namespace;
    kubeconfig = sandbox.kubeconfig;
  });

  afterAll(async () => {
    await Promise.all(running.map((operator) => operator.stop('SIGKILL')));
    await sandbox?.cleanup();
  });

  it('only the leader acts; after SIGKILL the standby takes over within the lease duration', async () => {
    const first = await start();
    await waitForLeader(first, LEASE_ID);
    const second = await start();
    await waitForStandby(second);

    await applyApp(namespace, 'one', spec(2));
    await waitForReady(namespace, 'one');
    expect(writeRequests((await metricsText(first)) ?? '')).toBeGreaterThan(0);
    expect(writeRequests((await metricsText(second)) ?? '')).toBe(0);
    expect(await isLeading(second, LEASE_ID)).toBe(false);

    await first.stop('SIGKILL');
    // Within one lease duration of the last renewal, plus a retry period and process scheduling slack.
    await waitForLeader(second, LEASE_ID, (LEASE_SECONDS + 3) * 1000);
    await applyApp(namespace, 'one', spec(3));
    const app = await waitForReady(namespace, 'one');
    expect(app.status?.workers?.ready).toBe(3);
  });

  it('after SIGTERM the leader releases the Lease and the standby takes over at once', async () => {
    const leader = running.find(
      (operator) => operator.child.exitCode === null && operator.child.signalCode === null,
    )!;
    const standby = await start();
    await waitForStandby(standby);
    expect(await leader.stop('SIGTERM')).toBe(0);
    // Well below the lease duration: the released Lease is free at the standby's next retry (1 s).
    await waitForLeader(standby, LEASE_ID, (LEASE_SECONDS / 2) * 1000);
    await applyApp(namespace, 'one', spec(1));
    const app = await waitForReady(namespace, 'one');
    expect(app.status?.workers?.ready).toBe(1);
  });
});
