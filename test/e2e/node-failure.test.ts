/**
 * A real node of the local cluster failed for real (its kubelet stopped, its containers frozen) and
 * brought back: the node controller marks it NotReady, taint eviction deletes its pods and their
 * ReplicaSet replaces them on the other node; once restored, the node is Ready again and its
 * kubelet finishes the deletion. Timings are printed, never asserted.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { failNode, restoreNode } from '../../hack/local-cluster/cluster.ts';
import type { PodJson } from '../../hack/demo/app-steps.ts';
import {
  OPERATOR_IMAGE,
  RESTRICTED_CONTAINER,
  restrictedDeployment,
  applyObjects,
  getJson,
  quietSteps,
  step,
  waitFor,
  type Steps,
} from '../../hack/demo/kube-steps.ts';
import { CAPSTAN_VERSION } from '../../operator/src/api/limits.ts';
import { createNamespace, testClusterDir, testKubeconfig } from '../harness/kube.ts';

const FAILED = 'capstan-node-1';
const SURVIVOR = 'capstan-node-0';

interface NodeJson {
  status: { conditions: { type: string; status: string }[] };
  spec: { taints?: { key: string; effect: string }[]; unschedulable?: boolean };
}

/** Ready, not cordoned and without a NoSchedule taint: a pod that prefers it is placed there. */
function schedulable(node: NodeJson | undefined): boolean {
  const blocked =
    node?.spec.unschedulable === true || node?.spec.taints?.some((t) => t.effect === 'NoSchedule');
  return nodeReady(node) === 'True' && !blocked;
}

function nodeReady(node: NodeJson | undefined): string | undefined {
  return node?.status.conditions.find((c) => c.type === 'Ready')?.status;
}

function sleeper(namespace: string): object {
  return restrictedDeployment(
    { name: 'sleeper', namespace, labels: { app: 'sleeper' } },
    {
      // Start on the node that will fail; the replacement may go anywhere.
      affinity: {
        nodeAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            {
              weight: 100,
              preference: {
                matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [FAILED] }],
              },
            },
          ],
        },
      },
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: 'sleeper',
          image: `${OPERATOR_IMAGE.repository}:${CAPSTAN_VERSION}`,
          command: ['sleep', 'infinity'],
          securityContext: RESTRICTED_CONTAINER,
        },
      ],
    },
  );
}

describe('a real node failed for real', () => {
  let steps: Steps;
  let namespace: string;
  let failed = false;

  beforeAll(async () => {
    steps = quietSteps(testKubeconfig());
    namespace = await createNamespace('e2e-node');
    // An earlier suite may have failed and restored this node just now: wait until it takes pods again.
    await waitFor(`${FAILED} schedulable`, async () =>
      schedulable(await getJson<NodeJson>(steps, ['node', FAILED])) ? true : undefined,
    );
  }, 180_000);

  afterAll(async () => {
    if (failed) await restoreNode(testClusterDir(), FAILED);
    await waitFor(`${FAILED} Ready`, async () =>
      nodeReady(await getJson<NodeJson>(steps, ['node', FAILED])) === 'True' ? true : undefined,
    );
    await step(steps, 'kubectl', ['delete', 'namespace', namespace, '--wait=false'], { allowFailure: true });
  }, 120_000);

  it('turns NotReady, has its pod evicted and replaced on the other node, and comes back Ready', async () => {
    await applyObjects(steps, [sleeper(namespace)], 'sleeper.yaml');
    await step(steps, 'kubectl', [
      'rollout',
      'status',
      '-n',
      namespace,
      'deployment/sleeper',
      '--timeout=120s',
    ]);
    const pods = async (): Promise<PodJson[]> =>
      (await getJson<{ items: PodJson[] }>(steps, ['pods', '-n', namespace]))?.items ?? [];
    const [original] = await pods();
    expect(original?.spec.nodeName).toBe(FAILED);

    const started = Date.now();
    await failNode(testClusterDir(), FAILED);
    failed = true;
    await waitFor(`${FAILED} NotReady`, async () =>
      nodeReady(await getJson<NodeJson>(steps, ['node', FAILED])) !== 'True' ? true : undefined,
    );
    const notReadyMs = Date.now() - started;
    const replacement = await waitFor(
      'a replacement pod Ready on the surviving node',
      async () => {
        const now = await pods();
        return now.find(
          (p) =>
            p.metadata.uid !== original!.metadata.uid &&
            p.spec.nodeName === SURVIVOR &&
            p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
        );
      },
      90_000,
    );
    const replacedMs = Date.now() - started;
    const evicted = (await pods()).find((p) => p.metadata.uid === original!.metadata.uid);
    // The frozen kubelet cannot confirm the deletion: the evicted pod stays Terminating until it is back.
    expect(evicted?.metadata.deletionTimestamp).toBeDefined();
    expect(replacement.spec.nodeName).toBe(SURVIVOR);

    await restoreNode(testClusterDir(), FAILED);
    failed = false;
    await waitFor(`${FAILED} Ready again`, async () =>
      nodeReady(await getJson<NodeJson>(steps, ['node', FAILED])) === 'True' ? true : undefined,
    );
    await waitFor('the evicted pod removed once its kubelet is back', async () =>
      (await pods()).some((p) => p.metadata.uid === original!.metadata.uid) ? undefined : true,
    );
    console.log(
      `${FAILED} NotReady ${notReadyMs} ms after the failure; replacement Ready on ${SURVIVOR} after ${replacedMs} ms`,
    );
  }, 240_000);
});
