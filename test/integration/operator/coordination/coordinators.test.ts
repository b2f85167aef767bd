/**
 * The coordinators against real processes: a real ZooKeeper and the test apiserver. A Manager (leading
 * unconditionally) runs an informer of DistributedApps and the coordination runnable, as the operator does;
 * the apps point at the loopback ZooKeeper through `spec.coordination.external`, and fake workers register
 * through the workers' own membership code.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import type { DistributedApp } from '../../../../operator/src/api/schema.ts';
import { CoordinationMetrics } from '../../../../operator/src/coordination/coordination-metrics.ts';
import { CoordinatorActivity } from '../../../../operator/src/coordination/coordinator-activity.ts';
import { coordinationRunnable } from '../../../../operator/src/coordination/leader-runnable.ts';
import { EventRecorder } from '../../../../operator/src/controller/events.ts';
import { DISTRIBUTED_APPS } from '../../../../operator/src/controller/resources.ts';
import { createLogger, Manager } from '../../../../operator/src/runtime/index.ts';
import { ZooKeeperClient, connect } from '../../../../common/src/zookeeper-client.ts';
import { freePort, startZooKeeper, type ZooKeeperService } from '../../../../workload/src/local/index.ts';
import { createNamespace, kubectl, loadKubeConfig, waitFor, eventsMatching } from '../../../harness/kube.ts';
import { applyApp } from '../controller/helpers.ts';
import { installCrd } from '../controller/operator-process.ts';
import { aliveConnections, balancedOver, readAssignment, startWorker, type FakeWorker } from './helpers.ts';

const PARTITIONS = 12;
const BACKOFF = { initialMs: 200, maxMs: 2_000, factor: 2, jitter: 0.2 };

interface LogLine {
  level: string;
  msg: string;
  namespace?: string;
  app?: string;
  failures?: number;
  retryInMs?: number;
  reason?: string;
}

function appSpec(connectString: string, extra: { rebalanceDelaySeconds?: number } = {}): unknown {
  return {
    workers: { upstream: 'http://backend.default.svc:8080', replicas: 3, partitions: PARTITIONS },
    coordination: { external: { connectString } },
    failurePolicy: { rebalanceDelaySeconds: extra.rebalanceDelaySeconds ?? 0 },
  };
}

const ok = (condition: boolean): true | undefined => (condition ? true : undefined);

describe('coordinators (leader runnable) against ZooKeeper and the apiserver', () => {
  let zk: ZooKeeperService;
  let admin: ZooKeeperClient;
  let namespace: string;
  let manager: Manager;
  let registry: Registry;
  let deadPort: number;
  const workers = new Map<string, FakeWorker>();
  const logs: LogLine[] = [];
  /** Every ZooKeeper client the coordinators made. */
  const coordinatorClients: ZooKeeperClient[] = [];
  const activity = new CoordinatorActivity();
  const ref = (app: string) => ({ namespace, app });

  /** The `capstan_coordinator_connected` value of `app`, or undefined without a series. */
  async function connectedGauge(app: string): Promise<number | undefined> {
    const text = await registry.metrics();
    const line = text
      .split('\n')
      .find((l) => l.startsWith(`capstan_coordinator_connected{namespace="${namespace}",app="${app}"}`));
    return line === undefined ? undefined : Number(line.split(' ').at(-1));
  }

  const appLogs = (app: string, msg: string): LogLine[] =>
    logs.filter((l) => l.app === app && l.namespace === namespace && l.msg.startsWith(msg));

  beforeAll(async () => {
    [zk] = await Promise.all([startZooKeeper(), installCrd()]);
    admin = await connect({ connectString: zk.connectString, sessionTimeoutMs: 4_000 });
    namespace = await createNamespace('coord');
    deadPort = await freePort();
    registry = new Registry();
    const logger = createLogger({
      level: 'debug',
      destination: { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) },
    });
    manager = new Manager({ kubeConfig: loadKubeConfig(), registry, logger });
    const apps = manager.informer<DistributedApp>({ resource: DISTRIBUTED_APPS, namespace });
    manager.addLeaderRunnable(
      coordinationRunnable({
        apps: apps.store,
        metrics: new CoordinationMetrics(registry),
        events: new EventRecorder({ kubeConfig: manager.kubeConfig, instance: 'coordination-test', logger }),
        logger,
        syncIntervalMs: 200,
        activity,
        backoff: BACKOFF,
        timeouts: { sessionTimeoutMs: 4_000, connectTimeoutMs: 1_000, operationTimeoutMs: 3_000 },
        createClient: (options) => {
          const client = new ZooKeeperClient(options);
          coordinatorClients.push(client);
          return client;
        },
      }),
    );
    await manager.start();
  }, 120_000);

  afterAll(async () => {
    await manager?.stop();
    for (const w of workers.values()) await w.ownership.close().catch(() => undefined);
    await Promise.all([...workers.values()].map((w) => w.client.close()));
    await admin?.close();
    await zk?.stop();
    if (namespace) await kubectl(['delete', 'namespace', namespace, '--wait=false'], { allowFailure: true });
  });

  it('writes an assignment over the registered members: every partition, max-min <= 1, and records it', async () => {
    await applyApp(namespace, 'orders', appSpec(zk.connectString));
    for (const id of ['w-a', 'w-b', 'w-c']) workers.set(id, await startWorker(zk, ref('orders'), id));
    await waitFor('assignment balanced over w-a, w-b, w-c', async () =>
      ok(balancedOver(await readAssignment(admin, ref('orders')), PARTITIONS, ['w-a', 'w-b', 'w-c'])),
    );
    expect(await connectedGauge('orders')).toBe(1);
    const events = await waitFor('a Rebalanced event on the app', async () => {
      const items = await eventsMatching(namespace, 'reason=Rebalanced,involvedObject.name=orders');
      return items.length > 0 ? items : undefined;
    });
    expect(events[0]!.involvedObject.kind).toBe('DistributedApp');
    expect(events[0]!.message).toMatch(
      /^Moved \d+ of 12 partitions; \d+ workers? owns? partitions, \d+ unassigned/,
    );
    const text = await registry.metrics();
    expect(text).toMatch(
      new RegExp(
        `capstan_partitions_moved_total\\{namespace="${namespace}",app="orders"\\} (1[2-9]|[2-9]\\d)`,
      ),
    );
    expect(text).toContain(
      `capstan_rebalances_total{namespace="${namespace}",app="orders",reason="members_changed"}`,
    );
  });

  it('moves exactly the partitions of a member that leaves (rebalanceDelaySeconds 0)', async () => {
    const before = (await readAssignment(admin, ref('orders')))!;
    const lost = workers.get('w-b')!;
    workers.delete('w-b');
    const lostPartitions = before.partitions.flatMap((e, p) => (e.owner === 'w-b' ? [p] : []));
    expect(lostPartitions.length).toBeGreaterThan(0);
    await lost.client.close();
    const after = await waitFor('w-b’s partitions reassigned', async () => {
      const record = await readAssignment(admin, ref('orders'));
      return record?.partitions.some((e) => e.owner === 'w-b') === false ? record : undefined;
    });
    const moved = after.partitions.flatMap((e, p) => (e.owner !== before.partitions[p]!.owner ? [p] : []));
    expect(moved).toEqual(lostPartitions);
    for (let p = 0; p < PARTITIONS; p++) {
      const bump = moved.includes(p) ? 1 : 0;
      expect(after.partitions[p]!.epoch).toBe(before.partitions[p]!.epoch + bump);
    }
    expect(balancedOver(after, PARTITIONS, ['w-a', 'w-c'])).toBe(true);
  });

  it('retries an app whose ZooKeeper is unreachable with backoff, without holding up another app', async () => {
    await applyApp(namespace, 'dead', appSpec(`127.0.0.1:${deadPort}`));
    await waitFor('the unreachable app failed a few times', () =>
      Promise.resolve(ok(appLogs('dead', 'cannot coordinate').some((l) => (l.failures ?? 0) >= 4))),
    );
    // Meanwhile another app on the live ZooKeeper gets going.
    await applyApp(namespace, 'second', appSpec(zk.connectString));
    workers.set('s-a', await startWorker(zk, ref('second'), 's-a'));
    await waitFor('the second app assigned', async () =>
      ok(balancedOver(await readAssignment(admin, ref('second')), PARTITIONS, ['s-a'])),
    );
    expect(await connectedGauge('second')).toBe(1);
    expect(await connectedGauge('dead')).toBe(0);
    const failures = appLogs('dead', 'cannot coordinate');
    // One attempt per failure, each waiting its backoff (growing up to the cap); logged at warn only once.
    expect(failures.map((l) => l.failures)).toEqual(failures.map((_, i) => i + 1));
    expect(appLogs('dead', 'connecting').length).toBeLessThanOrEqual(failures.length + 1);
    failures.forEach((l, i) => {
      const base = Math.min(BACKOFF.maxMs, BACKOFF.initialMs * 2 ** i);
      expect(l.retryInMs).toBeGreaterThanOrEqual(base * (1 - BACKOFF.jitter));
      expect(l.retryInMs).toBeLessThanOrEqual(base);
    });
    expect(failures.filter((l) => l.level === 'warn')).toHaveLength(1);
  });

  it('restarts a coordinator whose spec changed; the new one continues from ZooKeeper', async () => {
    const before = await readAssignment(admin, ref('orders'));
    const started = appLogs('orders', 'coordinator running').length;
    await applyApp(namespace, 'orders', appSpec(zk.connectString, { rebalanceDelaySeconds: 1 }));
    await waitFor('orders coordinator restarted', async () =>
      ok(appLogs('orders', 'coordinator running').length > started && (await connectedGauge('orders')) === 1),
    );
    expect(appLogs('orders', 'coordinator stopped').length).toBeGreaterThanOrEqual(1);
    expect(await readAssignment(admin, ref('orders'))).toEqual(before);
  });

  it('closes everything on session expiry and starts again on a fresh session without moving anything', async () => {
    const running = (app: string): number => appLogs(app, 'coordinator running').length;
    const before = { orders: running('orders'), second: running('second') };
    const assignments = [
      await readAssignment(admin, ref('orders')),
      await readAssignment(admin, ref('second')),
    ];
    // Expire the coordinators' sessions: resume each from another connection and close it there.
    const live = coordinatorClients.filter((c) => c.connected);
    expect(live).toHaveLength(2);
    for (const client of live) {
      // On a busy machine the original client can win its session back before the taker closes it:
      // take it again until the client has seen the expiry.
      let expired = false;
      client.once('expired', () => (expired = true));
      for (let attempt = 0; attempt < 5 && !expired; attempt++) {
        const thief = await connect({ connectString: zk.connectString, session: client.session }).catch(
          () => undefined,
        );
        await thief?.close();
        await waitFor('the expiry noticed', () => Promise.resolve(ok(expired)), 5_000).catch(() => undefined);
      }
      expect(expired).toBe(true);
    }
    await waitFor('both coordinators running again on fresh sessions', async () =>
      ok(
        running('orders') > before.orders &&
          running('second') > before.second &&
          (await connectedGauge('orders')) === 1 &&
          (await connectedGauge('second')) === 1,
      ),
    );
    for (const app of ['orders', 'second']) {
      expect(appLogs(app, 'ZooKeeper session lost').map((l) => l.reason)).toContain('session expired');
    }
    expect(live.every((c) => !c.connected)).toBe(true);
    expect([await readAssignment(admin, ref('orders')), await readAssignment(admin, ref('second'))]).toEqual(
      assignments,
    );
  });

  /** Connections of this process on the server: mntr's own, admin, the workers and `coordinators` coordinators. */
  const expectConnections = (coordinators: number, what: string): Promise<true> =>
    waitFor(what, async (): Promise<true> => {
      const alive = await aliveConnections(zk);
      const expected = 2 + workers.size + coordinators;
      if (alive !== expected) throw new Error(`${alive} connections, not ${expected}`);
      return true;
    });

  it('stops the coordinator of a deleted app and closes its ZooKeeper session', async () => {
    await expectConnections(2, 'sessions of the orders and second coordinators');
    expect(activity.isCoordinating(ref('second'))).toBe(true);
    await kubectl(['delete', 'distributedapp', 'second', '-n', namespace]);
    await waitFor('the second app’s series removed', async () =>
      ok((await connectedGauge('second')) === undefined),
    );
    expect(appLogs('second', 'coordinator stopped').length).toBeGreaterThanOrEqual(1);
    await expectConnections(1, 'only the orders coordinator’s session');
    await waitFor('the second coordinator ended', () =>
      Promise.resolve(ok(!activity.isCoordinating(ref('second')))),
    );
    expect(activity.isCoordinating(ref('orders'))).toBe(true);
    // The assignment stays in ZooKeeper for whoever coordinates next.
    expect(balancedOver(await readAssignment(admin, ref('second')), PARTITIONS, ['s-a'])).toBe(true);
  });

  it('closes every coordinator and its session when the runnable is aborted', async () => {
    await expectConnections(1, 'the orders coordinator’s session');
    await manager.stop();
    expect(await connectedGauge('orders')).toBe(0);
    expect(await connectedGauge('dead')).toBe(0);
    expect(logs.some((l) => l.msg.startsWith('coordination stopped'))).toBe(true);
    expect(appLogs('dead', 'coordinator stopped')).toHaveLength(1);
    await expectConnections(0, 'no coordinator session left');
    expect(activity.isCoordinating(ref('orders'))).toBe(false);
    expect(activity.isCoordinating(ref('dead'))).toBe(false);
  });
});
