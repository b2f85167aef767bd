/**
 * Workers Kubernetes proves dead, against the real things: a Manager runs the controller and the
 * coordinators as the operator does (pod history wired), with a real ZooKeeper and the test apiserver,
 * whose StatefulSet pods run on kwok nodes. The doomed workers are "dead processes whose sessions live
 * on": they registered and claimed by hand and then do nothing, their sessions kept open with a long
 * timeout, so a move that happens while their sessions are still open did not wait for expiry. The
 * survivors are the workers' own `PartitionOwnership`. rebalanceDelaySeconds is 600 throughout.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import type { DistributedApp } from '../../../../operator/src/api/schema.ts';
import { addCoordination } from '../../../../operator/src/coordination/leader-runnable.ts';
import { PartitionObservations } from '../../../../operator/src/coordination/partition-observations.ts';
import { addDistributedAppController } from '../../../../operator/src/controller/setup.ts';
import { PodHistory } from '../../../../operator/src/remediation/pod-history.ts';
import { createLogger, Manager, systemClock } from '../../../../operator/src/runtime/index.ts';
import { connect, type ZooKeeperClient } from '../../../../common/src/zookeeper-client.ts';
import { memberPath, type AppRef } from '../../../../common/src/zk-paths.ts';
import { startZooKeeper, type ZooKeeperService } from '../../../../workload/src/local/index.ts';
import { createNamespace, kubectl, loadKubeConfig, waitFor, eventsMatching } from '../../../harness/kube.ts';
import { applyApp, condition, getJson } from '../controller/helpers.ts';
import { installCrd } from '../controller/operator-process.ts';
import {
  claimAssigned,
  readAssignment,
  startSilentWorker,
  startWorker,
  type FakeWorker,
} from '../coordination/helpers.ts';

const PARTITIONS = 6;

function assignedTo(record: Awaited<ReturnType<typeof readAssignment>>, id: string): number[] {
  return (record?.partitions ?? []).flatMap((e, p) => (e.owner === id ? [p] : []));
}

describe('worker remediation (controller + coordinators, ZooKeeper, apiserver with kwok nodes)', () => {
  let zk: ZooKeeperService;
  let admin: ZooKeeperClient;
  let namespace: string;
  let manager: Manager;
  let registry: Registry;
  const survivors: FakeWorker[] = [];
  const dead: ZooKeeperClient[] = [];

  beforeAll(async () => {
    [zk] = await Promise.all([startZooKeeper(), installCrd()]);
    admin = await connect({ connectString: zk.connectString, sessionTimeoutMs: 4_000 });
    namespace = await createNamespace('remedy');
    registry = new Registry();
    const logger = createLogger({ level: 'warn' });
    manager = new Manager({ kubeConfig: loadKubeConfig(), registry, logger });
    const observations = new PartitionObservations();
    const history = new PodHistory(systemClock);
    const { caches } = addDistributedAppController(manager, {
      namespaces: [namespace],
      identity: 'remediation-test',
      logger,
      partitions: observations,
      podHandler: history,
    });
    addCoordination(manager, {
      apps: caches.apps,
      identity: 'remediation-test',
      logger,
      observations,
      pods: { store: caches.pods, history },
    });
    await manager.start();
  }, 120_000);

  afterAll(async () => {
    await manager?.stop();
    for (const w of survivors) await w.ownership.close().catch(() => undefined);
    await Promise.all([...survivors.map((w) => w.client.close()), ...dead.map((c) => c.close())]);
    await admin?.close();
    await zk?.stop();
    if (namespace) await kubectl(['delete', 'namespace', namespace, '--wait=false'], { allowFailure: true });
  });

  async function metric(name: string): Promise<number> {
    const text = await registry.metrics();
    const line = text.split('\n').find((l) => l.startsWith(name));
    return line === undefined ? 0 : Number(line.split(' ').at(-1));
  }

  /** An app of three worker pods: `live` served by real workers, `doomed` by dead-process sessions. */
  async function startApp(app: string, live: string[], doomed: string[]): Promise<AppRef> {
    const ref = { namespace, app };
    await applyApp(namespace, app, {
      workers: { upstream: 'http://backend.default.svc:8080', replicas: 3, partitions: PARTITIONS },
      coordination: { external: { connectString: zk.connectString } },
      failurePolicy: { rebalanceDelaySeconds: 600, crashLoopRestartAfterSeconds: 10 },
    });
    for (const id of [...live, ...doomed]) {
      await waitFor(`pod ${id} running`, async () => {
        const pod = await getJson<{ status?: { phase?: string } }>('pod', id, namespace);
        return pod?.status?.phase === 'Running' ? true : undefined;
      });
    }
    for (const id of doomed) dead.push(await startSilentWorker(zk, ref, id, 40_000));
    for (const id of live) survivors.push(await startWorker(zk, ref, id));
    await waitFor('an assignment over all three', async () => {
      const owners = new Set((await readAssignment(admin, ref))?.partitions.map((e) => e.owner));
      return owners.size === 3 && !owners.has(undefined) ? true : undefined;
    });
    return ref;
  }

  /** Fails if any partition is served by two survivors at once. */
  function assertSingleOwners(): void {
    const servedBy = new Map<string, string>();
    for (const w of survivors) {
      for (const p of w.ownership.serving().keys()) {
        const key = `${w.id.replace(/-worker-\d+$/, '')}/${p}`;
        expect(servedBy.get(key)).toBeUndefined();
        servedBy.set(key, w.id);
      }
    }
  }

  it('a pod deleted normally: exactly its partitions move and are claimed before its session expires', async () => {
    const app = 'gone';
    const ref = await startApp(app, [`${app}-worker-0`, `${app}-worker-2`], [`${app}-worker-1`]);
    const doomedId = `${app}-worker-1`;
    const doomed = dead.at(-1)!;
    const theirs = await claimAssigned(doomed, ref, doomedId);
    expect(theirs.length).toBeGreaterThan(0);
    const before = (await readAssignment(admin, ref))!;
    const removedBefore = await metric('capstan_remediations_total{action="stale-session-removed"}');

    await kubectl(['delete', 'pod', doomedId, '-n', namespace, '--wait=false']);
    const after = await waitFor('its partitions moved and claimed by the survivors', async () => {
      assertSingleOwners();
      const record = await readAssignment(admin, ref);
      if (record === undefined || assignedTo(record, doomedId).length > 0) return undefined;
      const claimed = theirs.every((p) =>
        survivors.some((w) => w.id === record.partitions[p]?.owner && w.ownership.serving().has(p)),
      );
      return claimed ? record : undefined;
    });
    // Exactly its partitions moved; the others kept owner and epoch.
    before.partitions.forEach((entry, p) => {
      if (theirs.includes(p)) expect(after.partitions[p]!.owner).not.toBe(doomedId);
      else expect(after.partitions[p]).toEqual(entry);
    });
    // The dead process's session never expired: the move did not wait for it.
    expect(doomed.connected).toBe(true);
    expect(await metric('capstan_remediations_total{action="stale-session-removed"}')).toBe(
      removedBefore + 1,
    );
    await waitFor('the failover timed', async () =>
      (await metric('capstan_failover_seconds_count')) > 0 ? true : undefined,
    );
  });

  it('a force-deleted pod proves nothing: its partitions stay until its session expires', async () => {
    const app = 'forced';
    const forcedId = `${app}-worker-1`;
    const gracefulId = `${app}-worker-2`;
    const ref = await startApp(app, [`${app}-worker-0`], [forcedId, gracefulId]);
    const [forced, graceful] = dead.slice(-2) as [ZooKeeperClient, ZooKeeperClient];
    await claimAssigned(forced, ref, forcedId);
    await claimAssigned(graceful, ref, gracefulId);
    const before = (await readAssignment(admin, ref))!;
    const forcedPartitions = assignedTo(before, forcedId);

    await kubectl(['delete', 'pod', forcedId, '-n', namespace, '--grace-period=0', '--force']);
    // The pod watch delivers in order: once the later graceful deletion is acted on, the forced one was seen.
    await kubectl(['delete', 'pod', gracefulId, '-n', namespace, '--wait=false']);
    const after = await waitFor('the gracefully deleted pod’s partitions moved', async () => {
      const record = await readAssignment(admin, ref);
      return record !== undefined && assignedTo(record, gracefulId).length === 0 ? record : undefined;
    });
    for (const p of forcedPartitions) expect(after.partitions[p]).toEqual(before.partitions[p]);
    expect(await admin.exists(memberPath(ref, forcedId))).toBeDefined();
    expect(forced.connected).toBe(true);
  });

  it('a crash-looping pod: Degraded, a WorkerCrashLooping event, its partitions move once its process is gone', async () => {
    const app = 'looping';
    const loopingId = `${app}-worker-1`;
    const ref = await startApp(app, [`${app}-worker-0`, `${app}-worker-2`], [loopingId]);
    const looping = dead.at(-1)!;
    const theirs = await claimAssigned(looping, ref, loopingId);
    const status = {
      status: {
        phase: 'Running',
        conditions: [{ type: 'Ready', status: 'False' }],
        containerStatuses: [
          {
            name: 'worker',
            image: 'worker',
            imageID: '',
            ready: false,
            restartCount: 4,
            state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s' } },
            lastState: { terminated: { exitCode: 3, reason: 'Error', startedAt: null, finishedAt: null } },
          },
        ],
      },
    };
    await kubectl([
      'patch',
      'pod',
      loopingId,
      '-n',
      namespace,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify(status),
    ]);
    const degraded = await waitFor('Degraded', async () => {
      const current = await getJson<DistributedApp>('dapp', app, namespace);
      const c = condition(current, 'Degraded');
      return c?.status === 'True' ? c : undefined;
    });
    expect(degraded.message).toContain(loopingId);
    await waitFor('the WorkerCrashLooping event', async () =>
      (await eventsMatching(namespace, 'reason=WorkerCrashLooping')).find(
        (e) => e.message.includes(loopingId) && e.message.includes('Error (exit code 3)'),
      ),
    );
    // The process died (it is backing off): its session ends, and with the notice its partitions move now.
    await looping.close();
    await waitFor('its partitions moved and claimed', async () => {
      assertSingleOwners();
      const record = await readAssignment(admin, ref);
      if (record === undefined || assignedTo(record, loopingId).length > 0) return undefined;
      return theirs.every((p) => survivors.some((w) => w.ownership.serving().has(p))) ? true : undefined;
    });
    await waitFor('the crash-looping pod deleted and recreated', async () =>
      (await metric('capstan_remediations_total{action="crashloop-pod-deleted"}')) > 0 ? true : undefined,
    );
  });
});
