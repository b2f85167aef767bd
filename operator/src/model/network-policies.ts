import type { V1NetworkPolicy, V1NetworkPolicyPeer, V1NetworkPolicyPort } from '@kubernetes/client-node';
import type { DistributedApp, RedisSpec, ZooKeeperSpec } from '../api/schema.ts';
import { selectorLabels } from './labels.ts';
import type { Desired } from './metadata.ts';
import { objectMeta } from './metadata.ts';
import { appNames } from './names.ts';
import { DEFAULT_OPERATOR_PEER } from './observed.ts';
import type { Observed } from './observed.ts';
import { appIdentity } from './owner.ts';
import { PORTS } from './ports.ts';

// `_from` is client-node's name for the `from` field; its serializer writes `from` on the wire.

function tcp(...ports: number[]): V1NetworkPolicyPort[] {
  return ports.map((port) => ({ protocol: 'TCP', port }));
}

/** The app's worker pods and the operator's pods (in the operator's namespace). */
function clients(app: DistributedApp, observed: Observed): V1NetworkPolicyPeer[] {
  const operator = observed.operator ?? DEFAULT_OPERATOR_PEER;
  return [
    { podSelector: { matchLabels: selectorLabels(app, 'workers') } },
    {
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': operator.namespace } },
      podSelector: { matchLabels: { ...operator.podLabels } },
    },
  ];
}

/** Only the app's workers and the operator reach Redis, on the Redis port. */
export function redisNetworkPolicy(
  app: DistributedApp,
  redis: RedisSpec,
  observed: Observed,
): Desired<V1NetworkPolicy> {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: objectMeta(app, 'redis', appNames(appIdentity(app).name).redis, redis.image),
    spec: {
      podSelector: { matchLabels: selectorLabels(app, 'redis') },
      policyTypes: ['Ingress'],
      ingress: [{ _from: clients(app, observed), ports: tcp(PORTS.redis) }],
    },
  };
}

/**
 * Only the app's workers, the operator and the app's HAProxy pods (their owner-map process reads who owns
 * what) reach the ZooKeeper client port; only the members reach each other's quorum and election ports.
 */
export function zooKeeperNetworkPolicy(
  app: DistributedApp,
  zookeeper: ZooKeeperSpec,
  observed: Observed,
): Desired<V1NetworkPolicy> {
  const members = { podSelector: { matchLabels: selectorLabels(app, 'zookeeper') } };
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: objectMeta(app, 'zookeeper', appNames(appIdentity(app).name).zookeeper, zookeeper.image),
    spec: {
      podSelector: members.podSelector,
      policyTypes: ['Ingress'],
      ingress: [
        {
          _from: [
            ...clients(app, observed),
            { podSelector: { matchLabels: selectorLabels(app, 'haproxy') } },
          ],
          ports: tcp(PORTS.zookeeperClient),
        },
        {
          _from: [members],
          ports: tcp(PORTS.zookeeperClient, PORTS.zookeeperQuorum, PORTS.zookeeperElection),
        },
      ],
    },
  };
}
