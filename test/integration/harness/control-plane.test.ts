import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createNamespace, kubectl, waitFor } from '../../harness/kube.ts';

// The local control plane is real: kube-apiserver on etcd, the controller manager's
// ReplicaSet, taint-eviction and garbage-collector controllers, the scheduler, and kwok
// playing the kubelet's part for fake nodes.

interface PodList {
  items: {
    metadata: { name: string; uid: string; deletionTimestamp?: string };
    spec: { nodeName?: string };
    status: { phase?: string; conditions?: { type: string; status: string }[] };
  }[];
}

const isReady = (p: PodList['items'][number]): boolean =>
  p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

function deployment(name: string, replicas: number, tolerationSeconds?: number): string {
  const tolerations =
    tolerationSeconds === undefined
      ? []
      : ['not-ready', 'unreachable'].map((t) => ({
          key: `node.kubernetes.io/${t}`,
          operator: 'Exists',
          effect: 'NoExecute',
          tolerationSeconds,
        }));
  return JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'main', image: 'example/fake:1' }], tolerations },
      },
    },
  });
}

describe('local control plane', () => {
  let ns: string;
  const pods = async (app: string): Promise<PodList['items']> =>
    (
      JSON.parse(
        (await kubectl(['-n', ns, 'get', 'pods', '-l', `app=${app}`, '-o', 'json'])).stdout,
      ) as PodList
    ).items;
  const readyPods = (app: string, count: number) =>
    waitFor(`${count} ready pods of ${app}`, async () => {
      const ready = (await pods(app)).filter((p) => isReady(p) && !p.metadata.deletionTimestamp);
      return ready.length === count ? ready : undefined;
    });

  beforeAll(async () => {
    ns = await createNamespace('harness');
  });
  afterAll(async () => {
    await kubectl(['delete', 'namespace', ns, '--wait=false']);
  });

  it('reports the real Kubernetes version and has Ready kwok nodes', async () => {
    const version = JSON.parse((await kubectl(['version', '-o', 'json'])).stdout) as {
      serverVersion: { gitVersion: string };
    };
    expect(version.serverVersion.gitVersion).toMatch(/^v1\.\d+\.\d+/);
    const nodes = await waitFor('3 ready nodes', async () => {
      const out = await kubectl([
        'get',
        'nodes',
        '-o',
        'jsonpath={.items[*].status.conditions[?(@.type=="Ready")].status}',
      ]);
      const statuses = out.stdout.split(' ').filter(Boolean);
      return statuses.length >= 3 && statuses.every((s) => s === 'True') ? statuses : undefined;
    });
    expect(nodes.length).toBeGreaterThanOrEqual(3);
  });

  it('schedules a Deployment onto kwok nodes whose pods become Ready', async () => {
    await kubectl(['-n', ns, 'apply', '-f', '-'], { input: deployment('web', 3) });
    const ready = await readyPods('web', 3);
    for (const p of ready) expect(p.spec.nodeName).toMatch(/^kwok-node-/);
  });

  it('reports a running pod Ready again after it was marked NotReady as for a stale node lease', async () => {
    await kubectl(['-n', ns, 'apply', '-f', '-'], { input: deployment('stale', 1) });
    const [pod] = await readyPods('stale', 1);
    // What the node lifecycle controller writes when a node's lease went stale (MarkPodsNotReady).
    await kubectl([
      '-n',
      ns,
      'patch',
      'pod',
      pod!.metadata.name,
      '--subresource=status',
      '-p',
      JSON.stringify({ status: { conditions: [{ type: 'Ready', status: 'False' }] } }),
    ]);
    const [again] = await readyPods('stale', 1);
    expect(again!.metadata.uid).toBe(pod!.metadata.uid);
  });

  it('replaces a pod failed by the container-failed chaos stage', async () => {
    await kubectl(['-n', ns, 'apply', '-f', '-'], { input: deployment('crashy', 2) });
    const [victim] = await readyPods('crashy', 2);
    await kubectl(['-n', ns, 'label', 'pod', victim!.metadata.name, 'capstan.dev/chaos=container-failed']);
    await waitFor('the labelled pod to fail', async () => {
      const p = (await pods('crashy')).find((x) => x.metadata.uid === victim!.metadata.uid);
      return p?.status.phase === 'Failed' ? p : undefined;
    });
    const replacements = await readyPods('crashy', 2);
    expect(replacements.map((p) => p.metadata.uid)).not.toContain(victim!.metadata.uid);
  });

  it('evicts pods from a node made NotReady', async () => {
    await kubectl(['-n', ns, 'apply', '-f', '-'], { input: deployment('evictee', 3, 1) });
    const ready = await readyPods('evictee', 3);
    const node = ready[0]!.spec.nodeName!;
    const onNode = ready.filter((p) => p.spec.nodeName === node).map((p) => p.metadata.uid);
    try {
      await kubectl(['label', 'node', node, 'capstan.dev/chaos=node-not-ready']);
      const after = await waitFor(
        `pods to leave ${node}`,
        async () => {
          const current = (await pods('evictee')).filter((p) => isReady(p) && !p.metadata.deletionTimestamp);
          const gone = onNode.every((uid) => !current.some((p) => p.metadata.uid === uid));
          return gone && current.length === 3 ? current : undefined;
        },
        120_000,
      );
      for (const p of after) expect(p.spec.nodeName).not.toBe(node);
    } finally {
      await kubectl(['label', 'node', node, 'capstan.dev/chaos-']);
    }
  });

  it('garbage-collects dependents when their owner is deleted', async () => {
    await kubectl(['-n', ns, 'apply', '-f', '-'], { input: deployment('owned', 2) });
    await readyPods('owned', 2);
    await kubectl(['-n', ns, 'delete', 'deployment', 'owned', '--cascade=background', '--wait=false']);
    await waitFor('replicasets and pods of a deleted deployment to go', async () => {
      const rs = await kubectl(['-n', ns, 'get', 'replicasets', '-l', 'app=owned', '-o', 'name']);
      const left = await pods('owned');
      return rs.stdout.trim() === '' && left.length === 0 ? true : undefined;
    });
  });
});
