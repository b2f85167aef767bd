import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { CONNECT_STRING_MAX_LENGTH, ZOOKEEPER_REPLICAS } from './limits.ts';
import { Image, Resources } from './schema-common.ts';
import { Quantity } from './schema-helpers.ts';

/** `spec.coordination.zookeeper.storage`: each member's data volume. */
export const ZooKeeperStorage = Type.Object(
  {
    size: Quantity({ description: 'Size of each member data volume. Default: 1Gi.', default: '1Gi' }),
    storageClassName: Type.Optional(
      Type.String({
        description: "StorageClass of the volumes. Unset: the cluster's default StorageClass.",
        minLength: 1,
        maxLength: 253,
      }),
    ),
  },
  { description: 'Persistent volume of each ZooKeeper member.', default: {} },
);

/** `spec.coordination.zookeeper`: a ZooKeeper ensemble the operator runs in the cluster. */
export const ZooKeeperSpec = Type.Object(
  {
    replicas: Type.Integer({
      description:
        'Ensemble size: 1, 3, 5 or 7 (odd, so a majority survives (n-1)/2 member failures). Default: 1.',
      default: 1,
      minimum: 1,
      maximum: 7,
      'x-kubernetes-validations': [
        {
          rule: `self in [${ZOOKEEPER_REPLICAS.join(', ')}]`,
          message: `zookeeper replicas must be odd: one of ${ZOOKEEPER_REPLICAS.join(', ')}`,
        },
      ],
    }),
    image: Image('zookeeper:3.9', 'ZooKeeper'),
    storage: ZooKeeperStorage,
    resources: Type.Optional(Resources('each ZooKeeper container')),
  },
  { description: 'An in-cluster ZooKeeper ensemble run by the operator as a StatefulSet.' },
);
export type ZooKeeperSpec = Static<typeof ZooKeeperSpec>;

/** `spec.coordination.external`: an existing ZooKeeper ensemble. */
export const ExternalZooKeeperSpec = Type.Object(
  {
    connectString: Type.String({
      description:
        'ZooKeeper connect string: comma-separated host:port pairs with an optional chroot, ' +
        'for example zk-0.zk:2181,zk-1.zk:2181/capstan.',
      minLength: 1,
      maxLength: CONNECT_STRING_MAX_LENGTH,
      pattern: '^[A-Za-z0-9.-]+:[0-9]{1,5}(,[A-Za-z0-9.-]+:[0-9]{1,5})*(/[^\\s,]*)?$',
    }),
  },
  { description: 'An existing ZooKeeper ensemble outside the app.' },
);
export type ExternalZooKeeperSpec = Static<typeof ExternalZooKeeperSpec>;

/** `spec.coordination`: exactly one of an in-cluster ZooKeeper or an external one. */
export const CoordinationSpec = Type.Object(
  {
    zookeeper: Type.Optional(ZooKeeperSpec),
    external: Type.Optional(ExternalZooKeeperSpec),
  },
  {
    description:
      'ZooKeeper for membership and partition ownership: in-cluster (zookeeper) or external, exactly one. ' +
      'Default: an in-cluster ensemble of 1.',
    default: { zookeeper: {} },
    'x-kubernetes-validations': [
      {
        rule: 'has(self.zookeeper) != has(self.external)',
        message:
          'set exactly one of coordination.zookeeper (in-cluster ensemble) or coordination.external (connect string)',
      },
      {
        // A transition rule (updates only): the assignment and its epochs live in this ZooKeeper.
        rule:
          'has(self.zookeeper) == has(oldSelf.zookeeper) && (!has(self.external) || !has(oldSelf.external) || ' +
          'self.external.connectString == oldSelf.external.connectString)',
        message:
          'coordination cannot switch between zookeeper and external, nor change external.connectString: the ' +
          "partitions' epochs live in that ZooKeeper, so another one would start them again and let a stale " +
          "owner's writes through; create a new app instead",
      },
    ],
  },
);
export type CoordinationSpec = Static<typeof CoordinationSpec>;
