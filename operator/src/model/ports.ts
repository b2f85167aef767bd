/** Container ports of the components; Services map their own ports onto these by name. */
export const PORTS = {
  /** The worker's HTTP server: public API behind HAProxy, internal RPC, probes and metrics. */
  worker: 8080,
  redis: 6379,
  zookeeperClient: 2181,
  zookeeperQuorum: 2888,
  zookeeperElection: 3888,
  /** HAProxy's public frontend inside the pod (unprivileged; the Service maps spec's port onto it). */
  haproxyHttp: 8080,
  /** HAProxy's stats page and Prometheus exporter; not on the public Service. */
  haproxyStats: 8404,
  /** HAProxy's admin socket, on loopback in its pod. */
  haproxyRuntime: 9999,
} as const;
