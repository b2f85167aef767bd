import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import type { Observed } from '../../../../operator/src/model/observed.ts';
import { credentialsOf } from '../../../../operator/src/controller/generated-secrets.ts';
import type { V1Deployment, V1Secret, V1StatefulSet } from '@kubernetes/client-node';
import type { DistributedApp } from '../../../../operator/src/api/schema.ts';
import { APPLIED_HASH_ANNOTATION, appliedHash } from '../../../../operator/src/controller/apply.ts';
import { toWire } from '../../../../operator/src/controller/wire.ts';
import {
  CONFIG_CHECKSUM_ANNOTATION,
  RESTARTED_AT_ANNOTATION,
} from '../../../../operator/src/model/checksum.ts';
import { desiredState } from '../../../../operator/src/model/desired-state.ts';
import { kubectl, waitFor, eventsMatching } from '../../../harness/kube.ts';
import { appObjects, OBJECTS_PER_APP, applyApp, condition, getJson, waitForReady } from './helpers.ts';
import {
  metricsText,
  writeRequests,
  operatorSandbox,
  startLeader,
  type OperatorProcess,
  type OperatorSandbox,
} from './operator-process.ts';

const SPEC = {
  workers: { upstream: 'http://backend.default.svc:8080', replicas: 2 },
  loadBalancer: { haproxy: { algorithm: 'roundrobin' } },
};

type Workload = V1StatefulSet | V1Deployment;

async function workload(kind: string, name: string, namespace: string): Promise<Workload> {
  const found = await getJson<Workload>(kind, name, namespace);
  if (found === undefined) throw new Error(`${kind} ${name} missing`);
  return found;
}

function templateAnnotation(w: Workload, key: string): string | undefined {
  return w.spec?.template.metadata?.annotations?.[key];
}

/** The generated secrets the builders were given: the Redis password and the ZooKeeper credentials. */
async function generatedInputs(namespace: string): Promise<Observed> {
  const secret = await getJson<V1Secret>('secret', 'shop-redis-auth', namespace);
  const redisPassword = Buffer.from(secret?.data?.password ?? '', 'base64').toString('utf8');
  expect(redisPassword.length).toBeGreaterThanOrEqual(32);
  const zooKeeperCredentials = credentialsOf(
    await getJson<V1Secret>('secret', 'shop-zookeeper-auth', namespace),
  );
  expect(zooKeeperCredentials?.operatorPassword.length).toBeGreaterThanOrEqual(32);
  expect(zooKeeperCredentials?.workerPassword).not.toBe(zooKeeperCredentials?.operatorPassword);
  return { redisPassword, zooKeeperCredentials: zooKeeperCredentials! };
}

/** Every desired object exists with exactly the applied content, owned by the app. */
async function expectDesiredContent(app: DistributedApp, namespace: string): Promise<void> {
  const desired = desiredState(app, await generatedInputs(namespace));
  expect(desired.length).toBe(OBJECTS_PER_APP);
  for (const object of desired) {
    const live = await getJson<{ metadata: DistributedApp['metadata'] }>(
      object.kind,
      object.metadata.name,
      namespace,
    );
    expect(live?.metadata.annotations?.[APPLIED_HASH_ANNOTATION]).toBe(
      appliedHash(toWire(object, object.kind)),
    );
    expect(live?.metadata.ownerReferences?.[0]).toMatchObject({ uid: app.metadata.uid, controller: true });
    expect(live?.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('capstan');
  }
  const haproxyConfig = await getJson<{ data: Record<string, string> }>(
    'configmap',
    'shop-haproxy-config',
    namespace,
  );
  const desiredConfig = desired.find(
    (o) => o.kind === 'ConfigMap' && o.metadata.name === 'shop-haproxy-config',
  );
  expect(haproxyConfig?.data).toEqual((desiredConfig as { data?: Record<string, string> }).data);
}

describe('DistributedApp controller (operator process under its own RBAC)', () => {
  let namespace: string;
  let sandbox: OperatorSandbox | undefined;
  let operator: OperatorProcess;

  beforeAll(async () => {
    sandbox = await operatorSandbox('op-life', 2);
    namespace = sandbox.namespace;
    operator = await startLeader(sandbox, 'op');
  });

  afterAll(async () => {
    await operator?.stop();
    await sandbox?.cleanup();
  });

  it('creates every object with the desired content, pods become Ready, and so does the app', async () => {
    await applyApp(namespace, 'shop', SPEC);
    await kubectl(['wait', '--for=condition=Ready', '--timeout=120s', '-n', namespace, 'dapp/shop']);
    const app = await waitForReady(namespace, 'shop');
    expect(app.status?.observedGeneration).toBe(app.metadata.generation);
    expect(app.status?.phase).toBe('Running');
    expect(app.status?.workers).toEqual({ desired: 2, current: 2, ready: 2 });
    expect(app.status?.selector).toContain('app.kubernetes.io/instance=shop');

    await expectDesiredContent(app, namespace);

    const pods = await kubectl([
      'get',
      'pods',
      '-n',
      namespace,
      '-l',
      'app.kubernetes.io/instance=shop',
      '-o',
      'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
    ]);
    expect(pods.stdout.trim().split('\n')).toEqual(['True', 'True', 'True', 'True', 'True']);
  });

  it('makes no write request while idle after convergence', async () => {
    // Converged includes the partition coordinator's first report (here: the in-cluster ensemble is not
    // reachable from the test host, so Rebalancing turns Unknown once its first connection attempt failed).
    await waitFor('the Rebalancing condition reported', async () =>
      condition(await getJson<DistributedApp>('distributedapp', 'shop', namespace), 'Rebalancing'),
    );
    const before = await waitFor('metrics', () => metricsText(operator));
    const start = writeRequests(before);
    const renewals = (text: string): number =>
      Number(/leader_election_lease_writes_total\{[^}]*\} (\d+)/.exec(text)?.[1] ?? 0);
    await waitFor(
      'ten lease renewals',
      async () => {
        const text = await metricsText(operator);
        return text !== undefined && renewals(text) >= renewals(before) + 10 ? text : undefined;
      },
      60_000,
    );
    const after = await waitFor('metrics', () => metricsText(operator));
    expect(writeRequests(after)).toBe(start);
  });

  it('rolls only the components whose config changed, and the workers on the restart annotation', async () => {
    const names = {
      zk: ['statefulset', 'shop-zookeeper'],
      redis: ['deployment', 'shop-redis'],
      workers: ['statefulset', 'shop-worker'],
      haproxy: ['deployment', 'shop-haproxy'],
    } as const;
    const before = Object.fromEntries(
      await Promise.all(
        Object.entries(names).map(
          async ([k, [kind, name]]) => [k, await workload(kind, name, namespace)] as const,
        ),
      ),
    );
    await applyApp(namespace, 'shop', { ...SPEC, loadBalancer: { haproxy: { algorithm: 'leastconn' } } });
    await waitForReady(namespace, 'shop');
    const haproxy = await workload('deployment', 'shop-haproxy', namespace);
    expect(templateAnnotation(haproxy, CONFIG_CHECKSUM_ANNOTATION)).not.toBe(
      templateAnnotation(before.haproxy!, CONFIG_CHECKSUM_ANNOTATION),
    );
    for (const key of ['zk', 'redis', 'workers'] as const) {
      const [kind, name] = names[key];
      expect((await workload(kind, name, namespace)).metadata?.generation).toBe(
        before[key]!.metadata?.generation,
      );
    }

    const stamp = new Date().toISOString();
    await kubectl([
      'annotate',
      '--overwrite',
      '-n',
      namespace,
      'dapp/shop',
      `${RESTARTED_AT_ANNOTATION}=${stamp}`,
    ]);
    await waitFor('workers rolled by the restart annotation', async () => {
      const workers = await workload('statefulset', 'shop-worker', namespace);
      return templateAnnotation(workers, RESTARTED_AT_ANNOTATION) === stamp ? true : undefined;
    });
    expect((await workload('deployment', 'shop-haproxy', namespace)).metadata?.generation).toBe(
      haproxy.metadata?.generation,
    );
    expect((await workload('statefulset', 'shop-zookeeper', namespace)).metadata?.generation).toBe(
      before.zk!.metadata?.generation,
    );
  });

  it('deploys nothing for external Redis and ZooKeeper, and reports a missing Secret until it appears', async () => {
    await applyApp(namespace, 'ext', {
      workers: { app: 'counters', replicas: 1 },
      cache: { external: { url: 'redis://redis.example:6379', passwordSecretRef: { name: 'ext-redis' } } },
      coordination: { external: { connectString: 'zk.example:2181' } },
    });
    const degraded = await waitFor('Degraded naming the Secret', async () => {
      const app = await getJson<DistributedApp>('distributedapp', 'ext', namespace);
      const c = condition(app, 'Degraded');
      return c?.status === 'True' && c.message.includes('ext-redis') ? c : undefined;
    });
    expect(degraded.reason).toBe('SecretMissing');
    const events = await waitFor('a warning event', async () => {
      const items = await eventsMatching(namespace, 'involvedObject.name=ext,reason=SecretMissing');
      return items.length > 0 ? items : undefined;
    });
    expect(events[0]!.type).toBe('Warning');
    const objects = await appObjects(namespace, 'ext');
    // Only the ZooKeeper credentials, which an external ensemble needs too.
    expect(objects.filter((o) => /redis|zookeeper/.test(o))).toEqual(['secret/ext-zookeeper-auth']);
    expect(objects).toContain('statefulset.apps/ext-worker');

    await kubectl([
      'create',
      'secret',
      'generic',
      'ext-redis',
      '-n',
      namespace,
      '--from-literal=password=pw',
    ]);
    // Ready alone may be True already (the worker's kwok pod is Ready without the Secret): wait for the
    // Degraded condition to clear, then for Ready.
    const cleared = await waitFor('Degraded cleared once the Secret exists', async () => {
      const c = condition(await getJson<DistributedApp>('distributedapp', 'ext', namespace), 'Degraded');
      return c?.status === 'False' ? c : undefined;
    });
    expect(cleared.reason).toBe('AsExpected');
    await waitForReady(namespace, 'ext');
  });

  it('deleting the app removes everything it owned', async () => {
    expect((await appObjects(namespace, 'shop')).length).toBe(OBJECTS_PER_APP);
    await kubectl(['delete', 'dapp', 'shop', '-n', namespace]);
    await waitFor(
      'owned objects garbage-collected',
      async () => ((await appObjects(namespace, 'shop')).length === 0 ? true : undefined),
      90_000,
    );
  });
});
