import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { DistributedApp } from '../../../../operator/src/api/schema.ts';
import { restartComponent } from '../../../../hack/local-cluster/cluster.ts';
import { kubectl, testClusterDir } from '../../../harness/kube.ts';
import { appObjects, OBJECTS_PER_APP, applyApp, getJson, waitForReady } from './helpers.ts';
import {
  metricsText,
  startOperator,
  waitForLeader,
  writeRequests,
  operatorSandbox,
  type OperatorProcess,
  type OperatorSandbox,
} from './operator-process.ts';

const APPS = ['alpha', 'beta', 'gamma'];
const KILLS = 5;
const OWNED_KINDS =
  'statefulsets,deployments,services,configmaps,secrets,poddisruptionbudgets,networkpolicies';

function spec(round: number): unknown {
  return {
    workers: { upstream: 'http://backend.default.svc:8080', replicas: 1 + (round % 3) },
    loadBalancer: { haproxy: { algorithm: round % 2 === 0 ? 'roundrobin' : 'leastconn' } },
  };
}

/** Polls the operator until it made `count` writes, or for 30 s when it has fewer to make. */
async function waitForWrites(operator: OperatorProcess, count: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const text = await metricsText(operator);
    if (text !== undefined && writeRequests(text) >= count) return;
    await new Promise<void>((resolve) => setTimeout(resolve, 50).unref());
  }
}

async function redisPasswords(namespace: string): Promise<string[]> {
  return Promise.all(
    APPS.map(
      async (app) =>
        (await getJson<{ data?: { password?: string } }>('secret', `${app}-redis-auth`, namespace))?.data
          ?.password ?? '',
    ),
  );
}

describe('operator resilience', () => {
  let namespace: string;
  let sandbox: OperatorSandbox | undefined;
  let kubeconfig: string;
  let operator: OperatorProcess | undefined;
  const start = async (leaseSeconds: number): Promise<OperatorProcess> => {
    operator = await startOperator({
      kubeconfig,
      namespaces: [namespace],
      leaseNamespace: namespace,
      leaseId: 'res',
      leaseSeconds,
    });
    return operator;
  };

  beforeAll(async () => {
    sandbox = await operatorSandbox('op-res', APPS.length);
    namespace = sandbox.namespace;
    kubeconfig = sandbox.kubeconfig;
  });

  afterAll(async () => {
    await operator?.stop('SIGKILL');
    await sandbox?.cleanup();
  });

  it('converges with no duplicate or orphaned object after SIGKILL at random points', async () => {
    for (let round = 0; round < KILLS; round++) {
      await Promise.all(APPS.map((app) => applyApp(namespace, app, spec(round))));
      const current = await start(6);
      // A random number of writes in: the first round creates 54 objects, later ones change a few.
      const writes = 1 + Math.floor(Math.random() * (round === 0 ? 40 : 6));
      await waitForWrites(current, writes);
      await current.stop('SIGKILL');
      await kubectl(['delete', 'lease', 'res', '-n', namespace, '--ignore-not-found']);
    }
    const passwords = await redisPasswords(namespace);
    await waitForLeader(await start(6), 'res');
    for (const app of APPS) await waitForReady(namespace, app);
    // A password generated before the kills is never replaced.
    const after = await redisPasswords(namespace);
    expect(after.map((password, i) => passwords[i] || password)).toEqual(after);
    const uids = new Set<string>();
    for (const app of APPS) {
      expect(await appObjects(namespace, app)).toHaveLength(OBJECTS_PER_APP);
      uids.add((await getJson<DistributedApp>('dapp', app, namespace))?.metadata.uid ?? '');
    }
    const { stdout } = await kubectl([
      'get',
      OWNED_KINDS,
      '-n',
      namespace,
      '-l',
      'app.kubernetes.io/managed-by=capstan',
      '-o',
      'json',
    ]);
    const managed = (JSON.parse(stdout) as { items: KubernetesObject[] }).items;
    expect(managed).toHaveLength(OBJECTS_PER_APP * APPS.length);
    for (const object of managed) {
      const owners = object.metadata?.ownerReferences?.filter((ref) => ref.controller === true) ?? [];
      expect(owners.map((ref) => uids.has(ref.uid))).toEqual([true]);
    }
    await operator?.stop('SIGTERM');
  });

  it('keeps working across an apiserver restart without being restarted', async () => {
    // A lease long enough to outlive the restart: losing it would (correctly) end the process.
    const current = await start(60);
    await waitForLeader(current, 'res');
    await restartComponent(testClusterDir(), 'kube-apiserver');
    await applyApp(namespace, 'alpha', spec(10));
    const app = await waitForReady(namespace, 'alpha', 150_000);
    expect(app.status?.workers?.ready).toBe(2);
    expect(current.child.exitCode).toBeNull();
  });
});
