/**
 * Worker failures the operator handles on the real nodes, with examples/minimal.yaml in its own
 * namespace: a worker container that keeps dying (crash loop) and a node that fails under a worker
 * (kubelet stopped, containers frozen). Every other pod of the app runs on the surviving node, so only
 * the worker is hit. GET requests run through HAProxy meanwhile; their failures are printed, owners are
 * sampled throughout and never two may serve one partition. Timings are printed, never asserted.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import {
  appPods,
  appUrls,
  applyApp,
  deletePodsOn,
  deployUpstream,
  waitAppReady,
  type PodJson,
} from '../../hack/demo/app-steps.ts';
import { observeFailover, type FailoverObservers } from '../../hack/demo/owner-sampler.ts';
import {
  OPERATOR_IMAGE,
  getJson,
  installOperator,
  quietSteps,
  repoRoot,
  restrictedNamespace,
  step,
  upstreamObjects,
  waitFor,
  type Steps,
} from '../../hack/demo/kube-steps.ts';
import { killContainer } from '../../hack/local-cluster/containers.ts';
import { failNode, restoreNode } from '../../hack/local-cluster/cluster.ts';
import { CAPSTAN_VERSION } from '../../operator/src/api/limits.ts';
import { eventsMatching, testClusterDir, testKubeconfig } from '../harness/kube.ts';

const NAMESPACE = 'e2e-failures';
const APP = 'hello';
const IMAGE = `${OPERATOR_IMAGE.repository}:${CAPSTAN_VERSION}`;
const FAILED = 'capstan-node-1';
const SURVIVOR = 'capstan-node-0';
const PARTITIONS = 64;

interface AppJson {
  status?: {
    partitions?: { byWorker?: Record<string, number> };
    conditions?: { type: string; status: string; reason?: string }[];
  };
}

interface WorkerState {
  restartCount: number;
  containerID?: string;
  state?: { running?: object; waiting?: { reason?: string } };
}

describe('worker failures on the real nodes', () => {
  let steps: Steps;
  let haproxy: string;
  let nodeFailed = false;
  /** The observers of the running test, stopped after it even when it failed. */
  let running: FailoverObservers | undefined;

  const app = async (): Promise<AppJson | undefined> =>
    getJson<AppJson>(steps, ['dapp', APP, '-n', NAMESPACE]);
  const pod = (name: string): Promise<PodJson | undefined> =>
    getJson<PodJson>(steps, ['pod', name, '-n', NAMESPACE]);
  const workerState = (p: PodJson | undefined): WorkerState | undefined =>
    p?.status.containerStatuses?.find((c) => c.name === 'worker');
  const kubectl = (args: string[]) => step(steps, 'kubectl', args);
  const patchApp = (patch: object) =>
    kubectl(['patch', 'dapp', APP, '-n', NAMESPACE, '--type=merge', '-p', JSON.stringify(patch)]);

  /** Every partition owned, over `workers` only, max - min <= 1. */
  const balancedOver = async (workers: readonly string[]): Promise<Record<string, number> | undefined> => {
    const byWorker = (await app())?.status?.partitions?.byWorker ?? {};
    const counts = workers.map((w) => byWorker[w] ?? 0);
    const total = Object.values(byWorker).reduce((a, b) => a + b, 0);
    const others = Object.keys(byWorker).filter((w) => !workers.includes(w) && (byWorker[w] ?? 0) > 0);
    const balanced =
      total === PARTITIONS && others.length === 0 && Math.max(...counts) - Math.min(...counts) <= 1;
    return balanced && Math.min(...counts) > 0 ? byWorker : undefined;
  };

  async function observe(prefix: string): Promise<FailoverObservers> {
    const workers = await appPods(steps, NAMESPACE, APP, 'worker');
    // Pod IPs change when a pod is recreated; the sampler covers the pods there were at the start.
    const workerUrls = workers.map((p) => `http://${p.status.podIP}:8080`);
    running = observeFailover({ haproxy, prefix, keys: 40, workerUrls, maxMs: 300_000 });
    return running;
  }

  /** Moves every pod of `namespace` matching `selector` off FAILED (which is cordoned), waiting for the rollout. */
  async function moveOffFailed(namespace: string, selector: string, rollout: string): Promise<void> {
    await deletePodsOn(steps, namespace, FAILED, selector);
    await kubectl(['rollout', 'status', rollout, '-n', namespace, '--timeout=180s']);
  }

  beforeAll(async () => {
    steps = quietSteps(testKubeconfig());
    const started = Date.now();
    const phases: string[] = [];
    const phase = (name: string): void => void phases.push(`${name} ${Date.now() - started} ms`);
    // Everything but the worker the node test moves there runs on the surviving node: cordoned first,
    // so what is installed now starts there, and what an earlier file left on FAILED is moved.
    await kubectl(['cordon', FAILED]);
    await installOperator(steps, 'capstan-system', [`image.repository=${OPERATOR_IMAGE.repository}`]);
    phase('operator');
    await deployUpstream(steps, upstreamObjects('default', IMAGE), 'default');
    phase('upstream');
    await moveOffFailed(
      'capstan-system',
      'app.kubernetes.io/name=capstan-operator',
      'deployment/capstan-operator',
    );
    await moveOffFailed('default', 'app.kubernetes.io/name=backend', 'deployment/backend');
    phase('moved off');
    await restrictedNamespace(steps, NAMESPACE);
    await applyApp(steps, join(repoRoot, 'examples', 'minimal.yaml'), NAMESPACE);
    // A long delay, so that only the operator's remediation moves partitions early.
    await patchApp({
      spec: { failurePolicy: { rebalanceDelaySeconds: 120, crashLoopRestartAfterSeconds: 15 } },
    });
    await waitAppReady(steps, NAMESPACE, APP);
    haproxy = (await appUrls(steps, NAMESPACE, APP, 'default')).haproxy;
    console.log(
      `${NAMESPACE}/${APP} Ready on ${SURVIVOR} in ${Date.now() - started} ms (${phases.join(', ')})`,
    );
  }, 600_000);

  afterEach(async () => {
    await running?.stop();
    running = undefined;
  });

  afterAll(async () => {
    if (nodeFailed) await restoreNode(testClusterDir(), FAILED);
    for (const node of [FAILED, SURVIVOR])
      await step(steps, 'kubectl', ['uncordon', node], { allowFailure: true });
    await step(steps, 'kubectl', ['delete', 'namespace', NAMESPACE, '--wait=false'], { allowFailure: true });
  }, 120_000);

  it('a crash-looping worker: its partitions move at once, Degraded and a Warning naming it, then its pod is recreated', async () => {
    const victim = `${APP}-worker-0`;
    const original = (await pod(victim))!;
    const observers = await observe('crash');
    const started = Date.now();
    const replaced = (p: PodJson | undefined) => p !== undefined && p.metadata.uid !== original.metadata.uid;
    const others = [`${APP}-worker-1`, `${APP}-worker-2`];
    // Watched from the first kill on: the operator may move and then delete at any kill from the second
    // (the kubelet backs off from then on), so the move is caught whenever it comes, with the pod that
    // was there right after it (the status is read first).
    const movedWhile = waitFor(
      'the crash-looping worker’s partitions on the others',
      async () => {
        const moved = await balancedOver(others);
        return moved && { moved, uid: (await pod(victim))?.metadata.uid, at: Date.now() };
      },
      300_000,
    );
    movedWhile.catch(() => undefined);
    // Up to three kills in a row: the kubelet restarts it, then backs off (CrashLoopBackOff). Once the
    // operator deleted the pod (only a crash-looping one), the loop is over.
    for (let kill = 1; kill <= 3; kill++) {
      const before = await waitFor(`${victim} running (kill ${kill})`, async () => {
        const now = await pod(victim);
        const state = workerState(now);
        if (replaced(now)) return 'replaced';
        return state?.state?.running !== undefined && state.containerID !== undefined ? state : undefined;
      });
      if (before === 'replaced') break;
      await killContainer(before.containerID!);
      if (kill === 3) break;
      const after = await waitFor(`${victim} restarted or replaced after kill ${kill}`, async () => {
        const now = await pod(victim);
        if (replaced(now)) return 'replaced';
        return (workerState(now)?.restartCount ?? 0) > before.restartCount ? 'restarted' : undefined;
      });
      if (after === 'replaced') break;
    }
    const { moved, uid: uidWhenMoved, at } = await movedWhile;
    const movedAfterMs = at - started;
    let degraded = false;
    const warning = await waitFor('a WorkerCrashLooping event', async () => {
      const status = (await app())?.status;
      degraded ||= status?.conditions?.some((c) => c.type === 'Degraded' && c.status === 'True') ?? false;
      const events = await eventsMatching(NAMESPACE, `reason=WorkerCrashLooping,involvedObject.name=${APP}`);
      return degraded ? events.find((e) => e.message.includes(victim)) : undefined;
    });
    const recreated = await waitFor(
      'the crash-looping pod deleted and recreated, Ready',
      async () => {
        const now = await pod(victim);
        const ready = now?.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
        return now !== undefined && now.metadata.uid !== original.metadata.uid && ready ? now : undefined;
      },
      180_000,
    );
    const rebalanced = await waitFor('balanced over all three workers again', () =>
      balancedOver([victim, ...others]),
    );
    const { load, owners } = await observers.stop();
    console.log(
      `crash loop of ${victim}: partitions moved ${movedAfterMs} ms after the first kill (${JSON.stringify(moved)}); ` +
        `event: "${warning.message}"; recreated as ${recreated.metadata.uid}; then ${JSON.stringify(rebalanced)}; ` +
        `GETs meanwhile: ${load.ok} ok, ${load.failed} failed ${JSON.stringify(Object.fromEntries(load.failures))}; ` +
        `${owners.rounds} ownership samples`,
    );
    // The move came before the deletion: the pod that owned nothing any more was still the original.
    expect(uidWhenMoved).toBe(original.metadata.uid);
    expect(warning.message).toMatch(/last exit: /);
    expect(owners.rounds).toBeGreaterThan(0);
    expect(owners.doubles).toEqual([]);
  }, 420_000);

  it('a failed node: the session expires and partitions move; the pod stays until forceDeletePodsOnFailedNodes, then comes back on the other node', async () => {
    const victim = `${APP}-worker-2`;
    // Put the victim, and only it, on the node that fails.
    await kubectl(['uncordon', FAILED]);
    await kubectl(['cordon', SURVIVOR]);
    await kubectl(['delete', 'pod', victim, '-n', NAMESPACE, '--wait=true']);
    const placed = await waitFor(`${victim} Ready on ${FAILED}`, async () => {
      const now = await pod(victim);
      const ready = now?.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      return ready && now?.spec.nodeName === FAILED ? now : undefined;
    });
    await kubectl(['uncordon', SURVIVOR]);
    const all = [`${APP}-worker-0`, `${APP}-worker-1`, victim];
    await waitFor('balanced over all three workers', () => balancedOver(all));
    const observers = await observe('node');
    const started = Date.now();
    await failNode(testClusterDir(), FAILED);
    nodeFailed = true;
    const others = all.filter((w) => w !== victim);
    const moved = await waitFor(
      'the failed worker’s partitions on the others',
      () => balancedOver(others),
      120_000,
    );
    const movedAfterMs = Date.now() - started;
    const warning = await waitFor(
      'a WorkerOnFailedNode event',
      async () => {
        const events = await eventsMatching(
          NAMESPACE,
          `reason=WorkerOnFailedNode,involvedObject.name=${APP}`,
        );
        return events.find((e) => e.message.includes(victim));
      },
      120_000,
    );
    // Without the opt-in the pod is left where it is.
    expect((await pod(victim))?.metadata.uid).toBe(placed.metadata.uid);
    await patchApp({ spec: { failurePolicy: { forceDeletePodsOnFailedNodes: true } } });
    const forced = await waitFor(
      'a PodForceDeleted event',
      async () => {
        const events = await eventsMatching(NAMESPACE, `reason=PodForceDeleted,involvedObject.name=${APP}`);
        return events.find((e) => e.message.includes(victim));
      },
      120_000,
    );
    const replaced = await waitFor(
      `${victim} recreated on ${SURVIVOR} and Ready`,
      async () => {
        const now = await pod(victim);
        const ready = now?.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
        return ready && now?.metadata.uid !== placed.metadata.uid && now?.spec.nodeName === SURVIVOR
          ? now
          : undefined;
      },
      180_000,
    );
    const rebalanced = await waitFor('balanced over all three workers again', () => balancedOver(all));
    const { load, owners } = await observers.stop();
    console.log(
      `${FAILED} failed under ${victim}: partitions moved ${movedAfterMs} ms after (${JSON.stringify(moved)}); ` +
        `"${warning.message}"; "${forced.message}"; back on ${replaced.spec.nodeName}: ${JSON.stringify(rebalanced)}; ` +
        `GETs meanwhile: ${load.ok} ok, ${load.failed} failed ${JSON.stringify(Object.fromEntries(load.failures))}; ` +
        `${owners.rounds} ownership samples`,
    );
    expect(owners.rounds).toBeGreaterThan(0);
    expect(owners.doubles).toEqual([]);
    await restoreNode(testClusterDir(), FAILED);
    nodeFailed = false;
  }, 600_000);
});
