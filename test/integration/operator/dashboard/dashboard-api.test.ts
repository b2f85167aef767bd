/**
 * The dashboard of a real operator process against the test control plane and a loopback ZooKeeper: its
 * JSON API lists the app and shows the partition map ZooKeeper holds, never a generated password; a
 * standby bound beyond loopback asks for a token (TokenReview, SubjectAccessReview as the operator's
 * ServiceAccount, with exactly the rules of rules.ts) and says who leads.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { V1Secret } from '@kubernetes/client-node';
import { connect, type ZooKeeperClient } from '../../../../common/src/zookeeper-client.ts';
import type { AppDetail, AppSummary, OperatorView } from '../../../../operator/src/dashboard/view-model.ts';
import { freePort } from '../../../../workload/src/local/ports.ts';
import { startZooKeeper, type ZooKeeperService } from '../../../../workload/src/local/index.ts';
import { waitFor } from '../../../harness/kube.ts';
import { applyApp, getJson } from '../controller/helpers.ts';
import {
  operatorSandbox,
  startLeader,
  startOperator,
  type OperatorProcess,
  type OperatorSandbox,
} from '../controller/operator-process.ts';
import { appAccess, readAssignment, startWorker, type FakeWorker } from '../coordination/helpers.ts';
import { dashboardGet, dashboardJson, serviceAccountToken, showsAssignment } from './helpers.ts';

const ok = (condition: boolean): true | undefined => (condition ? true : undefined);
const LEASE = 'dash-api';

describe('the dashboard of capstan-operator', () => {
  let zk: ZooKeeperService;
  let sandbox: OperatorSandbox;
  let leader: OperatorProcess | undefined;
  let standby: OperatorProcess | undefined;
  let reader: ZooKeeperClient | undefined;
  const workers: FakeWorker[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  let leaderUrl = '';
  let standbyUrl = '';

  beforeAll(async () => {
    [zk, sandbox] = await Promise.all([startZooKeeper(), operatorSandbox('dash-api', 1)]);
    const namespace = sandbox.namespace;
    await applyApp(namespace, 'shop', {
      workers: { upstream: 'http://backend.default.svc:8080', replicas: 2, partitions: 8 },
      coordination: { external: { connectString: zk.connectString } },
      failurePolicy: { rebalanceDelaySeconds: 0 },
    });
    const [leaderPort, standbyPort] = [await freePort(), await freePort()];
    leaderUrl = `http://127.0.0.1:${leaderPort}`;
    standbyUrl = `http://127.0.0.1:${standbyPort}`;
    leader = await startLeader(sandbox, LEASE, {
      extraArgs: ['--coordinate=true', `--dashboard-bind-address=127.0.0.1:${leaderPort}`],
    });
    const access = await appAccess({ namespace, app: 'shop' });
    for (const id of ['shop-workers-0', 'shop-workers-1']) {
      workers.push(await startWorker(zk, { namespace, app: 'shop' }, id, access.worker));
    }
    reader = await connect({ connectString: zk.connectString, sessionTimeoutMs: 4_000, ...access.operator });
    standby = await startOperator({
      kubeconfig: sandbox.kubeconfig,
      namespaces: [namespace],
      leaseNamespace: namespace,
      leaseId: LEASE,
      extraArgs: ['--coordinate=true', `--dashboard-bind-address=0.0.0.0:${standbyPort}`],
    });
  }, 180_000);

  afterAll(async () => {
    await Promise.all([leader?.stop('SIGKILL'), standby?.stop('SIGKILL')]);
    for (const worker of workers) await worker.client.close();
    await reader?.close();
    await zk?.stop();
    for (const cleanup of cleanups) await cleanup();
    await sandbox?.cleanup();
  });

  it('lists the app and shows the partition map that ZooKeeper holds', async () => {
    const ref = { namespace: sandbox.namespace, app: 'shop' };
    await waitFor('the dashboard’s map equal to the assignment in ZooKeeper', async () => {
      const detail = await dashboardJson<AppDetail>(leaderUrl, `/api/v1/apps/${ref.namespace}/shop`);
      return ok(showsAssignment(detail, await readAssignment(reader!, ref)));
    });
    const detail = (await dashboardJson<AppDetail>(leaderUrl, `/api/v1/apps/${ref.namespace}/shop`))!;
    const owners = new Set(detail.partitionMap!.partitions.map((p) => p.owner));
    expect([...owners].sort()).toEqual(['shop-workers-0', 'shop-workers-1']);
    expect(detail.partitionMap!.members).toEqual(['shop-workers-0', 'shop-workers-1']);
    expect(detail.rebalances.length).toBeGreaterThan(0);
    const list = await dashboardJson<{ leading: boolean; items: AppSummary[] }>(leaderUrl, '/api/v1/apps');
    expect(list?.leading).toBe(true);
    expect(list?.items.map((a) => `${a.namespace}/${a.name}`)).toEqual([`${ref.namespace}/shop`]);
    expect(list?.items[0]).toMatchObject({ observed: true, partitions: { count: 8, owned: 8 } });
    await waitFor('the Rebalanced event on the dashboard', async () => {
      const withEvents = await dashboardJson<AppDetail>(leaderUrl, `/api/v1/apps/${ref.namespace}/shop`);
      return ok(withEvents?.events.some((e) => e.reason === 'Rebalanced') ?? false);
    });
  });

  it('shows no generated password of the app', async () => {
    const secret = await getJson<V1Secret>('secret', 'shop-zookeeper-auth', sandbox.namespace);
    const passwords = Object.values(secret?.data ?? {}).map((v) => Buffer.from(v, 'base64').toString('utf8'));
    expect(passwords.length).toBeGreaterThan(0);
    const texts = await Promise.all(
      ['/api/v1/apps', `/api/v1/apps/${sandbox.namespace}/shop`, '/api/v1/operator'].map(
        async (path) => (await dashboardGet(leaderUrl, path)).text,
      ),
    );
    for (const text of texts) for (const password of passwords) expect(text).not.toContain(password);
  });

  it('beyond loopback asks for a token: 401 without, 403 without the permission, 200 with it', async () => {
    const namespace = sandbox.namespace;
    const allowed = await serviceAccountToken(namespace, 'dash-reader', true);
    const denied = await serviceAccountToken(namespace, 'dash-nobody', false);
    cleanups.push(allowed.cleanup, denied.cleanup);
    const none = await waitFor('the standby’s dashboard', async () => {
      const answer = await dashboardGet(standbyUrl, '/api/v1/apps').catch(() => undefined);
      return answer?.status === 401 ? answer : undefined;
    });
    expect(JSON.parse(none.text)).toMatchObject({ error: 'UNAUTHENTICATED' });
    expect((await dashboardGet(standbyUrl, '/api/v1/apps', 'not-a-token')).status).toBe(401);
    const forbidden = await dashboardGet(standbyUrl, '/api/v1/apps', denied.token);
    expect(forbidden.status).toBe(403);
    expect(JSON.parse(forbidden.text)).toMatchObject({
      error: 'FORBIDDEN',
      message: expect.stringContaining(`system:serviceaccount:${namespace}:dash-nobody`),
    });
    const list = await dashboardJson<{ leading: boolean; items: AppSummary[] }>(
      standbyUrl,
      '/api/v1/apps',
      allowed.token,
    );
    expect(list?.leading).toBe(false);
    expect(list?.items.map((a) => a.name)).toEqual(['shop']);
  });

  it('the standby says it does not lead and names the leader', async () => {
    const { token } = await serviceAccountToken(sandbox.namespace, 'dash-reader', true);
    const leaderView = await dashboardJson<OperatorView>(leaderUrl, '/api/v1/operator');
    expect(leaderView?.leader).toMatchObject({ leading: true, holder: leaderView?.identity });
    const view = await waitFor('the standby to see the Lease holder', async () => {
      const seen = await dashboardJson<OperatorView>(standbyUrl, '/api/v1/operator', token);
      return seen?.leader.holder === leaderView?.identity ? seen : undefined;
    });
    expect(view.leader.leading).toBe(false);
    expect(view.identity).not.toBe(leaderView?.identity);
    const detail = await dashboardJson<AppDetail>(
      standbyUrl,
      `/api/v1/apps/${sandbox.namespace}/shop`,
      token,
    );
    expect(detail?.partitionMap).toBeNull();
  });
});
