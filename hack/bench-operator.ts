#!/usr/bin/env node
/**
 * Operator benchmark (a script, not a test). On a fresh local control plane (or $KUBECONFIG with
 * --kubeconfig), it creates N DistributedApps at once and reports:
 *  - time until all are Ready, against the time to apply the same rendered objects directly (the same
 *    server-side applies, same concurrency, no operator) until all their workloads are ready: the ratio.
 *    The direct run's namespace is deleted (and waited for) before the operator's run starts;
 *  - the operator's peak RSS;
 *  - API requests per reconcile and writes per app;
 *  - write requests during --steady-seconds of steady state (should be 0);
 *  - with the coordinators on (the default), how many apps' status says ZooKeeper cannot be reached: the
 *    apps' ensembles are kwok pods, so every coordinator's connection attempt fails and backs off. They
 *    reach the ensembles through the API server's port-forward (`--zookeeper-access=port-forward`), which
 *    dials the kwok nodes' address, 127.0.0.1, where nothing listens;
 *  - RSS idle (leading, no app), after convergence and after the steady state, and the per-app growth;
 *  - with --heap-snapshot, a heap snapshot after the steady state and its largest constructors;
 *  - with --cpu-prof, the operator's CPU profile (tmp/bench-operator-prof, written when it exits).
 * The operator runs compiled, as in the image (`make build`; --sources runs the TypeScript sources), with
 * the chart's runtime settings (`runtime` in charts/capstan/values.yaml: NODE_OPTIONS
 * and MALLOC_ARENA_MAX) and the heap limit Node takes from the chart's memory limit, as installed;
 * `--chart-runtime false` runs it with Node's and glibc's defaults for this host.
 *
 *   node hack/bench-operator.ts [--apps 100] [--concurrency 4] [--steady-seconds 60] [--coordinate false]
 *                               [--chart-runtime false] [--heap-snapshot] [--cpu-prof] [--sources]
 *                               [--kubeconfig FILE]
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { applyDefaults } from '../operator/src/api/defaults.ts';
import type { DistributedApp } from '../operator/src/api/schema.ts';
import { send } from '../operator/src/controller/api-client.ts';
import { applyObject } from '../operator/src/controller/apply.ts';
import { desiredState } from '../operator/src/model/desired-state.ts';
import { startLocalCluster, stopLocalCluster } from './local-cluster/cluster.ts';
import { runTool } from './local-cluster/tools.ts';
import { freePort } from '../workload/src/local/ports.ts';
import { summarizeHeapSnapshot } from './heap-summary.ts';
import { describeLoad, loadSnapshot, type MeasuredProcess } from './bench-accounting.ts';

const root = resolve(import.meta.dirname, '..');
const { values: args } = parseArgs({
  options: {
    apps: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '4' },
    'steady-seconds': { type: 'string', default: '60' },
    coordinate: { type: 'string', default: 'true' },
    'chart-runtime': { type: 'string', default: 'true' },
    'heap-snapshot': { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    sources: { type: 'boolean', default: false },
    kubeconfig: { type: 'string' },
  },
});
const N = Number(args.apps);
const CONCURRENCY = Number(args.concurrency);
const COORDINATE = args.coordinate !== 'false';
const PODS_PER_APP = 5;

const SPEC = { workers: { upstream: 'http://backend.default.svc:8080', replicas: 2 } };

function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

async function kubectl(kubeconfig: string, argv: string[], input?: string): Promise<string> {
  return (await runTool('kubectl', ['--kubeconfig', kubeconfig, ...argv], { input })).stdout;
}

async function applyList(kubeconfig: string, items: unknown[]): Promise<void> {
  for (let i = 0; i < items.length; i += 500) {
    const list = { apiVersion: 'v1', kind: 'List', items: items.slice(i, i + 500) };
    await kubectl(kubeconfig, ['apply', '--server-side', '-f', '-'], JSON.stringify(list));
  }
}

/** Fake kwok nodes (110 pods each) and PersistentVolumes for the ZooKeeper members of both runs. */
async function prepareCluster(kubeconfig: string): Promise<void> {
  const nodes = Math.ceil((2 * N * PODS_PER_APP) / 100) + 1;
  await applyList(
    kubeconfig,
    Array.from({ length: nodes }, (_, i) => ({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: `bench-node-${i}`,
        annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
        labels: { type: 'kwok', 'kubernetes.io/hostname': `bench-node-${i}`, 'kubernetes.io/os': 'linux' },
      },
    })),
  );
  await applyList(
    kubeconfig,
    Array.from({ length: 2 * N + 2 }, (_, i) => ({
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: `bench-pv-${i}` },
      spec: {
        capacity: { storage: '10Gi' },
        accessModes: ['ReadWriteOnce'],
        hostPath: { path: `/tmp/pv-${i}` },
      },
    })),
  );
  await kubectl(kubeconfig, ['apply', '--server-side', '--force-conflicts', '-f', join(root, 'crds')]);
  // kubectl wait fails at once (not waits) while the CRD has no conditions yet: ask until it is Established.
  const established = [
    'get',
    'crd',
    'distributedapps.capstan.dev',
    '-o=jsonpath={.status.conditions[?(@.type=="Established")].status}',
  ];
  await waitUntil(
    'the CRD Established',
    async () => (await kubectl(kubeconfig, established)).trim() === 'True',
  );
  for (const ns of ['bench-direct', 'bench-operator']) await kubectl(kubeconfig, ['create', 'namespace', ns]);
}

function appName(i: number): string {
  return `app-${String(i).padStart(4, '0')}`;
}

async function inParallel<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

async function listItems<T>(kc: KubeConfig, path: string): Promise<T[]> {
  const response = await send(kc, { method: 'GET', path });
  return (response.body as { items?: T[] } | undefined)?.items ?? [];
}

interface Workload {
  metadata: { generation?: number };
  spec?: { replicas?: number };
  status?: { readyReplicas?: number; observedGeneration?: number };
}

async function readyWorkloads(kc: KubeConfig, ns: string): Promise<number> {
  const lists = await Promise.all(
    ['statefulsets', 'deployments'].map((plural) =>
      listItems<Workload>(kc, `/apis/apps/v1/namespaces/${ns}/${plural}`),
    ),
  );
  return lists
    .flat()
    .filter(
      (w) =>
        (w.status?.readyReplicas ?? 0) === (w.spec?.replicas ?? 1) &&
        (w.status?.observedGeneration ?? 0) >= (w.metadata.generation ?? 0),
    ).length;
}

/**
 * Polls `check` until it holds. Every 5 ms per app (500 ms at 100 apps, 5 s at 1000): each poll lists
 * every app (or workload), and at 1000 apps a list every 500 ms took a tenth of a core of the API server,
 * and as much of this process, all through the operator's run.
 */
async function waitUntil(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 60 * 60_000;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(Math.max(500, 5 * N));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The baseline: the same server-side applies the operator makes, without the operator. */
async function direct(kc: KubeConfig): Promise<number> {
  const started = Date.now();
  const apps = Array.from({ length: N }, (_, i) => i);
  await inParallel(apps, CONCURRENCY, async (i) => {
    const app = applyDefaults({
      apiVersion: 'capstan.dev/v1alpha1',
      kind: 'DistributedApp',
      metadata: { name: appName(i), namespace: 'bench-direct', uid: `direct-${i}`, generation: 1 },
      spec: SPEC,
    });
    const observed = {
      redisPassword: 'x'.repeat(48),
      zooKeeperCredentials: { operatorPassword: 'o'.repeat(48), workerPassword: 'w'.repeat(48) },
    };
    for (const object of desiredState(app, observed)) {
      const { ownerReferences: _none, ...metadata } = object.metadata;
      await applyObject(kc, { ...object, metadata }, undefined);
    }
  });
  await waitUntil('direct workloads ready', async () => (await readyWorkloads(kc, 'bench-direct')) === 4 * N);
  return Date.now() - started;
}

/**
 * Deletes a namespace and waits until it is gone; returns how long that took. The direct baseline's
 * objects (5 pods per app) would otherwise stay for the operator's run and load the API server, etcd and
 * the kube-controller-manager as much again, which at 1000 apps weighed more than the operator itself.
 */
async function deleteNamespace(kubeconfig: string, ns: string): Promise<number> {
  const started = Date.now();
  await kubectl(kubeconfig, ['delete', 'namespace', ns, '--wait=true', '--timeout=60m']);
  return Date.now() - started;
}

function metric(text: string, name: string, filter: RegExp = /.*/): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const match = new RegExp(`^${name}(?:\\{([^}]*)\\})? (\\S+)$`).exec(line);
    if (match !== null && filter.test(match[1] ?? '')) total += Number(match[2]);
  }
  return total;
}

async function metricsOf(url: string): Promise<string> {
  return (await fetch(`${url}/metrics`)).text();
}

function writes(text: string): number {
  return (
    metric(text, 'rest_client_requests_total', /method="(POST|PUT|PATCH|DELETE)"/) -
    metric(text, 'leader_election_lease_writes_total')
  );
}

/** A memory figure of process `pid` from /proc: `VmHWM` (peak RSS) or `VmRSS` (now), in MiB. */
function rssMiB(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Math.round(Number(match?.[1] ?? 0) / 1024);
}

/** How many of the apps' status says the coordinator cannot reach their ZooKeeper. */
function unreachable(apps: readonly DistributedApp[]): number {
  return apps.filter((a) =>
    a.status?.conditions?.some((c) => c.type === 'Rebalancing' && c.reason === 'ZooKeeperUnreachable'),
  ).length;
}

async function operatorApps(kc: KubeConfig): Promise<DistributedApp[]> {
  return listItems<DistributedApp>(
    kc,
    '/apis/capstan.dev/v1alpha1/namespaces/bench-operator/distributedapps',
  );
}

/** Asks the operator (started with --heapsnapshot-signal) for a snapshot in `dir`; resolves with its path. */
async function heapSnapshot(pid: number, dir: string): Promise<string> {
  const before = new Set(readdirSync(dir));
  process.kill(pid, 'SIGUSR2');
  let file: string | undefined;
  await waitUntil('the heap snapshot', async () => {
    file = readdirSync(dir).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    // The file is complete once its size stops changing.
    if (file === undefined) return false;
    const size = statSync(join(dir, file)).size;
    await sleep(2000);
    return size > 0 && statSync(join(dir, file)).size === size;
  });
  return join(dir, file ?? '');
}

/**
 * The operator as the image runs it, compiled (`make build` writes dist/), or with --sources the
 * TypeScript sources through Node's type stripping, which costs about 20 MiB more.
 */
function operatorMain(): string {
  if (args.sources) return join(root, 'operator/src/main.ts');
  const main = join(root, 'dist/operator/src/main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: run \`make build\` first, or pass --sources`);
  return main;
}

function operatorArgs(kubeconfig: string, port: number, snapshotDir: string | undefined): string[] {
  return [
    ...(snapshotDir === undefined
      ? []
      : ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${snapshotDir}`]),
    ...(args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${join(root, 'tmp', 'bench-operator-prof')}`] : []),
    operatorMain(),
    `--kubeconfig=${kubeconfig}`,
    '--namespaces=bench-operator',
    '--leader-election-namespace=bench-operator',
    '--metrics-bind-address=0',
    '--dashboard-bind-address=0',
    `--health-probe-bind-address=127.0.0.1:${port}`,
    `--max-concurrent-reconciles=${CONCURRENCY}`,
    `--coordinate=${COORDINATE}`,
    // From this host the apps' in-cluster ZooKeeper names do not resolve: go through the API server.
    '--zookeeper-access=port-forward',
    '--log-level=warn',
  ];
}

/** `512Mi` / `1Gi` / `300M` as MiB. */
function mebibytes(quantity: string): number {
  const match = /^(\d+)(Mi|Gi|M|G)$/.exec(quantity);
  if (match === null) throw new Error(`cannot read the memory quantity ${quantity}`);
  const scale = { Mi: 1, Gi: 1024, M: 1e6 / 1048576, G: 1e9 / 1048576 }[match[2] as 'Mi' | 'Gi' | 'M' | 'G'];
  return Math.floor(Number(match[1]) * scale);
}

/**
 * The environment of the operator's container that the chart sets from `runtime` (none with
 * --chart-runtime false). In the container Node sizes its heap from the memory limit (old space half of
 * it: 256 MiB of the chart's 512Mi); a process on this host has no limit, and V8 would let its heap
 * grow towards a quarter of the machine's memory before collecting, so the same heap limit is given
 * explicitly.
 */
function runtimeEnv(): Record<string, string> {
  if (args['chart-runtime'] === 'false') return {};
  const values = parseYaml(readFileSync(join(root, 'charts/capstan/values.yaml'), 'utf8')) as {
    runtime: { nodeOptions: string; mallocArenaMax: number };
    resources: { limits: { memory: string } };
  };
  const heap = Math.floor(mebibytes(values.resources.limits.memory) / 2);
  return {
    NODE_OPTIONS: `${values.runtime.nodeOptions} --max-old-space-size=${heap}`,
    MALLOC_ARENA_MAX: String(values.runtime.mallocArenaMax),
  };
}

function createApps(kubeconfig: string): Promise<void> {
  return applyList(
    kubeconfig,
    Array.from({ length: N }, (_, i) => ({
      apiVersion: 'capstan.dev/v1alpha1',
      kind: 'DistributedApp',
      metadata: { name: appName(i), namespace: 'bench-operator' },
      spec: SPEC,
    })),
  );
}

function allReady(apps: readonly DistributedApp[]): boolean {
  const ready = apps.filter(
    (a) =>
      a.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') &&
      a.status.observedGeneration === a.metadata.generation,
  );
  return ready.length === N;
}

async function withOperator(
  kubeconfig: string,
  kc: KubeConfig,
  components: readonly MeasuredProcess[],
): Promise<Record<string, number | string>> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const snapshotDir = args['heap-snapshot'] ? join(root, 'tmp', 'bench-operator-heap') : undefined;
  if (snapshotDir !== undefined) mkdirSync(snapshotDir, { recursive: true });
  const env = runtimeEnv();
  log(`operator runtime: ${JSON.stringify(env)}`);
  const child = spawn(process.execPath, operatorArgs(kubeconfig, port, snapshotDir), {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, ...env },
  });
  const pid = child.pid ?? 0;
  try {
    await waitUntil('operator leading', async () =>
      (await metricsOf(url).catch(() => '')).includes(
        'leader_election_master_status{name="capstan-operator"} 1',
      ),
    );
    await sleep(5000);
    const idleRssMiB = rssMiB(pid, 'VmRSS');
    const before = await metricsOf(url);
    const processes = [...components, { name: 'operator', pid }];
    const load = await loadSnapshot(kubeconfig, processes);
    const started = Date.now();
    await createApps(kubeconfig);
    await waitUntil('all DistributedApps Ready', async () => allReady(await operatorApps(kc)));
    const convergeMs = Date.now() - started;
    for (const line of describeLoad(load, await loadSnapshot(kubeconfig, processes)))
      log(`operator: ${line}`);
    await sleep(5000);
    const converged = await metricsOf(url);
    const convergedRssMiB = rssMiB(pid, 'VmRSS');
    log(`converged in ${convergeMs} ms; measuring ${args['steady-seconds']} s of steady state`);
    await sleep(Number(args['steady-seconds']) * 1000);
    const steady = await metricsOf(url);
    const steadyRssMiB = rssMiB(pid, 'VmRSS');
    const requests =
      metric(converged, 'rest_client_requests_total') - metric(before, 'rest_client_requests_total');
    const reconciles =
      metric(converged, 'controller_runtime_reconcile_total') -
      metric(before, 'controller_runtime_reconcile_total');
    const result = {
      convergeMs,
      idleRssMiB,
      convergedRssMiB,
      steadyRssMiB,
      // The kernel updates VmHWM lazily: it can lag a VmRSS read just before.
      peakRssMiB: Math.max(rssMiB(pid, 'VmHWM'), convergedRssMiB, steadyRssMiB),
      perAppKiB: Math.round(((steadyRssMiB - idleRssMiB) * 1024) / N),
      reconciles,
      requestsPerReconcile: Math.round((requests / Math.max(1, reconciles)) * 10) / 10,
      writesPerApp: Math.round(((writes(converged) - writes(before)) / N) * 10) / 10,
      steadyStateWrites: writes(steady) - writes(converged),
      appsZooKeeperUnreachable: unreachable(await operatorApps(kc)),
    };
    if (snapshotDir === undefined) return result;
    const file = await heapSnapshot(pid, snapshotDir);
    process.stderr.write(summarizeHeapSnapshot(readFileSync(file, 'utf8'), 25));
    return { ...result, heapSnapshot: file };
  } finally {
    // Waited for (bounded), so that a CPU profile is written before the control plane goes.
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(30_000)]);
  }
}

async function main(): Promise<void> {
  let dir: string | undefined;
  let kubeconfig = args.kubeconfig;
  // The control plane's processes, whose CPU time is accounted per phase (none in a cluster given).
  let components: MeasuredProcess[] = [];
  if (kubeconfig === undefined) {
    dir = join(root, 'tmp', 'bench-operator');
    log('starting a local control plane');
    ({ kubeconfig, components } = await startLocalCluster({ dir }));
  }
  // This process too: it lists the apps or workloads while it waits.
  components = [...components, { name: 'bench', pid: process.pid }];
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    await prepareCluster(kubeconfig);
    log(`applying ${N} apps' objects directly`);
    const load = await loadSnapshot(kubeconfig, components);
    const directMs = await direct(kc);
    for (const line of describeLoad(load, await loadSnapshot(kubeconfig, components))) log(`direct: ${line}`);
    log(`direct: ${directMs} ms; deleting its namespace so that the operator meets the same cluster`);
    const cleanupMs = await deleteNamespace(kubeconfig, 'bench-direct');
    log(`deleted in ${cleanupMs} ms; now through the operator`);
    const operator = await withOperator(kubeconfig, kc, components);
    const result = {
      apps: N,
      concurrency: CONCURRENCY,
      coordinate: COORDINATE,
      directMs,
      directCleanupMs: cleanupMs,
      ...operator,
      ratio: Math.round((Number(operator.convergeMs) / directMs) * 100) / 100,
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    if (dir !== undefined) await stopLocalCluster(dir);
  }
}

await main();
