// `make demo`: Capstan on a real local Kubernetes cluster, in one command. Every command it runs is
// printed, so a Kubernetes user can follow it and repeat it by hand:
//   1. the local cluster (tmp/cluster, reused when it runs): control plane, 2 real nodes
//   2. the project's images, built from its Dockerfiles and pushed to the cluster's local registry
//   3. helm install of charts/capstan: the operator as real pods (two replicas, leader election)
//   4. a tiny upstream and examples/minimal.yaml in a namespace that enforces Pod Security restricted
//   5. requests through the app's HAProxy Service from this machine; the upstream's fetch counts
//   6. kill -9 of a worker container's process: the kubelet restarts it while the app keeps serving
//   7. kubectl scale dapp to 2 workers: the partitions leave the worker that goes before its pod stops
//   8. the operator's metrics
// At the end the demo stops the cluster it started (a cluster it reused keeps running);
// DEMO_KEEP=1 leaves everything running and prints the commands to explore it.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stopLocalCluster, type LocalClusterState } from './local-cluster/cluster.ts';
import { logTail } from './local-cluster/detached.ts';
import { clusterForRun } from './demo/cluster-step.ts';
import { toolsBin } from './local-cluster/tools.ts';
import {
  appPods,
  appUrls,
  applyApp,
  burst,
  deployUpstream,
  killWorkerContainer,
  waitAppReady,
  type BurstReport,
} from './demo/app-steps.ts';
import {
  OPERATOR_IMAGE,
  installOperator,
  repoRoot,
  restrictedNamespace,
  getJson,
  waitFor,
  serviceUrl,
  step,
  upstreamObjects,
  type Steps,
} from './demo/kube-steps.ts';
import { CAPSTAN_VERSION } from '../operator/src/api/limits.ts';
import { runLoad } from '../workload/src/local/load.ts';

const clusterDir = resolve(process.env.CAPSTAN_STATE_DIR ?? join(repoRoot, 'tmp', 'cluster'));
const NAMESPACE = 'capstan-demo';
const OPERATOR_NAMESPACE = 'capstan-system';
const UPSTREAM_NAMESPACE = 'default';
const EXAMPLE = join(repoRoot, 'examples', 'minimal.yaml');
const IMAGE = `${OPERATOR_IMAGE.repository}:${CAPSTAN_VERSION}`;
const keep = process.env.DEMO_KEEP === '1';

const out = (text = ''): void => void process.stdout.write(`${text}\n`);
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
let section = 0;
function header(title: string): void {
  out(`\n${'='.repeat(8)} ${++section}. ${title} ${'='.repeat(Math.max(4, 70 - title.length))}`);
}

/** Runs a step, printing its output indented. */
async function shown(steps: Steps, tool: 'kubectl' | 'helm', args: string[]): Promise<string> {
  const result = await step(steps, tool, args);
  const text = result.stdout.trimEnd();
  if (text !== '') out(text.replace(/^/gm, '  '));
  return text;
}

/** Set when the demo started the cluster (and so stops it at the end unless DEMO_KEEP=1). */
let startedCluster = false;

/** Reuses the cluster in tmp/cluster when all of it runs with real nodes, else starts it there. */
async function cluster(): Promise<LocalClusterState> {
  header('A local Kubernetes cluster with real nodes');
  const { state, started } = await clusterForRun(clusterDir, out);
  startedCluster = started;
  return state;
}

async function operator(steps: Steps): Promise<void> {
  header('helm install: the operator as real pods');
  const started = Date.now();
  await installOperator(steps, OPERATOR_NAMESPACE, [`image.repository=${OPERATOR_IMAGE.repository}`]);
  out(`Installed and Ready in ${seconds(Date.now() - started)}.`);
  await shown(steps, 'kubectl', ['get', 'pods', '-n', OPERATOR_NAMESPACE, '-o', 'wide']);
}

async function app(steps: Steps): Promise<{ haproxy: string; upstream: string }> {
  header('kubectl apply: examples/minimal.yaml on the real nodes');
  await deployUpstream(steps, upstreamObjects(UPSTREAM_NAMESPACE, IMAGE), UPSTREAM_NAMESPACE);
  await restrictedNamespace(steps, NAMESPACE);
  const started = Date.now();
  const applied = await applyApp(steps, EXAMPLE, NAMESPACE);
  const live = await waitAppReady(steps, NAMESPACE, applied.metadata.name);
  out(`Ready ${seconds(Date.now() - started)} after apply: phase ${live.status?.phase}.`);
  await shown(steps, 'kubectl', ['get', 'dapp,pods', '-n', NAMESPACE, '-o', 'wide']);
  return appUrls(steps, NAMESPACE, applied.metadata.name, UPSTREAM_NAMESPACE);
}

function describeBurst(report: BurstReport): string {
  const failures =
    report.load.failed > 0 ? ` ${JSON.stringify(Object.fromEntries(report.load.failures))}` : '';
  return (
    `  ${report.load.ok} ok, ${report.load.failed} failed${failures}; the upstream has fetched these ` +
    `${report.keys.length} keys ${report.upstreamFetches} times in all (at most ${report.maxFetchesPerKey} per key)`
  );
}

async function requests(urls: { haproxy: string; upstream: string }): Promise<void> {
  header('Requests through the HAProxy Service');
  out(`$ curl -s ${urls.haproxy}/v1/cache/demo-0     # and 199 more over 50 keys, 16 at a time`);
  const first = await burst(urls, { prefix: 'demo', requests: 200, keys: 50 });
  out(describeBurst(first));
  out(`$ curl -s ${urls.upstream}/_fetches          # the upstream counts each fetch per key`);
  out('The same 200 requests again: all cache hits, so the upstream counts stay the same.');
  const second = await burst(urls, { prefix: 'demo', requests: 200, keys: 50 });
  out(describeBurst(second));
}

async function failure(steps: Steps, urls: { haproxy: string; upstream: string }): Promise<void> {
  header('kill -9 of a worker container: the kubelet restarts it');
  const [victim] = await appPods(steps, NAMESPACE, 'hello', 'worker');
  if (!victim) throw new Error('no worker pod found');
  let stop = false;
  const load = runLoad({
    url: (i) => `${urls.haproxy}/v1/cache/during-${i % 20}`,
    concurrency: 4,
    total: 100_000,
    maxMs: 180_000,
    stop: () => stop,
  });
  const kill = await killWorkerContainer(steps, NAMESPACE, victim.metadata.name).finally(() => (stop = true));
  const during = await load;
  out(
    `  ${kill.pod} on ${kill.node}: exit code ${kill.exitCode}, restartCount ${kill.restartsBefore} -> ${kill.restartsAfter}, Ready again`,
  );
  out(
    `  GETs through HAProxy meanwhile: ${during.ok} ok, ${during.failed} failed ${JSON.stringify(Object.fromEntries(during.failures))}`,
  );
  await shown(steps, 'kubectl', ['get', 'pod', kill.pod, '-n', NAMESPACE]);
}

/** `kubectl scale dapp` 3 -> 2 under load: the drain moves partitions first, then the pod stops. */
async function scaleDown(steps: Steps, urls: { haproxy: string; upstream: string }): Promise<void> {
  header('kubectl scale: partitions leave the worker that goes before its pod stops');
  let stop = false;
  const load = runLoad({
    url: (i) => `${urls.haproxy}/v1/cache/scale-${i % 20}`,
    concurrency: 4,
    total: 100_000,
    maxMs: 180_000,
    stop: () => stop,
  });
  await (async () => {
    await shown(steps, 'kubectl', ['scale', 'dapp', 'hello', '-n', NAMESPACE, '--replicas=2']);
    await waitFor('two workers serving every partition', async () => {
      const app = await getJson<{ status?: { partitions?: { owned?: number } } }>(steps, [
        'dapp',
        'hello',
        '-n',
        NAMESPACE,
      ]);
      const pods = await appPods(steps, NAMESPACE, 'hello', 'worker');
      return pods.length === 2 && app?.status?.partitions?.owned === 64 ? true : undefined;
    });
  })().finally(() => (stop = true));
  const during = await load;
  out(`  GETs through HAProxy meanwhile: ${during.ok} ok, ${during.failed} failed`);
  await shown(steps, 'kubectl', ['get', 'dapp', 'hello', '-n', NAMESPACE]);
  const events = await step(steps, 'kubectl', [
    'get',
    'events',
    '-n',
    NAMESPACE,
    '--field-selector',
    'involvedObject.name=hello',
    '-o',
    'custom-columns=REASON:.reason,MESSAGE:.message',
  ]);
  out(
    events.stdout
      .split('\n')
      .filter((l) => /^(REASON|Rebalanced|DrainStarted|DrainFinished)/.test(l))
      .map((l) => `  ${l}`)
      .join('\n'),
  );
}

/** The leading operator pod, from its Lease: `holderIdentity` is `<pod name>_<random>`. */
async function leaderPod(steps: Steps): Promise<{ name: string; ip: string }> {
  const lease = await getJson<{ spec?: { holderIdentity?: string } }>(steps, [
    'lease',
    'capstan-operator',
    '-n',
    OPERATOR_NAMESPACE,
  ]);
  const name = lease?.spec?.holderIdentity?.replace(/_[^_]*$/, '') ?? '';
  const pod = await getJson<{ status?: { podIP?: string } }>(steps, ['pod', name, '-n', OPERATOR_NAMESPACE]);
  if (pod?.status?.podIP === undefined)
    throw new Error(`the operator's Lease names no running pod (${name})`);
  return { name, ip: pod.status.podIP };
}

async function metrics(steps: Steps): Promise<void> {
  header("The leading operator's metrics");
  await shown(steps, 'kubectl', ['get', 'lease', 'capstan-operator', '-n', OPERATOR_NAMESPACE]);
  const leader = await leaderPod(steps);
  const url = `http://${leader.ip}:8080/metrics`;
  const names =
    /^(controller_runtime_reconcile_total|workqueue_depth|capstan_rebalances_total|capstan_partitions_moved_total)\{/;
  out(
    `$ curl -s ${url} | grep -E '^(controller_runtime_reconcile_total|workqueue_depth|capstan_rebalances_total|capstan_partitions_moved_total)'`,
  );
  const text = await (await fetch(url)).text();
  out(
    text
      .split('\n')
      .filter((l) => names.test(l))
      .map((l) => `  ${l}`)
      .join('\n'),
  );
  const service = await serviceUrl(steps, OPERATOR_NAMESPACE, 'capstan-operator-metrics');
  out(`(The Service ${service}/metrics reaches either replica; the standby reports an idle queue.)`);
}

function explore(state: LocalClusterState, urls: { haproxy: string; upstream: string }): void {
  header(
    keep || !startedCluster ? 'Left running: explore it' : 'Explore it (with DEMO_KEEP=1 it stays running)',
  );
  out(`  export KUBECONFIG=${state.kubeconfig} PATH=${toolsBin()}:$PATH`);
  out('  kubectl get nodes -o wide');
  out(`  kubectl get dapp,pods -n ${NAMESPACE} -o wide`);
  out(`  curl -s ${urls.haproxy}/v1/cache/anything`);
  out(`  kubectl logs -n ${NAMESPACE} hello-worker-0 --previous`);
  out(`  kubectl logs -n ${OPERATOR_NAMESPACE} deploy/capstan-operator`);
  out(`Component logs: ${join(state.dir, 'logs')}; \`make cluster-down\` stops the cluster.`);
}

async function finish(): Promise<void> {
  if (!startedCluster || keep) return;
  header('Stopping the cluster the demo started (DEMO_KEEP=1 leaves it running)');
  out('$ make cluster-down');
  await stopLocalCluster(clusterDir);
  out('Stopped: processes, mounts, cgroups and network of the cluster are gone.');
}

async function flow(): Promise<void> {
  const started = Date.now();
  const state = await cluster();
  const steps: Steps = { kubeconfig: state.kubeconfig, print: out };
  await shown(steps, 'kubectl', ['get', 'nodes', '-o', 'wide']);
  await operator(steps);
  const urls = await app(steps);
  await requests(urls);
  await failure(steps, urls);
  await scaleDown(steps, urls);
  await metrics(steps);
  explore(state, urls);
  out(`\nThe demo took ${seconds(Date.now() - started)}.`);
}

function failureLogs(): string {
  const logs = ['kube-apiserver', 'capstan-node-0-kubelet', 'capstan-node-1-kubelet', 'images']
    .map((c) => join(clusterDir, 'logs', `${c}.log`))
    .filter((log) => existsSync(log));
  return logs.map((log) => `--- last lines of ${log}\n${logTail(log, 12)}`).join('\n');
}

try {
  await flow();
} catch (error) {
  out(`\nDEMO FAILED: ${error instanceof Error ? error.message : String(error)}`);
  out(failureLogs());
  process.exitCode = 1;
} finally {
  await finish();
}
