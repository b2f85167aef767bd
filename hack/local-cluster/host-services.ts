/**
 * The services the real nodes share, run as host processes because the nodes share the host's
 * network namespace: one kube-proxy (nftables mode) programs Service ClusterIPs for every node,
 * CoreDNS answers for cluster.local behind the kube-dns Service, a local OCI registry on
 * loopback serves the images the nodes' containerds pull, and one NetworkPolicy agent (built on
 * kube-network-policies' engine, hack/tools/network-policies) filters the traffic of every node's pods.
 *
 * CoreDNS has no `forward` plugin: names outside the cluster get no answer from anywhere else.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import {
  CLUSTER_DOMAIN,
  DNS_SERVICE_IP,
  HOST_ADDRESS,
  HOST_CIDR,
  POD_CIDR,
  nodeAddresses,
} from './addresses.ts';
import type { ComponentSpec } from './detached.ts';

/** Ports of the host services, chosen free at start. */
export interface HostServicePorts {
  registry: number;
  kubeProxyHealthz: number;
  kubeProxyMetrics: number;
  corednsHealth: number;
  corednsReady: number;
  networkPoliciesHealthz: number;
}

/** What the host services are rendered from. */
export interface HostServicesConfig {
  dir: string;
  bin: string;
  ports: HostServicePorts;
  kubeProxyKubeconfig: string;
  corednsKubeconfig: string;
  networkPoliciesKubeconfig: string;
  /** The real nodes, whose pods the NetworkPolicy agent serves. */
  nodes: string[];
  /** Where the registry keeps its blobs: outside the state dir, so images survive a cluster restart. */
  registryDir: string;
}

/** host:port of the local registry. */
export function registryAddress(ports: HostServicePorts): string {
  return `127.0.0.1:${ports.registry}`;
}

function kubeProxyConfiguration(config: HostServicesConfig): string {
  const { ports } = config;
  return stringify({
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    mode: 'nftables',
    clientConnection: { kubeconfig: config.kubeProxyKubeconfig },
    clusterCIDR: POD_CIDR,
    hostnameOverride: nodeAddresses(0).name,
    healthzBindAddress: `127.0.0.1:${ports.kubeProxyHealthz}`,
    metricsBindAddress: `127.0.0.1:${ports.kubeProxyMetrics}`,
    // NodePorts only on the cluster's host bridge, never on the machine's outside interface.
    nodePortAddresses: [HOST_CIDR],
    // Leave the machine's conntrack table size alone (0 = do not touch).
    conntrack: { maxPerCore: 0, min: 0 },
  });
}

function corefile(config: HostServicesConfig): string {
  const { ports } = config;
  return `.:53 {
    bind ${HOST_ADDRESS}
    errors
    health 127.0.0.1:${ports.corednsHealth}
    ready 127.0.0.1:${ports.corednsReady}
    kubernetes ${CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {
        kubeconfig ${config.corednsKubeconfig}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 30
    loadbalance
}
`;
}

/** Writes kube-proxy's and CoreDNS's configuration and returns the four host services' command lines. */
export async function hostServiceSpecs(config: HostServicesConfig): Promise<ComponentSpec[]> {
  const { dir, bin, ports } = config;
  const kubeProxyConfig = join(dir, 'kube-proxy.yaml');
  const corefilePath = join(dir, 'Corefile');
  await writeFile(kubeProxyConfig, kubeProxyConfiguration(config));
  await writeFile(corefilePath, corefile(config));
  const log = (name: string): string => join(dir, 'logs', `${name}.log`);
  return [
    {
      name: 'registry',
      command: join(bin, 'crane'),
      args: ['registry', 'serve', '--address', registryAddress(ports), '--disk', config.registryDir],
      log: log('registry'),
      // Pushes of large layers leave a big heap behind; have the Go runtime give it back.
      env: { GOMEMLIMIT: '64MiB', GOGC: '50' },
    },
    {
      name: 'kube-proxy',
      command: join(bin, 'kube-proxy'),
      args: [`--config=${kubeProxyConfig}`, '--v=1'],
      log: log('kube-proxy'),
    },
    { name: 'coredns', command: join(bin, 'coredns'), args: ['-conf', corefilePath], log: log('coredns') },
    {
      name: 'network-policies',
      command: join(bin, 'network-policies'),
      args: [
        `--kubeconfig=${config.networkPoliciesKubeconfig}`,
        `--nodes=${config.nodes.join(',')}`,
        `--healthz-bind-address=127.0.0.1:${ports.networkPoliciesHealthz}`,
      ],
      log: log('network-policies'),
    },
  ];
}

/**
 * The kube-dns Service (selector-less, at the address the kubelets give pods as their nameserver)
 * and the EndpointSlice that points it at CoreDNS on the host bridge.
 */
export function dnsServiceObjects(): object[] {
  const ports = [
    { name: 'dns', port: 53, protocol: 'UDP' },
    { name: 'dns-tcp', port: 53, protocol: 'TCP' },
  ];
  return [
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kube-dns', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } },
      spec: { clusterIP: DNS_SERVICE_IP, ports: ports.map((p) => ({ ...p, targetPort: 53 })) },
    },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: 'kube-dns-host',
        namespace: 'kube-system',
        labels: {
          'kubernetes.io/service-name': 'kube-dns',
          'endpointslice.kubernetes.io/managed-by': 'capstan.dev-local-cluster',
        },
      },
      addressType: 'IPv4',
      endpoints: [{ addresses: [HOST_ADDRESS], conditions: { ready: true } }],
      ports,
    },
  ];
}

/** A ClusterRole of read-only rules, bound to the user (certificate common name) of the same name. */
function readerRbac(name: string, rules: object[]): object[] {
  return [
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name }, rules },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name }],
    },
  ];
}

/** The users of the host services' client certificates. */
export const HOST_SERVICE_USERS = {
  coredns: 'capstan-local:coredns',
  networkPolicies: 'capstan-local:network-policies',
} as const;

/**
 * Read access of the host services: CoreDNS's is what the upstream system:coredns ClusterRole
 * grants; the NetworkPolicy agent's is what kube-network-policies' ClusterRole grants.
 */
export function hostServiceRbacObjects(): object[] {
  return [
    ...readerRbac(HOST_SERVICE_USERS.coredns, [
      {
        apiGroups: [''],
        resources: ['endpoints', 'services', 'pods', 'namespaces'],
        verbs: ['list', 'watch'],
      },
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
    ]),
    ...readerRbac(HOST_SERVICE_USERS.networkPolicies, [
      { apiGroups: [''], resources: ['pods', 'namespaces', 'nodes'], verbs: ['list', 'watch'] },
      { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: ['list', 'watch'] },
    ]),
  ];
}
