/**
 * Every name the operator derives from a DistributedApp. Nothing else in the model builds a name, so the
 * longest-name arithmetic below covers every object the operator creates.
 */
import { PARTITIONS_MAX, ZOOKEEPER_REPLICAS } from '../api/limits.ts';

/** Kubernetes limit for DNS-1035/1123 labels: Service names, pod host names, label values. */
const DNS_LABEL_LIMIT = 63;
/** Kubernetes limit for DNS-1123 subdomains: most object names. */
const DNS_SUBDOMAIN_LIMIT = 253;
/** A StatefulSet's pods carry `controller-revision-hash: <statefulset>-<hash>`; the hash is up to 10 chars. */
const REVISION_HASH_SUFFIX = 11;

/** Suffix of each derived name, one per object role. */
const SUFFIX = {
  zookeeper: '-zookeeper',
  zookeeperHeadless: '-zookeeper-headless',
  zookeeperConfig: '-zookeeper-config',
  zookeeperAuth: '-zookeeper-auth',
  redis: '-redis',
  redisConfig: '-redis-config',
  redisAuth: '-redis-auth',
  workers: '-worker',
  workersHeadless: '-worker-headless',
  haproxy: '-haproxy',
  haproxyConfig: '-haproxy-config',
} as const;

/** The names of one app's objects. `<app>` below stands for `metadata.name` of the DistributedApp. */
export interface AppNames {
  /** ZooKeeper StatefulSet, client Service, PodDisruptionBudget and NetworkPolicy: `<app>-zookeeper`. */
  zookeeper: string;
  /** ZooKeeper headless Service (member DNS names): `<app>-zookeeper-headless`. */
  zookeeperHeadless: string;
  /** ConfigMap with `zoo.cfg`: `<app>-zookeeper-config`. */
  zookeeperConfig: string;
  /** Secret with the generated ZooKeeper digest passwords of the operator and the workers: `<app>-zookeeper-auth`. */
  zookeeperAuth: string;
  /** Redis Deployment, Service and NetworkPolicy: `<app>-redis`. */
  redis: string;
  /** ConfigMap with `redis.conf`: `<app>-redis-config`. */
  redisConfig: string;
  /** Secret with the generated Redis password: `<app>-redis-auth`. */
  redisAuth: string;
  /** Worker StatefulSet and PodDisruptionBudget: `<app>-worker`. */
  workers: string;
  /** Worker headless Service (RPC, HAProxy discovery): `<app>-worker-headless`. */
  workersHeadless: string;
  /** HAProxy Deployment, Service and PodDisruptionBudget: `<app>-haproxy`. */
  haproxy: string;
  /** ConfigMap with `haproxy.cfg`: `<app>-haproxy-config`. */
  haproxyConfig: string;
}

/** All derived names of the app called `app`. Pure; does not validate `app`. */
export function appNames(app: string): AppNames {
  return {
    zookeeper: app + SUFFIX.zookeeper,
    zookeeperHeadless: app + SUFFIX.zookeeperHeadless,
    zookeeperConfig: app + SUFFIX.zookeeperConfig,
    zookeeperAuth: app + SUFFIX.zookeeperAuth,
    redis: app + SUFFIX.redis,
    redisConfig: app + SUFFIX.redisConfig,
    redisAuth: app + SUFFIX.redisAuth,
    workers: app + SUFFIX.workers,
    workersHeadless: app + SUFFIX.workersHeadless,
    haproxy: app + SUFFIX.haproxy,
    haproxyConfig: app + SUFFIX.haproxyConfig,
  };
}

/** Name of the pod with `ordinal` of the StatefulSet `statefulSet`. */
export function podName(statefulSet: string, ordinal: number): string {
  return `${statefulSet}-${ordinal}`;
}

/** The ordinal of a worker pod of `app` (`<app>-worker-<n>`), or undefined for any other name. */
export function workerOrdinal(app: string, pod: string): number | undefined {
  const prefix = `${appNames(app).workers}-`;
  const rest = pod.startsWith(prefix) ? pod.slice(prefix.length) : '';
  return /^(0|[1-9]\d*)$/.test(rest) ? Number(rest) : undefined;
}

/** Name of the volume claim template holding each ZooKeeper member's data. */
export const ZOOKEEPER_DATA_VOLUME = 'data';

/** Stable DNS name of a StatefulSet pod behind its headless Service. */
export function podDnsName(pod: string, headlessService: string, namespace: string, domain: string): string {
  return `${pod}.${serviceDnsName(headlessService, namespace, domain)}`;
}

/** Fully qualified DNS name of a Service (`<service>.<namespace>.svc.<cluster domain>`). */
export function serviceDnsName(service: string, namespace: string, domain: string): string {
  return `${service}.${namespace}.svc.${domain}`;
}

/** One derived name and the Kubernetes limit it must respect. */
export interface NameLimit {
  what: string;
  name: string;
  max: number;
}

function lastOrdinal(replicas: number): number {
  return replicas - 1;
}

/**
 * Every derived name of `app` with the limit Kubernetes puts on it, taking the largest replica counts the
 * API allows (pod names and revision-hash labels grow with the ordinal).
 */
export function nameLimits(app: string): NameLimit[] {
  const n = appNames(app);
  const zkPod = podName(n.zookeeper, lastOrdinal(Math.max(...ZOOKEEPER_REPLICAS)));
  const workerPod = podName(n.workers, lastOrdinal(PARTITIONS_MAX));
  const statefulSets = [n.zookeeper, n.workers];
  const services = [n.zookeeper, n.zookeeperHeadless, n.redis, n.workersHeadless, n.haproxy];
  const others = [n.zookeeperConfig, n.redisConfig, n.redisAuth, n.haproxyConfig, n.redis, n.haproxy];
  return [
    ...statefulSets.map((name) => ({
      what: 'StatefulSet',
      name,
      max: DNS_LABEL_LIMIT - REVISION_HASH_SUFFIX,
    })),
    ...services.map((name) => ({ what: 'Service', name, max: DNS_LABEL_LIMIT })),
    ...[zkPod, workerPod].map((name) => ({ what: 'pod host name', name, max: DNS_LABEL_LIMIT })),
    { what: 'app label value', name: app, max: DNS_LABEL_LIMIT },
    ...others.map((name) => ({ what: 'object', name, max: DNS_SUBDOMAIN_LIMIT })),
  ];
}

/**
 * The longest app name for which every derived name stays within its Kubernetes limit (computed from the
 * suffixes above, so adding a longer suffix lowers it). The CRD's CEL rule on `metadata.name` must not
 * allow more than this.
 */
export const MAX_APP_NAME_LENGTH = Math.min(...nameLimits('').map((limit) => limit.max - limit.name.length));
