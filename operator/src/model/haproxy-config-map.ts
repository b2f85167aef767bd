import type { V1ConfigMap } from '@kubernetes/client-node';
import { renderHaproxyConfig } from '../../../common/src/haproxy-config.ts';
import { haproxyPartitionSample } from '../../../common/src/partition.ts';
import type { DistributedApp, HAProxySpec } from '../api/schema.ts';
import type { Desired } from './metadata.ts';
import { objectMeta } from './metadata.ts';
import { ModelInputError } from './model-error.ts';
import { appNames, serviceDnsName } from './names.ts';
import { clusterDomain } from './observed.ts';
import type { Observed } from './observed.ts';
import { appIdentity } from './owner.ts';
import { PORTS } from './ports.ts';

/** Key of `haproxy.cfg` in the ConfigMap. */
export const HAPROXY_CONFIG_FILE = 'haproxy.cfg';
/** Key of the partition -> owner map, empty in the ConfigMap: the owner-map container fills it at run time. */
export const HAPROXY_OWNER_MAP_FILE = 'owners.map';
/** Where the ConfigMap is mounted in the HAProxy pod. */
export const HAPROXY_CONFIG_DIR = '/usr/local/etc/haproxy';
/** The key of a request is its third path segment (`/v1/cache/<key>`, `/v1/counters/<key>/incr`). */
const KEY_SEGMENT = 3;

/**
 * Fewest `server-template` slots HAProxy gets. Each slot has its own health-check task, which wakes every
 * check interval even while the slot has no address: 64 slots (one per partition, as before) cost an
 * idle HAProxy pod about 1 % of a core, 4 filled ones almost nothing.
 */
export const HAPROXY_MIN_SERVER_SLOTS = 8;

/**
 * The `server-template` slots for a worker StatefulSet of `workers` pods: the next power of two, at least
 * {@link HAPROXY_MIN_SERVER_SLOTS}, at most one per partition (no more workers can own one). Slots change
 * `haproxy.cfg`, so HAProxy rolls, only when the workers cross a power of two above the minimum (8 -> 9,
 * 16 -> 17 and back), not at every scale. A worker without a slot while HAProxy rolls gets no traffic
 * from it and its partitions are reached through the one-hop forward. The StatefulSet's size, not
 * `spec.workers.replicas`, decides, so a scale-down keeps the slots of the draining workers until they
 * are gone.
 */
export function haproxyServerSlots(workers: number, partitions: number): number {
  let slots = HAPROXY_MIN_SERVER_SLOTS;
  while (slots < workers) slots *= 2;
  return Math.min(slots, partitions);
}

/** Extra attempts on another worker after a connection failure (with redispatch). */
const RETRIES = 3;

/** Placeholder nameserver handed to the renderer; replaced by `parse-resolv-conf` below. */
const PLACEHOLDER_NAMESERVER = '127.0.0.1:53';

/**
 * Points the `resolvers` section at the pod's own `/etc/resolv.conf` (the cluster DNS) instead of a fixed
 * nameserver: the shared renderer only writes `nameserver` lines, and the cluster DNS address is not known
 * to a pure builder.
 */
function useResolvConf(config: string): string {
  const line = `  nameserver ns1 ${PLACEHOLDER_NAMESERVER}`;
  if (!config.includes(`\n${line}\n`)) {
    throw new ModelInputError(
      'haproxy.cfg',
      'the rendered resolvers section has no nameserver line to replace',
    );
  }
  return config.replace(line, '  parse-resolv-conf');
}

/**
 * The rendered config files of HAProxy: workers discovered with `server-template` through the cluster DNS
 * on the workers' headless Service ({@link haproxyServerSlots} slots), health checks on `/readyz`,
 * retries with redispatch, routing to each request's partition owner from `owners.map` (filled through
 * the admin socket on loopback), the stats page and the Prometheus exporter on their own port.
 */
export function haproxyFiles(
  app: DistributedApp,
  haproxy: HAProxySpec,
  observed: Observed,
): Record<string, string> {
  const { name, namespace } = appIdentity(app);
  const config = renderHaproxyConfig({
    frontend: { bind: '0.0.0.0', port: PORTS.haproxyHttp },
    backend: {
      serverTemplate: {
        prefix: 'worker',
        count: haproxyServerSlots(
          observed.workerReplicas ?? app.spec.workers.replicas,
          app.spec.workers.partitions,
        ),
        fqdn: serviceDnsName(appNames(name).workersHeadless, namespace, clusterDomain(observed)),
        port: PORTS.worker,
      },
      resolvers: { nameserver: PLACEHOLDER_NAMESERVER },
    },
    healthCheck: { path: '/readyz', interval: 1000 },
    algorithm: haproxy.algorithm,
    retries: RETRIES,
    stats: { bind: '0.0.0.0', port: PORTS.haproxyStats },
    ownerRouting: {
      sample: haproxyPartitionSample(app.spec.workers.partitions, KEY_SEGMENT),
      mapFile: `${HAPROXY_CONFIG_DIR}/${HAPROXY_OWNER_MAP_FILE}`,
    },
    // Loopback: only the owner-map container beside HAProxy reaches the admin socket.
    runtime: { bind: '127.0.0.1', port: PORTS.haproxyRuntime },
  });
  return { [HAPROXY_CONFIG_FILE]: useResolvConf(config), [HAPROXY_OWNER_MAP_FILE]: '' };
}

/** The ConfigMap holding `haproxy.cfg`. */
export function haproxyConfigMap(
  app: DistributedApp,
  haproxy: HAProxySpec,
  observed: Observed,
): Desired<V1ConfigMap> {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: objectMeta(app, 'haproxy', appNames(appIdentity(app).name).haproxyConfig, haproxy.image),
    data: haproxyFiles(app, haproxy, observed),
  };
}
