/**
 * A real node of the local cluster: its own containerd (runc with seccomp, CNI bridge on the node's
 * pod bridge) and a kubelet registered as `capstan-node-N`. Several share the machine, so each has
 * its own state under NODES_ROOT/<name>, its own cgroup root (/capstan-node-N in every cgroup v1
 * hierarchy), its own address on the host bridge and its own pod range (addresses.ts).
 *
 * This file only renders configuration and command lines; cluster.ts starts them.
 * Settings this machine needs (each found by its error message):
 *  - containerd `restrict_oom_score_adj`: the VM may not lower oom_score_adj (no CAP_SYS_RESOURCE);
 *  - kubelet `failCgroupV1: false` (v1.37 refuses cgroup v1 otherwise), `failSwapOn: false`, cgroupfs;
 *  - kubelet `imagePullCredentialsVerificationPolicy: NeverVerify`, so IfNotPresent images are used
 *    without the kubelet's pull records demanding a verifying pull.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { CLUSTER_DOMAIN, DNS_SERVICE_IP, type NodeAddresses } from './addresses.ts';
import type { ComponentSpec } from './detached.ts';

/** Where real nodes keep their state: outside the checkout, short paths (containerd's sockets live there). */
export const NODES_ROOT = '/var/lib/capstan/nodes';

/** The image containerd runs as each pod's sandbox (built locally from images/pause). */
export const SANDBOX_IMAGE = 'registry.k8s.io/pause:3.10';

/** Registries whose names pods use; containerd sends each of them to the local registry only. */
const MIRRORED = ['docker.io', 'ghcr.io', 'registry.k8s.io', '_default'];

/** Paths of one node's state. */
export interface NodePaths {
  root: string;
  containerdSocket: string;
  containerdConfig: string;
  kubeletConfig: string;
  kubeletKubeconfig: string;
  cgroup: string;
}

export function nodePaths(name: string): NodePaths {
  const root = join(NODES_ROOT, name);
  return {
    root,
    containerdSocket: join(root, 'containerd.sock'),
    containerdConfig: join(root, 'containerd.toml'),
    kubeletConfig: join(root, 'kubelet.yaml'),
    kubeletKubeconfig: join(root, 'kubelet.kubeconfig'),
    cgroup: `/${name}`,
  };
}

/** What a node's configuration is rendered from. */
export interface RealNodeConfig {
  node: NodeAddresses;
  /** Holds containerd, containerd-shim-runc-v2, runc, kubelet and cni/. */
  bin: string;
  /** host:port of the local OCI registry. */
  registry: string;
  caCert: string;
  /** The kubelet's /healthz port on 127.0.0.1 (each node needs its own). */
  healthzPort: number;
  logDir: string;
}

function containerdToml(config: RealNodeConfig, paths: NodePaths): string {
  const q = JSON.stringify;
  return `version = 3
root = ${q(join(paths.root, 'containerd'))}
state = ${q(join(paths.root, 'containerd-state'))}
imports = []

[grpc]
  address = ${q(paths.containerdSocket)}

[plugins.'io.containerd.internal.v1.opt']
  path = ${q(join(paths.root, 'opt'))}

[plugins.'io.containerd.nri.v1.nri']
  disable = true

[plugins.'io.containerd.transfer.v1.local']
  config_path = ${q(join(paths.root, 'certs.d'))}

[plugins.'io.containerd.cri.v1.images']
  snapshotter = 'overlayfs'
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = ${q(SANDBOX_IMAGE)}
  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = ${q(join(paths.root, 'certs.d'))}

[plugins.'io.containerd.cri.v1.runtime']
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  # CPU samples of every container for the CRI's UsageNanoCores every 10 s, like the kubelet's
  # housekeeping, instead of every second: at 1 s, asking each shim for its cgroup stats was the
  # largest part of an idle node's CPU.
  stats_collect_period = '10s'
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = 'runc'
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = 'io.containerd.runc.v2'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = ${q(join(config.bin, 'runc'))}
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = [${q(join(config.bin, 'cni'))}]
    conf_dir = ${q(join(paths.root, 'cni'))}
`;
}

/** hosts.toml: the local registry is the only host for the registry, so no pull ever leaves the machine. */
function hostsToml(registry: string): string {
  return `server = "http://${registry}"

[host."http://${registry}"]
  capabilities = ["pull", "resolve"]
`;
}

function cniConfig(config: RealNodeConfig, paths: NodePaths): string {
  const { node } = config;
  return JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: 'capstan',
      plugins: [
        {
          type: 'bridge',
          bridge: node.bridge,
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            dataDir: join(paths.root, 'ipam'),
            ranges: [[{ subnet: node.podCidr, gateway: node.podGateway }]],
            // Only the cluster's own ranges: a pod has no default route, so nothing leaves the machine.
            routes: [{ dst: '10.243.0.0/24' }, { dst: '10.244.0.0/16' }, { dst: '10.96.0.0/16' }],
          },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  );
}

function kubeletConfiguration(config: RealNodeConfig, paths: NodePaths, leaseSeconds: number): string {
  return stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: config.node.address,
    port: 10250,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: config.healthzPort,
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: config.caCert },
    },
    authorization: { mode: 'Webhook' },
    containerRuntimeEndpoint: `unix://${paths.containerdSocket}`,
    cgroupDriver: 'cgroupfs',
    cgroupRoot: paths.cgroup,
    failCgroupV1: false,
    failSwapOn: false,
    clusterDNS: [DNS_SERVICE_IP],
    clusterDomain: CLUSTER_DOMAIN,
    // No host resolver for pods: dnsPolicy Default gets no nameserver rather than the machine's.
    resolvConf: '',
    podLogsDir: join(paths.root, 'pod-logs'),
    imagePullCredentialsVerificationPolicy: 'NeverVerify',
    serializeImagePulls: false,
    // The lease (renewed every quarter of it) is what the node controller watches.
    nodeLeaseDurationSeconds: leaseSeconds,
    // The machine is shared: do not evict or collect images on the disk's behalf.
    evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'imagefs.available': '1%' },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    rotateCertificates: false,
    protectKernelDefaults: false,
    maxPods: 110,
  });
}

/** Writes a node's containerd, CNI, registry and kubelet configuration under its root. */
export async function writeNodeConfig(config: RealNodeConfig, leaseSeconds: number): Promise<NodePaths> {
  const paths = nodePaths(config.node.name);
  await mkdir(join(paths.root, 'cni'), { recursive: true });
  await writeFile(paths.containerdConfig, containerdToml(config, paths));
  for (const registry of MIRRORED) {
    await mkdir(join(paths.root, 'certs.d', registry), { recursive: true });
    await writeFile(join(paths.root, 'certs.d', registry, 'hosts.toml'), hostsToml(config.registry));
  }
  await writeFile(join(paths.root, 'cni', '10-capstan.conflist'), cniConfig(config, paths));
  await writeFile(paths.kubeletConfig, kubeletConfiguration(config, paths, leaseSeconds));
  return paths;
}

/** containerd and the kubelet of one node, in start order. */
export function nodeSpecs(config: RealNodeConfig, paths: NodePaths): ComponentSpec[] {
  const { node, bin, logDir } = config;
  return [
    {
      name: `${node.name}/containerd`,
      command: join(bin, 'containerd'),
      args: ['--config', paths.containerdConfig],
      log: join(logDir, `${node.name}-containerd.log`),
      // The runc shim is found on PATH.
      env: { PATH: `${bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin` },
    },
    {
      name: `${node.name}/kubelet`,
      command: join(bin, 'kubelet'),
      args: [
        `--config=${paths.kubeletConfig}`,
        `--kubeconfig=${paths.kubeletKubeconfig}`,
        `--root-dir=${join(paths.root, 'kubelet')}`,
        `--cert-dir=${join(paths.root, 'kubelet-pki')}`,
        `--hostname-override=${node.name}`,
        `--node-ip=${node.address}`,
        '--node-labels=capstan.dev/node=real',
        // cAdvisor's per-container stats every 30 s instead of 10 s: most of an idle kubelet's work.
        '--housekeeping-interval=30s',
        '--v=1',
      ],
      log: join(logDir, `${node.name}-kubelet.log`),
    },
  ];
}
