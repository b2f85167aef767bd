import type {
  V1ConfigMap,
  V1Deployment,
  V1NetworkPolicy,
  V1PodDisruptionBudget,
  V1Secret,
  V1Service,
  V1StatefulSet,
} from '@kubernetes/client-node';
import type { DistributedApp, HAProxySpec, RedisSpec, ZooKeeperSpec } from '../api/schema.ts';
import { haproxyConfigMap } from './haproxy-config-map.ts';
import { haproxyDeployment } from './haproxy-deployment.ts';
import { haproxyService } from './haproxy-service.ts';
import type { Desired } from './metadata.ts';
import { appNames } from './names.ts';
import { redisNetworkPolicy, zooKeeperNetworkPolicy } from './network-policies.ts';
import type { Observed } from './observed.ts';
import { appIdentity } from './owner.ts';
import { podDisruptionBudget } from './pod-disruption-budgets.ts';
import { redisConfigMap } from './redis-config-map.ts';
import { redisDeployment } from './redis-deployment.ts';
import { redisSecret } from './redis-secret.ts';
import { redisService } from './redis-service.ts';
import { workersHeadlessService } from './worker-services.ts';
import { workerStatefulSet } from './worker-statefulset.ts';
import { zooKeeperConfigMap } from './zookeeper-config-map.ts';
import { zooKeeperSecret } from './zookeeper-secret.ts';
import { zooKeeperClientService, zooKeeperHeadlessService } from './zookeeper-services.ts';
import { zooKeeperStatefulSet } from './zookeeper-statefulset.ts';

/** Any object the operator creates for an app. */
export type DesiredObject = Desired<
  V1ConfigMap | V1Secret | V1Service | V1NetworkPolicy | V1StatefulSet | V1Deployment | V1PodDisruptionBudget
>;

/** The kinds `desiredState` can return, with their apiVersion: what the reconciler watches and prunes. */
export const OWNED_KINDS = [
  { apiVersion: 'v1', kind: 'Secret' },
  { apiVersion: 'v1', kind: 'ConfigMap' },
  { apiVersion: 'v1', kind: 'Service' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' },
  { apiVersion: 'apps/v1', kind: 'StatefulSet' },
  { apiVersion: 'apps/v1', kind: 'Deployment' },
  { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget' },
] as const satisfies readonly { apiVersion: string; kind: DesiredObject['kind'] }[];

function zooKeeperObjects(app: DistributedApp, zk: ZooKeeperSpec, observed: Observed): DesiredObject[] {
  return [
    zooKeeperConfigMap(app, zk, observed),
    zooKeeperHeadlessService(app, zk),
    zooKeeperClientService(app, zk),
    zooKeeperNetworkPolicy(app, zk, observed),
    zooKeeperStatefulSet(app, zk, observed),
    podDisruptionBudget(app, 'zookeeper', appNames(appIdentity(app).name).zookeeper, zk.image),
  ];
}

function redisObjects(app: DistributedApp, redis: RedisSpec, observed: Observed): DesiredObject[] {
  return [
    redisSecret(app, redis, observed),
    redisConfigMap(app, redis),
    redisService(app, redis),
    redisNetworkPolicy(app, redis, observed),
    redisDeployment(app, redis),
  ];
}

function workerObjects(app: DistributedApp, observed: Observed): DesiredObject[] {
  const { workers } = appNames(appIdentity(app).name);
  return [
    workersHeadlessService(app),
    workerStatefulSet(app, observed),
    podDisruptionBudget(app, 'workers', workers, app.spec.workers.image),
  ];
}

function haproxyObjects(app: DistributedApp, haproxy: HAProxySpec, observed: Observed): DesiredObject[] {
  return [
    haproxyConfigMap(app, haproxy, observed),
    haproxyService(app, haproxy),
    haproxyDeployment(app, haproxy, observed),
    podDisruptionBudget(app, 'haproxy', appNames(appIdentity(app).name).haproxy, haproxy.image),
  ];
}

/**
 * Every object the app needs, in the order to apply them: the ZooKeeper credentials, ZooKeeper, then Redis, then the workers that use
 * both, then HAProxy in front of the workers; within a component, Secrets and ConfigMaps before the
 * Services, NetworkPolicies and workloads that use them, and each PodDisruptionBudget last. An external
 * Redis or ZooKeeper yields no objects for that component (the workers get its address as given). Pure:
 * the same inputs give the same objects. Throws `ModelInputError` when the app has no name, namespace or
 * uid, lacks `observed.zooKeeperCredentials`, or runs an in-cluster Redis and `observed.redisPassword` is missing.
 */
export function desiredState(app: DistributedApp, observed: Observed): DesiredObject[] {
  const { zookeeper } = app.spec.coordination;
  const { redis } = app.spec.cache;
  return [
    zooKeeperSecret(app, observed),
    ...(zookeeper === undefined ? [] : zooKeeperObjects(app, zookeeper, observed)),
    ...(redis === undefined ? [] : redisObjects(app, redis, observed)),
    ...workerObjects(app, observed),
    ...haproxyObjects(app, app.spec.loadBalancer.haproxy, observed),
  ];
}
