/**
 * The local cluster's address plan: every address it uses sits on interfaces it creates, so the
 * cluster's own traffic stays on loopback, its bridges and the pod namespaces it made.
 *
 *   10.243.0.0/24  capstan0, an empty bridge that carries the host side: .1 is the control plane and
 *                  CoreDNS, .2+ are the real nodes' kubelets (one address per node)
 *   10.244.N.0/24  the pod network of real node N, on the bridge capstan-brN (gateway .1)
 *   10.96.0.0/16   Service ClusterIPs (kube-proxy, nftables); routed into capstan0 so an unprogrammed
 *                  ClusterIP goes nowhere rather than out of the machine
 *   10.245.0.0/16  kwok's fake pod addresses: unreachable, so nothing ever sends to them
 */
export const HOST_BRIDGE = 'capstan0';
export const HOST_CIDR = '10.243.0.0/24';
export const HOST_ADDRESS = '10.243.0.1';
export const POD_CIDR = '10.244.0.0/16';
export const SERVICE_CIDR = '10.96.0.0/16';
export const KUBERNETES_SERVICE_IP = '10.96.0.1';
export const DNS_SERVICE_IP = '10.96.0.10';
export const KWOK_POD_CIDR = '10.245.0.0/16';
export const CLUSTER_DOMAIN = 'cluster.local';

/** Every range the cluster claims; start-up refuses to run when the machine already routes one of them. */
export const CLAIMED_RANGES = [HOST_CIDR, POD_CIDR, SERVICE_CIDR, KWOK_POD_CIDR];

/** The most real nodes the plan has room for (one /24 of pods and one host address each). */
export const MAX_REAL_NODES = 8;

/** Addresses and names of real node `index` (0-based). */
export interface NodeAddresses {
  name: string;
  /** The kubelet's address (InternalIP), on capstan0. */
  address: string;
  bridge: string;
  podCidr: string;
  podGateway: string;
}

export function nodeAddresses(index: number): NodeAddresses {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_REAL_NODES) {
    throw new RangeError(`real node index ${index} is outside 0..${MAX_REAL_NODES - 1}`);
  }
  return {
    name: `capstan-node-${index}`,
    address: `10.243.0.${index + 2}`,
    bridge: `capstan-br${index}`,
    podCidr: `10.244.${index}.0/24`,
    podGateway: `10.244.${index}.1`,
  };
}
