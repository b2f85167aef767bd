/**
 * DistributedApp objects the apiserver must reject at admission. Each case edits a valid base object
 * and names the field the error message must mention.
 */

type Json = { [key: string]: unknown };

/** One invalid object: `edit` turns the valid base into it; the error must name `field`. */
export interface InvalidCase {
  name: string;
  /** Text the rejection must contain: the offending field's path. */
  field: string;
  edit: (app: Json) => void;
}

/** A valid app to start each case from. */
export function baseApp(name: string): Json {
  return {
    apiVersion: 'capstan.dev/v1alpha1',
    kind: 'DistributedApp',
    metadata: { name },
    spec: { workers: { upstream: 'http://backend.default.svc:8080', replicas: 3, partitions: 64 } },
  };
}

/** Sets `value` at a dotted path under `app`, creating objects on the way. */
export function setPath(app: Json, path: string, value: unknown): void {
  const keys = path.split('.');
  const last = keys.pop()!;
  let node = app;
  for (const key of keys) {
    node[key] ??= {};
    node = node[key] as Json;
  }
  node[last] = value;
}

const set =
  (...pairs: [string, unknown][]) =>
  (app: Json): void => {
    for (const [path, value] of pairs) setPath(app, path, value);
  };

const sentry = { dsnSecretRef: { name: 'sentry' } };

export const INVALID_CASES: InvalidCase[] = [
  // Type errors.
  {
    name: 'replicas is a string',
    field: 'spec.workers.replicas',
    edit: set(['spec.workers.replicas', 'three']),
  },
  {
    name: 'partitions is a string',
    field: 'spec.workers.partitions',
    edit: set(['spec.workers.partitions', '64']),
  },
  {
    name: 'forceDeletePodsOnFailedNodes is a string',
    field: 'spec.failurePolicy.forceDeletePodsOnFailedNodes',
    edit: set(['spec.failurePolicy.forceDeletePodsOnFailedNodes', 'yes']),
  },
  { name: 'env is a string', field: 'spec.workers.env', edit: set(['spec.workers.env', 'LOG=debug']) },
  {
    name: 'sampleRate is a string',
    field: 'spec.errorReporting.sentry.sampleRate',
    edit: set(['spec.errorReporting.sentry', { ...sentry, sampleRate: 'half' }]),
  },
  // Out-of-range numbers.
  { name: 'partitions 0', field: 'spec.workers.partitions', edit: set(['spec.workers.partitions', 0]) },
  { name: 'partitions 5000', field: 'spec.workers.partitions', edit: set(['spec.workers.partitions', 5000]) },
  { name: 'replicas 0', field: 'spec.workers.replicas', edit: set(['spec.workers.replicas', 0]) },
  {
    name: 'sampleRate above 1',
    field: 'spec.errorReporting.sentry.sampleRate',
    edit: set(['spec.errorReporting.sentry', { ...sentry, sampleRate: 1.5 }]),
  },
  {
    name: 'sampleRate below 0',
    field: 'spec.errorReporting.sentry.sampleRate',
    edit: set(['spec.errorReporting.sentry', { ...sentry, sampleRate: -0.1 }]),
  },
  {
    name: 'rebalanceDelaySeconds above an hour',
    field: 'spec.failurePolicy.rebalanceDelaySeconds',
    edit: set(['spec.failurePolicy.rebalanceDelaySeconds', 7200]),
  },
  {
    name: 'crashLoopRestartAfterSeconds below 10',
    field: 'spec.failurePolicy.crashLoopRestartAfterSeconds',
    edit: set(['spec.failurePolicy.crashLoopRestartAfterSeconds', 5]),
  },
  {
    name: 'service port 70000',
    field: 'spec.loadBalancer.haproxy.service.port',
    edit: set(['spec.loadBalancer.haproxy.service.port', 70000]),
  },
  {
    name: 'nodePort outside the node port range',
    field: 'spec.loadBalancer.haproxy.service.nodePort',
    edit: set(['spec.loadBalancer.haproxy.service', { type: 'NodePort', nodePort: 80 }]),
  },
  {
    name: 'zookeeper replicas 9',
    field: 'spec.coordination.zookeeper.replicas',
    edit: set(['spec.coordination.zookeeper.replicas', 9]),
  },
  // Enums and patterns.
  {
    name: 'unknown eviction policy',
    field: 'spec.cache.redis.evictionPolicy',
    edit: set(['spec.cache.redis.evictionPolicy', 'lru']),
  },
  {
    name: 'unknown balance algorithm',
    field: 'spec.loadBalancer.haproxy.algorithm',
    edit: set(['spec.loadBalancer.haproxy.algorithm', 'fastest']),
  },
  {
    name: 'unsupported service type',
    field: 'spec.loadBalancer.haproxy.service.type',
    edit: set(['spec.loadBalancer.haproxy.service.type', 'ExternalName']),
  },
  { name: 'app name with capitals', field: 'spec.workers.app', edit: set(['spec.workers.app', 'Counters']) },
  {
    name: 'memory limit is not a quantity',
    field: 'spec.workers.resources.limits.memory',
    edit: set(['spec.workers.resources', { limits: { memory: 'lots' } }]),
  },
  {
    name: 'connect string without a port',
    field: 'spec.coordination.external.connectString',
    edit: set(['spec.coordination', { external: { connectString: 'zk-0.zk' } }]),
  },
  {
    name: 'image with a space',
    field: 'spec.workers.image',
    edit: set(['spec.workers.image', 'worker latest']),
  },
  // Unknown fields (strict field validation).
  {
    name: 'unknown field replica (typo)',
    field: 'spec.workers.replica',
    edit: set(['spec.workers.replica', 2]),
  },
  {
    name: 'plain Redis password',
    field: 'spec.cache.redis.password',
    edit: set(['spec.cache.redis', { password: 'secret' }]),
  },
  {
    name: 'plain Sentry DSN',
    field: 'spec.errorReporting.sentry.dsn',
    edit: set(['spec.errorReporting.sentry', { ...sentry, dsn: 'https://k@sentry/1' }]),
  },
  // Required fields.
  { name: 'no workers', field: 'spec.workers', edit: set(['spec', {}]) },
  {
    name: 'external cache without url',
    field: 'spec.cache.external.url',
    edit: set(['spec.cache', { external: { passwordSecretRef: { name: 'redis' } } }]),
  },
  {
    name: 'sentry without dsnSecretRef',
    field: 'spec.errorReporting.sentry.dsnSecretRef',
    edit: set(['spec.errorReporting.sentry', { sampleRate: 0.5 }]),
  },
  // Cross-field rules (CEL).
  {
    name: 'zookeeper replicas even',
    field: 'spec.coordination.zookeeper.replicas',
    edit: set(['spec.coordination.zookeeper.replicas', 2]),
  },
  {
    name: 'in-cluster and external Redis together',
    field: 'spec.cache',
    edit: set(['spec.cache', { redis: {}, external: { url: 'redis://redis:6379' } }]),
  },
  { name: 'cache with neither form', field: 'spec.cache', edit: set(['spec.cache', {}]) },
  {
    name: 'in-cluster and external ZooKeeper together',
    field: 'spec.coordination',
    edit: set(['spec.coordination', { zookeeper: { replicas: 3 }, external: { connectString: 'zk:2181' } }]),
  },
  {
    name: 'replicas above partitions',
    field: 'spec.workers.replicas',
    edit: set(['spec.workers.replicas', 10], ['spec.workers.partitions', 8]),
  },
  {
    name: 'cache-gateway without upstream',
    field: 'spec.workers.upstream',
    edit: set(['spec.workers', { app: 'cache-gateway' }]),
  },
  {
    name: 'upstream not http',
    field: 'spec.workers.upstream',
    edit: set(['spec.workers.upstream', 'ftp://x/y']),
  },
  {
    name: 'external Redis url not redis://',
    field: 'spec.cache.external.url',
    edit: set(['spec.cache', { external: { url: 'http://redis:6379' } }]),
  },
  {
    name: 'cpu request above limit',
    field: 'spec.workers.resources.requests.cpu',
    edit: set(['spec.workers.resources', { requests: { cpu: 2 }, limits: { cpu: '500m' } }]),
  },
  {
    name: 'redis maxMemory not below its memory limit',
    field: 'spec.cache.redis.maxMemory',
    edit: set(['spec.cache.redis', { maxMemory: '1Gi', resources: { limits: { memory: '512Mi' } } }]),
  },
  {
    name: 'nodePort with a ClusterIP service',
    field: 'spec.loadBalancer.haproxy.service.nodePort',
    edit: set(['spec.loadBalancer.haproxy.service', { nodePort: 30080 }]),
  },
  {
    name: 'env name reserved for the operator',
    field: 'spec.workers.env[0].name',
    edit: set(['spec.workers.env', [{ name: 'CAPSTAN_ZK', value: 'x' }]]),
  },
  {
    name: 'env with value and valueFrom',
    field: 'spec.workers.env[0]',
    edit: set(['spec.workers.env', [{ name: 'A', value: 'x', valueFrom: { secretKeyRef: { name: 's' } } }]]),
  },
  {
    name: 'duplicate env names',
    field: 'spec.workers.env[1]',
    edit: set([
      'spec.workers.env',
      [
        { name: 'A', value: 'x' },
        { name: 'A', value: 'y' },
      ],
    ]),
  },
  {
    name: 'app name longer than 40 characters',
    field: 'metadata.name',
    edit: set(['metadata.name', `app-${'x'.repeat(37)}`]),
  },
  { name: 'app name not a DNS-1035 label', field: 'metadata.name', edit: set(['metadata.name', '1st-app']) },
];
