/**
 * A ZooKeeper that stops answering, on the real nodes: the server process of the one member of
 * examples/minimal.yaml is stopped (SIGSTOP: it keeps its port, the kernel still accepts connections,
 * nothing answers them), so its `ruok` exec probe fails and its pod turns NotReady. (Freezing the whole
 * container would not do: runc refuses to exec into a frozen container and the kubelet takes that for
 * an unknown probe result, not a failure.) The operator's coordinator of the app loses its session and
 * must not spend connection attempts on an ensemble without a Ready quorum; once the member is Ready
 * again it dials at once. The attempts are read from the operator's
 * `capstan_coordinator_connection_attempts_total`. Then every partition must be owned again; how long
 * that took is printed. Timings are printed, never asserted.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  appPods,
  applyApp,
  deployUpstream,
  podReady,
  waitAppReady,
  type PodJson,
} from '../../hack/demo/app-steps.ts';
import { workerStatus } from '../../hack/demo/owner-sampler.ts';
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
import { containerMainPid } from '../../hack/local-cluster/containers.ts';
import { CAPSTAN_VERSION } from '../../operator/src/api/limits.ts';
import { testKubeconfig } from '../harness/kube.ts';

const NAMESPACE = 'e2e-zookeeper';
const OPERATOR_NAMESPACE = 'capstan-system';
const APP = 'hello';
const MEMBER = `${APP}-zookeeper-0`;
const IMAGE = `${OPERATOR_IMAGE.repository}:${CAPSTAN_VERSION}`;
/**
 * How long the member stays NotReady while attempts are counted. Without the readiness gate the
 * coordinator's backoff (1 s doubling) would dial about 31 s after losing its session, inside this
 * window (it opens about 5 s after the loss). Kept short of the liveness probe (3 failures 30 s apart,
 * then the kubelet's kill): a longer stop raced the kubelet restarting the stopped container.
 */
const HELD_MS = 40_000;
/** Two syncs of the operator's coordinator set (every 2 s) for it to see the pod NotReady. */
const OPERATOR_SEES_MS = 5_000;

interface AppJson {
  status?: {
    partitions?: { count?: number; owned?: number; byWorker?: Record<string, number> };
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}

/** The value of `metric` for this test's app in a Prometheus text page, 0 without the series. */
function sample(text: string, metric: string): number {
  const prefix = `${metric}{namespace="${NAMESPACE}",app="${APP}"} `;
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? 0 : Number(line.slice(prefix.length));
}

/** SIGCONT; a process already gone (the kubelet's liveness probe restarted its container) is fine. */
function continueProcess(pid: number): void {
  try {
    process.kill(pid, 'SIGCONT');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

describe('a ZooKeeper member that is not Ready', () => {
  let steps: Steps;
  /** The stopped ZooKeeper server's host pid, until it is continued. */
  let stopped: number | undefined;

  const memberPod = (): Promise<PodJson | undefined> =>
    getJson<PodJson>(steps, ['pod', MEMBER, '-n', NAMESPACE]);

  /** Attempts and the connected gauge of the app's coordinator, summed over both operator pods. */
  async function coordinator(): Promise<{ attempts: number; connected: number }> {
    const list = await getJson<{ items: PodJson[] }>(steps, ['pods', '-n', OPERATOR_NAMESPACE]);
    let attempts = 0;
    let connected = 0;
    for (const pod of list?.items ?? []) {
      if (pod.status.podIP === undefined || pod.metadata.deletionTimestamp !== undefined) continue;
      const text = await (await fetch(`http://${pod.status.podIP}:8080/metrics`)).text();
      attempts += sample(text, 'capstan_coordinator_connection_attempts_total');
      connected += sample(text, 'capstan_coordinator_connected');
    }
    return { attempts, connected };
  }

  /** Each worker pod's readiness and what it says it owns (`/_capstan/status`). */
  async function workers(): Promise<object[]> {
    const pods = await appPods(steps, NAMESPACE, APP, 'worker');
    return Promise.all(
      pods.map(async (p) => ({
        pod: p.metadata.name,
        ready: podReady(p),
        restarts: p.status.containerStatuses?.[0]?.restartCount,
        owned: (await workerStatus(`http://${p.status.podIP}:8080`))?.owned.length,
      })),
    );
  }

  beforeAll(async () => {
    steps = quietSteps(testKubeconfig());
    await installOperator(steps, OPERATOR_NAMESPACE, [`image.repository=${OPERATOR_IMAGE.repository}`]);
    await deployUpstream(steps, upstreamObjects('default', IMAGE), 'default');
    await restrictedNamespace(steps, NAMESPACE);
    await applyApp(steps, join(repoRoot, 'examples', 'minimal.yaml'), NAMESPACE);
    await waitAppReady(steps, NAMESPACE, APP);
  }, 600_000);

  afterAll(async () => {
    if (stopped !== undefined) continueProcess(stopped);
    await step(steps, 'kubectl', ['delete', 'namespace', NAMESPACE, '--wait=false'], { allowFailure: true });
  });

  it('gets no connection attempts from the operator while NotReady, and one as soon as it is Ready again', async () => {
    await waitFor('the coordinator connected', async () =>
      (await coordinator()).connected === 1 ? true : undefined,
    );
    const container = (await memberPod())?.status.containerStatuses?.find(
      (c) => c.name === 'zookeeper',
    )?.containerID;
    expect(container).toBeDefined();
    const start = Date.now();
    const pid = await containerMainPid(container!);
    process.kill(pid, 'SIGSTOP');
    stopped = pid;
    await waitFor('the member NotReady', async () => (podReady(await memberPod()) ? undefined : true));
    const notReady = Date.now() - start;
    await waitFor('the coordinator disconnected', async () =>
      (await coordinator()).connected === 0 ? true : undefined,
    );
    await sleep(OPERATOR_SEES_MS);
    const held = (await coordinator()).attempts;
    await sleep(HELD_MS);
    const afterHold = (await coordinator()).attempts;

    continueProcess(pid);
    stopped = undefined;
    const continued = Date.now();
    await waitFor('the member Ready again', async () => (podReady(await memberPod()) ? true : undefined));
    const readyAgain = Date.now() - continued;
    const reconnected = await waitFor('the coordinator connected again', async () => {
      const now = await coordinator();
      return now.connected === 1 ? now : undefined;
    });
    const connectedAgain = Date.now() - continued;
    console.log(
      `ZooKeeper stopped: NotReady after ${notReady} ms; attempts ${held} -> ${afterHold} over ${HELD_MS} ms ` +
        `NotReady; continued: Ready after ${readyAgain} ms, coordinator connected after ${connectedAgain} ms ` +
        `(attempts ${reconnected.attempts})`,
    );
    expect(afterHold).toBe(held);
    expect(reconnected.attempts).toBeGreaterThan(held);
    // Then the workers: their sessions may have expired meanwhile; they join again and claim. Every
    // partition must be owned again (how long it took is printed). What they said they owned is
    // part of the failure message.
    const recovery = await waitFor(
      'every partition owned again',
      async () => {
        const partitions = (await getJson<AppJson>(steps, ['dapp', APP, '-n', NAMESPACE]))?.status
          ?.partitions;
        return partitions?.owned !== undefined && partitions.owned === partitions.count
          ? `${partitions.owned} of ${partitions.count} partitions owned ${Date.now() - continued} ms after`
          : undefined;
      },
      120_000,
    ).catch(async () => {
      const status = (await getJson<AppJson>(steps, ['dapp', APP, '-n', NAMESPACE]))?.status;
      throw new Error(
        `not every partition owned 120 s after ZooKeeper continued: app status ${JSON.stringify(status)}; ` +
          `workers ${JSON.stringify(await workers())}`,
      );
    });
    console.log(recovery);
  }, 420_000);
});
