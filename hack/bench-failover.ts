// `make bench-failover`: how long the partitions of a worker killed with -9 go unserved, on the real
// nodes, with the operator installed by helm and examples/minimal.yaml (3 workers, 64 partitions, the
// default 10 s ZooKeeper session timeout). Three cases, ROUNDS each (default 3):
//   restart       kill -9 of the worker container's process; the kubelet restarts it in its pod and the
//                 new process takes its partitions back (its incarnation proves the old one dead)
//   pod-deleted   the pod deleted and its worker process killed with -9 before it can drain: the API
//                 proves the process dead once the pod is gone, and the operator moves its partitions
//   node-failed   the worker's node failed (its kubelet stopped, its containers frozen): nothing proves
//                 the process dead, so its partitions move when its ZooKeeper session expires. Everything
//                 else (operator, ZooKeeper, Redis, HAProxy, the other workers) runs on the other node
// For each round: the time from the kill until every partition is served again, the partitions moved
// against the dead worker's share, GETs through HAProxy that failed meanwhile, and any partition two
// workers served at once. Timings are reported, not asserted. Reuses a running tmp/cluster, else starts
// one and stops it at the end.
import { join, resolve } from 'node:path';
import { failNode, restoreNode, stopLocalCluster } from './local-cluster/cluster.ts';
import { killContainer } from './local-cluster/containers.ts';
import {
  appPods,
  appUrls,
  applyApp,
  deletePodsOn,
  deployUpstream,
  waitAppReady,
  type PodJson,
} from './demo/app-steps.ts';
import { clusterForRun } from './demo/cluster-step.ts';
import {
  OPERATOR_IMAGE,
  getJson,
  installOperator,
  repoRoot,
  restrictedNamespace,
  step,
  upstreamObjects,
  waitFor,
  type Steps,
} from './demo/kube-steps.ts';
import { observeFailover, workerStatus } from './demo/owner-sampler.ts';
import { CAPSTAN_VERSION } from '../operator/src/api/limits.ts';

const clusterDir = resolve(process.env.CAPSTAN_STATE_DIR ?? join(repoRoot, 'tmp', 'cluster'));
const NAMESPACE = 'capstan-bench';
const APP = 'hello';
const PARTITIONS = 64;
const SESSION_TIMEOUT_MS = 10_000;
const IMAGE = `${OPERATOR_IMAGE.repository}:${CAPSTAN_VERSION}`;
const ROUNDS = Number(process.env.ROUNDS ?? '3');
const out = (text = ''): void => void process.stdout.write(`${text}\n`);

interface Round {
  failoverMs: number;
  /** Partitions served by another worker after the failover than before it. */
  moved: number;
  share: number;
  /** The victim's restart count before the kill: the kubelet delays a restart soon after another. */
  restartsBefore: number;
  ok: number;
  failed: number;
  failures: string;
  doubles: number;
}

type Case = 'restart' | 'pod-deleted' | 'node-failed';

/** Which worker serves each partition now, by what the workers at `ips` say (a dead one says nothing). */
async function servedBy(ips: (string | undefined)[]): Promise<Map<number, string>> {
  const served = new Map<number, string>();
  const known = ips.filter((ip): ip is string => ip !== undefined);
  for (const s of await Promise.all(known.map((ip) => workerStatus(`http://${ip}:8080`))))
    for (const p of s?.owned ?? []) served.set(p, s!.workerId);
  return served;
}

/** Polls `check` every 20 ms (finer than the failovers it times) for at most 60 s. */
async function pollUntil<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out after 60 s waiting for ${what}`);
}

function workerContainerId(pod: PodJson): string {
  const id = pod.status.containerStatuses?.find((c) => c.name === 'worker')?.containerID;
  if (id === undefined) throw new Error(`pod ${pod.metadata.name} has no running worker container`);
  return id;
}

/** Everything on `survivor` but the victim worker, which is recreated on `failed`; returns its pod. */
async function placeVictim(steps: Steps, victim: string, failed: string, survivor: string): Promise<PodJson> {
  await step(steps, 'kubectl', ['cordon', failed]);
  for (const ns of ['capstan-system', 'default', NAMESPACE]) await deletePodsOn(steps, ns, failed);
  for (const [ns, rollout] of [
    ['capstan-system', 'deployment/capstan-operator'],
    ['default', 'deployment/backend'],
  ] as const)
    await step(steps, 'kubectl', ['rollout', 'status', rollout, '-n', ns, '--timeout=180s']);
  await waitAppReady(steps, NAMESPACE, APP);
  await step(steps, 'kubectl', ['uncordon', failed]);
  await step(steps, 'kubectl', ['cordon', survivor]);
  await step(steps, 'kubectl', ['delete', 'pod', victim, '-n', NAMESPACE, '--wait=true']);
  try {
    return await waitFor(`${victim} Ready on ${failed}`, async () => {
      const pod = await getJson<PodJson>(steps, ['pod', victim, '-n', NAMESPACE]);
      const ready = pod?.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      return ready && pod?.spec.nodeName === failed ? pod : undefined;
    });
  } finally {
    await step(steps, 'kubectl', ['uncordon', survivor]);
  }
}

/**
 * A failed node under one worker: from the failure until the other workers serve every partition.
 * The node is brought back afterwards and the victim, whose session expired, rejoins.
 */
async function nodeRound(steps: Steps, haproxy: string, nodes: string[], index: number): Promise<Round> {
  const [survivor, failed] = nodes as [string, string];
  const victim = `${APP}-worker-${index % 3}`;
  const placed = await placeVictim(steps, victim, failed, survivor);
  const workers = await appPods(steps, NAMESPACE, APP, 'worker');
  const survivors = workers.filter((p) => p.metadata.name !== victim).map((p) => p.status.podIP);
  const before = await waitFor('every partition served before the round', async () => {
    const served = await servedBy(workers.map((p) => p.status.podIP));
    return served.size === PARTITIONS && [...served.values()].includes(victim) ? served : undefined;
  });
  const share = [...before.values()].filter((w) => w === victim).length;
  const observers = observeFailover({
    haproxy,
    prefix: `bench-node-${index}`,
    keys: 64,
    workerUrls: survivors.map((ip) => `http://${ip}:8080`),
  });
  const failedAt = Date.now();
  await failNode(clusterDir, failed);
  let after: Map<number, string>;
  try {
    // A frozen worker's address accepts connections and never answers: only the survivors are asked.
    after = await pollUntil(`the partitions of ${victim} served by the others`, async () => {
      const served = await servedBy(survivors);
      return served.size === PARTITIONS ? served : undefined;
    });
  } finally {
    await restoreNode(clusterDir, failed);
  }
  const failoverMs = Date.now() - failedAt;
  return finishRound(steps, observers, { failoverMs, before, after, share, victim: placed });
}

/** Stops the observers, waits for the app to be Ready again and sums the round up. */
async function finishRound(
  steps: Steps,
  observers: ReturnType<typeof observeFailover>,
  r: {
    failoverMs: number;
    before: Map<number, string>;
    after: Map<number, string>;
    share: number;
    victim: PodJson;
  },
): Promise<Round> {
  const { load: during, owners: sampled } = await observers.stop();
  await waitAppReady(steps, NAMESPACE, APP);
  return {
    failoverMs: r.failoverMs,
    moved: [...r.after].filter(([p, w]) => r.before.get(p) !== w).length,
    share: r.share,
    restartsBefore: r.victim.status.containerStatuses?.find((c) => c.name === 'worker')?.restartCount ?? 0,
    ok: during.ok,
    failed: during.failed,
    failures: JSON.stringify(Object.fromEntries(during.failures)),
    doubles: sampled.doubles.length,
  };
}

async function round(steps: Steps, haproxy: string, kind: Case, index: number): Promise<Round> {
  const workers = await appPods(steps, NAMESPACE, APP, 'worker');
  // The pods' addresses from before the kill: a restarted container keeps its pod's address, and after
  // a pod deletion the survivors serve every partition before the recreated pod (a new address) joins.
  const ips = workers.map((p) => p.status.podIP);
  const before = await waitFor('every partition served before the round', async () => {
    const served = await servedBy(ips);
    return served.size === PARTITIONS ? served : undefined;
  });
  const victim = workers[index % workers.length]!;
  const share = [...before.values()].filter((w) => w === victim.metadata.name).length;
  const observers = observeFailover({
    haproxy,
    prefix: `bench-${kind}-${index}`,
    keys: 64,
    workerUrls: workers.map((p) => `http://${p.status.podIP}:8080`),
  });
  if (kind === 'pod-deleted')
    await step(steps, 'kubectl', ['delete', 'pod', victim.metadata.name, '-n', NAMESPACE, '--wait=false']);
  const killedAt = Date.now();
  await killContainer(workerContainerId(victim));
  // Restart: the restarted worker serves its share again. Pod deleted: the survivors serve everything.
  // A deleted pod's address answers nothing (not even a refusal): asking it would stall each poll.
  const asked = kind === 'restart' ? ips : ips.filter((ip) => ip !== victim.status.podIP);
  const after = await pollUntil(`the partitions of ${victim.metadata.name} served again`, async () => {
    const served = await servedBy(asked);
    const victimShare = [...served.values()].filter((w) => w === victim.metadata.name).length;
    return served.size === PARTITIONS && (kind === 'pod-deleted' || victimShare === share)
      ? served
      : undefined;
  });
  const failoverMs = Date.now() - killedAt;
  return finishRound(steps, observers, { failoverMs, before, after, share, victim });
}

function report(kind: Case, rounds: Round[]): void {
  const times = rounds.map((r) => r.failoverMs).sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)] ?? 0;
  const ratios = rounds.map((r) =>
    r.moved === undefined || r.share === 0 ? 'n/a' : (r.moved / r.share).toFixed(2),
  );
  const failed = rounds.reduce((n, r) => n + r.failed, 0);
  const total = rounds.reduce((n, r) => n + r.ok + r.failed, 0);
  out(
    `${kind.padEnd(12)} failover median ${median} ms, max ${times.at(-1) ?? 0} ms ` +
      `(session timeout ${SESSION_TIMEOUT_MS} ms); moved/share ${ratios.join(' ')}; ` +
      `failed GETs ${failed} of ${total}; double owners seen ${rounds.reduce((n, r) => n + r.doubles, 0)}`,
  );
}

async function main(): Promise<void> {
  const { state, started } = await clusterForRun(clusterDir, out);
  const steps: Steps = { kubeconfig: state.kubeconfig, print: () => undefined };
  try {
    await installOperator(steps, 'capstan-system', [`image.repository=${OPERATOR_IMAGE.repository}`]);
    await deployUpstream(steps, upstreamObjects('default', IMAGE), 'default');
    await restrictedNamespace(steps, NAMESPACE);
    await applyApp(steps, join(repoRoot, 'examples', 'minimal.yaml'), NAMESPACE);
    await waitAppReady(steps, NAMESPACE, APP);
    const { haproxy } = await appUrls(steps, NAMESPACE, APP, 'default');
    out(
      `${ROUNDS} rounds per case on ${state.realNodes.join(' and ')}; ${PARTITIONS} partitions over 3 workers`,
    );
    for (const kind of ['restart', 'pod-deleted', 'node-failed'] as const) {
      const rounds: Round[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        const r =
          kind === 'node-failed'
            ? await nodeRound(steps, haproxy, state.realNodes, i)
            : await round(steps, haproxy, kind, i);
        out(
          `  ${kind} #${i + 1}: ${r.failoverMs} ms (restarts before ${r.restartsBefore}), moved ${r.moved} of a share of ${r.share}, ` +
            `GETs ${r.ok} ok ${r.failed} failed ${r.failures}`,
        );
        rounds.push(r);
      }
      report(kind, rounds);
    }
  } finally {
    await step(steps, 'kubectl', ['delete', 'namespace', NAMESPACE, '--wait=false'], { allowFailure: true });
    if (started) await stopLocalCluster(clusterDir);
  }
}

await main();
