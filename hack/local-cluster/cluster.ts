/**
 * The local cluster: a real control plane, kwok's fake nodes for scale, and optionally real nodes
 * that run real containers.
 *
 * startLocalCluster(options) starts, in order:
 *  1. (real nodes) the host network (host-network.ts) after sweeping what a crashed run left
 *  2. etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok (control-plane.ts)
 *  3. kwok nodes; tainted `kwok.x-k8s.io/node=fake:NoSchedule` when real nodes exist, so an
 *     ordinary pod lands on a real node and only pods that tolerate the taint land on kwok
 *  4. (real nodes) the local registry with the project's images (hack/images.sh), a containerd and
 *     a kubelet per node (real-node.ts), one kube-proxy and CoreDNS (host-services.ts), the kube-dns
 *     Service, a default StorageClass with a pool of volumes; then waits for every node to be Ready
 * Every component runs detached and is recorded in `<dir>/state.json`, so `make cluster-down`, a
 * test or a later start can stop or restart it. Real nodes use one set of host names and addresses,
 * so one cluster with real nodes runs on a machine at a time; a second start refuses while the
 * first is alive and cleans up after it when it died.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../workload/src/local/ports.ts';
import { HOST_ADDRESS, KUBERNETES_SERVICE_IP, MAX_REAL_NODES, nodeAddresses } from './addresses.ts';
import {
  CONTROL_PLANE,
  type ControlPlaneComponent,
  NODE_LEASE_SECONDS,
  type Ports,
  apiserverAddress,
  controlPlaneSpecs,
  healthCheck,
  kubeconfigFor,
  waitUntil,
} from './control-plane.ts';
import { type ComponentSpec, isAlive, processStartTime, startDetached, stopGroup } from './detached.ts';
import { setUpHostNetwork, tearDownHostNetwork } from './host-network.ts';
import {
  type HostServicePorts,
  corednsRbacObjects,
  dnsServiceObjects,
  hostServiceSpecs,
  registryAddress,
} from './host-services.ts';
import { createNodeCgroups, setNodeFrozen, sweepNodes } from './node-host.ts';
import { type Pki, createClientCert, createPki, pkiPaths } from './pki.ts';
import { nodePaths, nodeSpecs, writeNodeConfig } from './real-node.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const cacheRoot = process.env.CAPSTAN_CACHE_DIR ?? join(homedir(), '.cache', 'capstan');
/** Names the state dir of the cluster that holds the machine's real-node network. */
const REAL_NODES_OWNER = '/run/capstan/real-nodes-owner';
/** hostPath volumes the default StorageClass offers (the cluster has no dynamic provisioner). */
const VOLUME_POOL = 24;
const VOLUMES_ROOT = '/var/lib/capstan/volumes';

/** Options for {@link startLocalCluster}. */
export interface LocalClusterOptions {
  /** State directory: PKI, etcd data, logs, kubeconfig and state.json. Wiped on start. */
  dir: string;
  /** Where the binaries are; default `$CAPSTAN_TOOLS_BIN` or the repository's bin/. */
  binDir?: string;
  /** Fake kwok nodes to register; default 3. */
  nodes?: number;
  /** Real nodes (kubelet + containerd) to start; default 0. Needs root. */
  realNodes?: number;
  /** Build (cached) and push the project's images to the local registry; default true. */
  images?: boolean;
}

/** A started component and how to tell it from a later process that reused its pid. */
export type RunningComponent = ComponentSpec & { pid: number; startTime: string };

/** What a running cluster left in its state file. */
export interface LocalClusterState {
  dir: string;
  kubeconfig: string;
  server: string;
  ports: Ports;
  hostPorts?: HostServicePorts;
  realNodes: string[];
  components: RunningComponent[];
}

/** Error raised when the cluster cannot start; carries the failing component's log tail. */
export class LocalClusterError extends Error {
  readonly code = 'CAPSTAN_LOCAL_CLUSTER';
}

const stateFile = (dir: string): string => join(dir, 'state.json');

/** Reads the state file of a cluster started by {@link startLocalCluster}. */
export async function readClusterState(dir: string): Promise<LocalClusterState> {
  return JSON.parse(await readFile(stateFile(dir), 'utf8')) as LocalClusterState;
}

async function writeState(state: LocalClusterState): Promise<void> {
  await writeFile(stateFile(state.dir), JSON.stringify(state, null, 2));
}

/** True while the recorded process runs (and is not a later process with the same pid). */
function stillOurs(c: RunningComponent): boolean {
  return isAlive(c.pid) && processStartTime(c.pid) === c.startTime;
}

function launch(spec: ComponentSpec): RunningComponent {
  const pid = startDetached(spec);
  return { ...spec, pid, startTime: processStartTime(pid) ?? '' };
}

function kubectl(bin: string, kubeconfig: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolveRun, reject) => {
    const child = execFile(
      join(bin, 'kubectl'),
      ['--kubeconfig', kubeconfig, ...args],
      (err, stdout, stderr) =>
        err
          ? reject(new LocalClusterError(`kubectl ${args.join(' ')}: ${stderr || err.message}`))
          : resolveRun(stdout),
    );
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input ?? '');
  });
}

function applyObjects(bin: string, kubeconfig: string, items: object[]): Promise<string> {
  const list = JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
  return kubectl(bin, kubeconfig, ['apply', '--server-side', '--force-conflicts', '-f', '-'], list);
}

function kwokNodes(count: number, tainted: boolean): object[] {
  return Array.from({ length: count }, (_, i) => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: `kwok-node-${i}`,
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: { type: 'kwok', 'kubernetes.io/hostname': `kwok-node-${i}`, 'kubernetes.io/os': 'linux' },
    },
    spec: tainted ? { taints: [{ key: 'kwok.x-k8s.io/node', value: 'fake', effect: 'NoSchedule' }] } : {},
  }));
}

function requiredBinaries(bin: string, realNodes: number): void {
  if (realNodes > MAX_REAL_NODES) throw new LocalClusterError(`at most ${MAX_REAL_NODES} real nodes`);
  const nodeTools = [
    'kubelet',
    'kube-proxy',
    'containerd',
    'containerd-shim-runc-v2',
    'runc',
    'coredns',
    'crane',
  ];
  const needed = [...CONTROL_PLANE, 'kubectl', ...(realNodes > 0 ? nodeTools : [])];
  for (const b of needed) {
    if (!existsSync(join(bin, b)))
      throw new LocalClusterError(`${join(bin, b)} is missing: run \`make tools\``);
  }
  if (realNodes > 0 && !existsSync(join(bin, 'cni', 'bridge'))) {
    throw new LocalClusterError(`${join(bin, 'cni')} has no CNI plugins: run \`make tools\``);
  }
}

/** Takes the machine's real-node slot, cleaning up after an owner that died. */
async function claimRealNodes(dir: string): Promise<void> {
  if (process.getuid?.() !== 0)
    throw new LocalClusterError('real nodes need root (kubelet, containerd, networking)');
  const owner = existsSync(REAL_NODES_OWNER) ? (await readFile(REAL_NODES_OWNER, 'utf8')).trim() : '';
  if (owner !== '' && owner !== dir && existsSync(stateFile(owner))) {
    const other = await readClusterState(owner).catch(() => undefined);
    if (other?.components.some(stillOurs)) {
      throw new LocalClusterError(`another local cluster with real nodes runs from ${owner}; stop it first`);
    }
    await stopLocalCluster(owner);
  }
  await sweepNodes();
  await mkdir(dirname(REAL_NODES_OWNER), { recursive: true });
  await writeFile(REAL_NODES_OWNER, dir);
}

async function startComponent(
  state: LocalClusterState,
  spec: ComponentSpec,
  healthy: () => Promise<boolean>,
): Promise<void> {
  const started = launch(spec);
  state.components.push(started);
  await writeState(state);
  await waitUntil(started, healthy, 120_000);
}

async function startControlPlaneComponents(
  state: LocalClusterState,
  bin: string,
  pki: Pki,
  real: boolean,
): Promise<void> {
  for (const spec of controlPlaneSpecs({ dir: state.dir, bin, pki, ports: state.ports, realNodes: real })) {
    await startComponent(state, spec, healthCheck(spec.name, state.server, pki, state.ports));
  }
}

async function controlPlanePorts(): Promise<Ports> {
  return {
    etcdClient: await freePort(),
    etcdPeer: await freePort(),
    apiserver: await freePort(),
    controllerManager: await freePort(),
    scheduler: await freePort(),
    kwok: await freePort(),
  };
}

/** Chooses the ports and writes the admin kubeconfig. */
async function initialState(dir: string, pki: Pki, real: boolean): Promise<LocalClusterState> {
  const ports = await controlPlanePorts();
  const server = `https://${apiserverAddress(real)}:${ports.apiserver}`;
  const kubeconfig = join(dir, 'kubeconfig');
  const admin = { cert: pki.adminCert, key: pki.adminKey };
  await writeFile(kubeconfig, await kubeconfigFor(pki, server, admin), { mode: 0o600 });
  return { dir, kubeconfig, server, ports, realNodes: [], components: [] };
}

/**
 * Starts the local cluster (see the module comment). On failure everything started so far is
 * stopped and the error carries the failing component's log tail.
 */
export async function startLocalCluster(options: LocalClusterOptions): Promise<LocalClusterState> {
  const dir = resolve(options.dir);
  const bin = options.binDir ?? process.env.CAPSTAN_TOOLS_BIN ?? join(repoRoot, 'bin');
  const realNodes = options.realNodes ?? 0;
  requiredBinaries(bin, realNodes);
  if (existsSync(stateFile(dir))) await stopLocalCluster(dir);
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'logs'), { recursive: true });
  if (realNodes > 0) await claimRealNodes(dir);
  const real = realNodes > 0;
  const pki = await createPki(join(dir, 'pki'), real ? [HOST_ADDRESS, KUBERNETES_SERVICE_IP] : []);
  const state = await initialState(dir, pki, real);
  const { kubeconfig } = state;
  try {
    if (real) await setUpHostNetwork(realNodes);
    await startControlPlaneComponents(state, bin, pki, real);
    await applyObjects(bin, kubeconfig, kwokNodes(options.nodes ?? 3, real));
    if (real) await startRealNodes(state, bin, pki, { count: realNodes, images: options.images ?? true });
  } catch (err) {
    await stopLocalCluster(dir);
    throw err;
  }
  return state;
}

async function hostServicePorts(): Promise<HostServicePorts> {
  return {
    registry: await freePort(),
    kubeProxyHealthz: await freePort(),
    kubeProxyMetrics: await freePort(),
    corednsHealth: await freePort(),
    corednsReady: await freePort(),
  };
}

function runScript(script: string, args: string[], log: string): Promise<void> {
  return new Promise((resolveRun, reject) => {
    execFile(script, args, { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      void writeFile(log, `${stdout}${stderr}`, { flag: 'a' });
      if (err) reject(new LocalClusterError(`${script} ${args.join(' ')} failed: ${stderr.slice(-2000)}`));
      else resolveRun();
    });
  });
}

async function httpOk(url: string): Promise<boolean> {
  return (await fetch(url)).ok;
}

/** A pool of hostPath volumes behind a default StorageClass; each directory is writable by any pod user. */
async function storageObjects(): Promise<object[]> {
  const volumes: object[] = [];
  for (let i = 0; i < VOLUME_POOL; i++) {
    const path = join(VOLUMES_ROOT, `pv-${String(i).padStart(2, '0')}`);
    await rm(path, { recursive: true, force: true });
    await mkdir(path, { recursive: true });
    // hostPath volumes get no fsGroup ownership: make them writable for the non-root pods.
    await chmod(path, 0o1777);
    volumes.push({
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: `capstan-local-pv-${String(i).padStart(2, '0')}` },
      spec: {
        storageClassName: 'standard',
        capacity: { storage: '10Gi' },
        accessModes: ['ReadWriteOnce'],
        persistentVolumeReclaimPolicy: 'Retain',
        hostPath: { path, type: 'Directory' },
      },
    });
  }
  const storageClass = {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name: 'standard', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
    provisioner: 'kubernetes.io/no-provisioner',
    volumeBindingMode: 'Immediate',
  };
  return [storageClass, ...volumes];
}

async function startRegistry(state: LocalClusterState, spec: ComponentSpec, images: boolean): Promise<void> {
  const ports = state.hostPorts!;
  await startComponent(state, spec, () => httpOk(`http://${registryAddress(ports)}/v2/`));
  if (images) await pushImages(state);
}

/** Builds the project's images (cached by what they are built from) and pushes them to the cluster's registry. */
export async function pushImages(state: LocalClusterState): Promise<void> {
  const ports = state.hostPorts;
  if (ports === undefined) throw new LocalClusterError('this cluster has no real nodes, so no registry');
  const images = join(repoRoot, 'hack', 'images.sh');
  const log = join(state.dir, 'logs', 'images.log');
  await runScript(images, ['build'], log);
  await runScript(images, ['push', registryAddress(ports)], log);
}

async function startNode(state: LocalClusterState, bin: string, pki: Pki, index: number): Promise<void> {
  const node = nodeAddresses(index);
  const config = {
    node,
    bin,
    registry: registryAddress(state.hostPorts!),
    caCert: pki.caCert,
    healthzPort: await freePort(),
    logDir: join(state.dir, 'logs'),
  };
  const paths = await writeNodeConfig(config, NODE_LEASE_SECONDS);
  const cert = await createClientCert(pki, node.name, {
    user: `system:node:${node.name}`,
    groups: ['system:nodes'],
  });
  await writeFile(paths.kubeletKubeconfig, await kubeconfigFor(pki, state.server, cert), { mode: 0o600 });
  await createNodeCgroups(paths.cgroup);
  const [containerd, kubelet] = nodeSpecs(config, paths);
  await startComponent(state, containerd!, () => Promise.resolve(existsSync(paths.containerdSocket)));
  await startComponent(state, kubelet!, () => httpOk(`http://127.0.0.1:${config.healthzPort}/healthz`));
  state.realNodes.push(node.name);
  await writeState(state);
}

async function startRealNodes(
  state: LocalClusterState,
  bin: string,
  pki: Pki,
  options: { count: number; images: boolean },
): Promise<void> {
  const { dir, kubeconfig } = state;
  state.hostPorts = await hostServicePorts();
  const kubeProxy = await createClientCert(pki, 'kube-proxy', { user: 'system:kube-proxy' });
  const coredns = await createClientCert(pki, 'coredns', { user: 'capstan-local:coredns' });
  const kubeProxyKubeconfig = join(dir, 'kube-proxy.kubeconfig');
  const corednsKubeconfig = join(dir, 'coredns.kubeconfig');
  await writeFile(kubeProxyKubeconfig, await kubeconfigFor(pki, state.server, kubeProxy), { mode: 0o600 });
  await writeFile(corednsKubeconfig, await kubeconfigFor(pki, state.server, coredns), { mode: 0o600 });
  const registryDir = join(cacheRoot, 'registry');
  await mkdir(registryDir, { recursive: true });
  const [registry, proxy, dns] = await hostServiceSpecs({
    dir,
    bin,
    ports: state.hostPorts,
    kubeProxyKubeconfig,
    corednsKubeconfig,
    registryDir,
  });
  await applyObjects(bin, kubeconfig, [
    ...corednsRbacObjects('capstan-local:coredns'),
    ...dnsServiceObjects(),
    ...(await storageObjects()),
  ]);
  await startRegistry(state, registry!, options.images);
  for (let i = 0; i < options.count; i++) await startNode(state, bin, pki, i);
  const ports = state.hostPorts;
  await startComponent(state, proxy!, () => httpOk(`http://127.0.0.1:${ports.kubeProxyHealthz}/healthz`));
  await startComponent(state, dns!, () => httpOk(`http://127.0.0.1:${ports.corednsReady}/ready`));
  await kubectl(bin, kubeconfig, [
    'wait',
    '--for=condition=Ready',
    'node',
    ...state.realNodes,
    '--timeout=120s',
  ]);
}

/**
 * Stops every component recorded in `<dir>/state.json` in reverse start order; with real nodes it
 * also removes their containers, mounts, cgroups and the host network. Safe to call twice.
 */
export async function stopLocalCluster(dir: string): Promise<void> {
  let state: LocalClusterState;
  try {
    state = await readClusterState(dir);
  } catch {
    return;
  }
  for (const name of state.realNodes)
    await setNodeFrozen(nodePaths(name).cgroup, false).catch(() => undefined);
  for (const c of [...state.components].reverse()) if (stillOurs(c)) await stopGroup(c.pid);
  if (
    state.realNodes.length > 0 ||
    (existsSync(REAL_NODES_OWNER) && (await readFile(REAL_NODES_OWNER, 'utf8')) === dir)
  ) {
    await sweepNodes();
    await tearDownHostNetwork();
    await rm(VOLUMES_ROOT, { recursive: true, force: true });
    await rm(REAL_NODES_OWNER, { force: true });
  }
  await rm(stateFile(dir), { force: true });
}

function component(state: LocalClusterState, name: string): RunningComponent {
  const c = state.components.find((x) => x.name === name);
  if (!c) throw new LocalClusterError(`no component ${name} in ${stateFile(state.dir)}`);
  return c;
}

/**
 * Restarts one control-plane component (for example `kube-apiserver`) with the same arguments,
 * waiting until it is healthy again. Works from any process that can read the state directory.
 */
export async function restartComponent(dir: string, name: ControlPlaneComponent): Promise<void> {
  const state = await readClusterState(dir);
  const c = component(state, name);
  if (stillOurs(c)) await stopGroup(c.pid);
  Object.assign(c, launch(c));
  await writeState(state);
  const pki = pkiPaths(join(dir, 'pki'));
  await waitUntil(c, healthCheck(name, state.server, pki, state.ports), 90_000);
}

/**
 * Fails a real node for real: its kubelet stops (SIGSTOP, so it neither renews its lease nor reports)
 * and every container on it is frozen, so the node turns NotReady and its pods' sessions expire.
 */
export async function failNode(dir: string, node: string): Promise<void> {
  const state = await readClusterState(dir);
  const kubelet = component(state, `${node}/kubelet`);
  process.kill(-kubelet.pid, 'SIGSTOP');
  await setNodeFrozen(nodePaths(node).cgroup, true);
}

/** Brings back a node failed by {@link failNode}: thaws its containers and resumes its kubelet. */
export async function restoreNode(dir: string, node: string): Promise<void> {
  const state = await readClusterState(dir);
  await setNodeFrozen(nodePaths(node).cgroup, false);
  process.kill(-component(state, `${node}/kubelet`).pid, 'SIGCONT');
}
