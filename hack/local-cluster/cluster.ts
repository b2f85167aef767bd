/**
 * The local cluster: a real control plane, kwok's fake nodes for scale, and optionally real nodes
 * that run real containers.
 *
 * startLocalCluster(options) starts, in order:
 *  1. (real nodes) the host network (host-network.ts) after sweeping what a crashed run left
 *  2. etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok (control-plane.ts)
 *  3. kwok nodes (3 by default without real nodes, none by default with them); tainted
 *     `kwok.x-k8s.io/node=fake:NoSchedule` when real nodes exist, so an ordinary pod lands on a real node
 *     and only pods that tolerate the taint land on kwok
 *  4. (real nodes) the local registry with the project's images (hack/images.sh), a containerd and
 *     a kubelet per node (real-node.ts), one kube-proxy and CoreDNS (host-services.ts), the kube-dns
 *     Service, a default StorageClass with a pool of volumes; then waits for every node to be Ready
 * Every component runs detached and is recorded in `<dir>/state.json`, so `make cluster-down`, a
 * test or a later start can stop or restart it. Real nodes use one set of host names and addresses,
 * so one cluster with real nodes runs on a machine at a time; a second start refuses while the
 * first is alive and cleans up after it when it died.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../workload/src/local/ports.ts';
import { HOST_ADDRESS, KUBERNETES_SERVICE_IP, MAX_REAL_NODES } from './addresses.ts';
import {
  LocalClusterError,
  applyObjects,
  launch,
  readClusterState,
  startComponent,
  stateFile,
  stillOurs,
  writeState,
  type LocalClusterState,
  type RunningComponent,
} from './cluster-state.ts';
import {
  CONTROL_PLANE,
  type ControlPlaneComponent,
  type Ports,
  apiserverAddress,
  controlPlaneSpecs,
  healthCheck,
  kubeconfigFor,
  waitUntil,
} from './control-plane.ts';
import { stopGroup } from './detached.ts';
import { setUpHostNetwork, tearDownHostNetwork } from './host-network.ts';
import { setNodeFrozen, sweepNodes } from './node-host.ts';
import { type Pki, createPki, pkiPaths } from './pki.ts';
import { nodePaths } from './real-node.ts';
import { VOLUMES_ROOT, startRealNodes } from './real-nodes.ts';

export {
  LocalClusterError,
  readClusterState,
  type LocalClusterState,
  type RunningComponent,
} from './cluster-state.ts';
export { pushImages } from './real-nodes.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** Names the state dir of the cluster that holds the machine's real-node network. */
const REAL_NODES_OWNER = '/run/capstan/real-nodes-owner';

/** Options for {@link startLocalCluster}. */
export interface LocalClusterOptions {
  /** State directory: PKI, etcd data, logs, kubeconfig and state.json. Wiped on start. */
  dir: string;
  /** Where the binaries are; default `$CAPSTAN_TOOLS_BIN` or the repository's bin/. */
  binDir?: string;
  /**
   * Fake kwok nodes to register; default 3 without real nodes, none with them (each renews a lease every
   * few seconds, a cost an idle cluster with real nodes does without; the scale benchmark runs without real nodes).
   */
  nodes?: number;
  /** Real nodes (kubelet + containerd) to start; default 0. Needs root. */
  realNodes?: number;
  /** Build (cached) and push the project's images to the local registry; default true. */
  images?: boolean;
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

/** Registers `count` kwok nodes (default: see `LocalClusterOptions.nodes`), tainted when real nodes exist. */
async function registerKwokNodes(
  bin: string,
  kubeconfig: string,
  count: number | undefined,
  real: boolean,
): Promise<void> {
  const nodes = count ?? (real ? 0 : 3);
  if (nodes > 0) await applyObjects(bin, kubeconfig, kwokNodes(nodes, real));
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
    await registerKwokNodes(bin, kubeconfig, options.nodes, real);
    if (real) await startRealNodes(state, bin, pki, { count: realNodes, images: options.images ?? true });
  } catch (err) {
    await stopLocalCluster(dir);
    throw err;
  }
  return state;
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
