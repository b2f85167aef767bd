/**
 * The real nodes of the local cluster and the services they share, started in this order: RBAC for
 * the host services, the kube-dns Service, the volume pool and its StorageClass, the registry with
 * the project's images, a containerd and a kubelet per node, kube-proxy, CoreDNS and the
 * NetworkPolicy agent; then it waits
 * until every node is Ready. See real-node.ts and host-services.ts for what each runs with.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../workload/src/local/ports.ts';
import { nodeAddresses } from './addresses.ts';
import {
  LocalClusterError,
  applyObjects,
  kubectl,
  startComponent,
  writeState,
  type LocalClusterState,
} from './cluster-state.ts';
import { NODE_LEASE_SECONDS, kubeconfigFor } from './control-plane.ts';
import type { ComponentSpec } from './detached.ts';
import {
  type HostServicePorts,
  HOST_SERVICE_USERS,
  dnsServiceObjects,
  hostServiceRbacObjects,
  hostServiceSpecs,
  registryAddress,
} from './host-services.ts';
import { createNodeCgroups } from './node-host.ts';
import { type Pki, createClientCert } from './pki.ts';
import { nodeSpecs, writeNodeConfig } from './real-node.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const cacheRoot = process.env.CAPSTAN_CACHE_DIR ?? join(homedir(), '.cache', 'capstan');
/** hostPath volumes the default StorageClass offers (the cluster has no dynamic provisioner). */
const VOLUME_POOL = 24;
/** Where the volume pool lives; removed with the cluster. */
export const VOLUMES_ROOT = '/var/lib/capstan/volumes';

async function hostServicePorts(): Promise<HostServicePorts> {
  return {
    registry: await freePort(),
    kubeProxyHealthz: await freePort(),
    kubeProxyMetrics: await freePort(),
    corednsHealth: await freePort(),
    corednsReady: await freePort(),
    networkPoliciesHealthz: await freePort(),
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

export async function startRealNodes(
  state: LocalClusterState,
  bin: string,
  pki: Pki,
  options: { count: number; images: boolean },
): Promise<void> {
  const { dir, kubeconfig } = state;
  state.hostPorts = await hostServicePorts();
  const kubeProxy = await createClientCert(pki, 'kube-proxy', { user: 'system:kube-proxy' });
  const coredns = await createClientCert(pki, 'coredns', { user: HOST_SERVICE_USERS.coredns });
  const policies = await createClientCert(pki, 'network-policies', {
    user: HOST_SERVICE_USERS.networkPolicies,
  });
  const kubeProxyKubeconfig = join(dir, 'kube-proxy.kubeconfig');
  const corednsKubeconfig = join(dir, 'coredns.kubeconfig');
  const networkPoliciesKubeconfig = join(dir, 'network-policies.kubeconfig');
  await writeFile(kubeProxyKubeconfig, await kubeconfigFor(pki, state.server, kubeProxy), { mode: 0o600 });
  await writeFile(corednsKubeconfig, await kubeconfigFor(pki, state.server, coredns), { mode: 0o600 });
  await writeFile(networkPoliciesKubeconfig, await kubeconfigFor(pki, state.server, policies), {
    mode: 0o600,
  });
  const registryDir = join(cacheRoot, 'registry');
  await mkdir(registryDir, { recursive: true });
  const nodes = Array.from({ length: options.count }, (_, i) => nodeAddresses(i).name);
  const [registry, proxy, dns, netpol] = await hostServiceSpecs({
    dir,
    bin,
    ports: state.hostPorts,
    kubeProxyKubeconfig,
    corednsKubeconfig,
    networkPoliciesKubeconfig,
    nodes,
    registryDir,
  });
  await applyObjects(bin, kubeconfig, [
    ...hostServiceRbacObjects(),
    ...dnsServiceObjects(),
    ...(await storageObjects()),
  ]);
  await startRegistry(state, registry!, options.images);
  for (let i = 0; i < options.count; i++) await startNode(state, bin, pki, i);
  const ports = state.hostPorts;
  await startComponent(state, proxy!, () => httpOk(`http://127.0.0.1:${ports.kubeProxyHealthz}/healthz`));
  await startComponent(state, dns!, () => httpOk(`http://127.0.0.1:${ports.corednsReady}/ready`));
  await startComponent(state, netpol!, () =>
    httpOk(`http://127.0.0.1:${ports.networkPoliciesHealthz}/healthz`),
  );
  await kubectl(bin, kubeconfig, [
    'wait',
    '--for=condition=Ready',
    'node',
    ...state.realNodes,
    '--timeout=120s',
  ]);
}
