import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { CONDITIONS_MAX_ITEMS, PARTITIONS_MAX, STATUS_MAP_MAX_PROPERTIES } from './limits.ts';
import { StringEnum, StringMap } from './schema-helpers.ts';

/** Condition types the operator sets. */
export const CONDITION_TYPES = ['Ready', 'Progressing', 'Degraded', 'Rebalancing', 'CacheAvailable'] as const;

/** Phases shown in `kubectl get dapp`. */
export const PHASES = ['Pending', 'Progressing', 'Running', 'Degraded', 'Failed'] as const;

/** A condition in the shape of metav1.Condition, so `kubectl wait --for=condition=Ready` works. */
export const Condition = Type.Object(
  {
    type: Type.String({
      description: 'Type of condition in CamelCase, for example Ready.',
      minLength: 1,
      maxLength: 316,
      pattern:
        '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
    }),
    status: StringEnum(['True', 'False', 'Unknown'] as const, { description: 'Status of the condition.' }),
    observedGeneration: Type.Optional(
      Type.Integer({
        description: 'metadata.generation the condition was set for.',
        format: 'int64',
        minimum: 0,
      }),
    ),
    lastTransitionTime: Type.String({
      description: 'When the condition last changed status (RFC 3339).',
      format: 'date-time',
    }),
    reason: Type.String({
      description: 'Machine-readable CamelCase reason for the last transition.',
      minLength: 1,
      maxLength: 1024,
      pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$',
    }),
    message: Type.String({ description: 'Human-readable details of the transition.', maxLength: 32768 }),
  },
  { description: 'One observation of the app state (metav1.Condition).' },
);
export type Condition = Static<typeof Condition>;

const ComponentStatus = (what: string) =>
  Type.Object(
    {
      ready: Type.Optional(Type.Boolean({ description: `Whether ${what} is ready.` })),
      readyReplicas: Type.Optional(
        Type.Integer({ description: `Ready pods of ${what} (0 for an external one).`, minimum: 0 }),
      ),
      message: Type.Optional(
        Type.String({ description: `Short explanation of the state of ${what}.`, maxLength: 1024 }),
      ),
    },
    { description: `State of ${what}.` },
  );

/** `status`: written by the operator only, through the status subresource. */
export const DistributedAppStatus = Type.Object(
  {
    observedGeneration: Type.Optional(
      Type.Integer({ description: 'metadata.generation the status reflects.', format: 'int64', minimum: 0 }),
    ),
    phase: Type.Optional(StringEnum(PHASES, { description: 'Summary of the app state.' })),
    conditions: Type.Optional(
      Type.Array(Condition, {
        description: 'Conditions: Ready, Progressing, Degraded, Rebalancing, CacheAvailable.',
        maxItems: CONDITIONS_MAX_ITEMS,
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
      }),
    ),
    selector: Type.Optional(
      Type.String({
        description: 'Label selector of the worker pods, for the scale subresource (HPA, kubectl scale).',
        maxLength: 1024,
      }),
    ),
    workers: Type.Optional(
      Type.Object(
        {
          desired: Type.Optional(
            Type.Integer({ description: 'Worker pods wanted (spec.workers.replicas).', minimum: 0 }),
          ),
          current: Type.Optional(
            Type.Integer({
              description: 'Worker pods that exist (status replicas of the scale subresource).',
              minimum: 0,
            }),
          ),
          ready: Type.Optional(Type.Integer({ description: 'Worker pods that are ready.', minimum: 0 })),
        },
        { description: 'Worker pod counts.' },
      ),
    ),
    partitions: Type.Optional(
      Type.Object(
        {
          count: Type.Optional(
            Type.Integer({ description: 'Number of partitions.', minimum: 0, maximum: PARTITIONS_MAX }),
          ),
          epoch: Type.Optional(
            Type.Integer({
              description: 'Version of the current assignment (bumped on every rebalance).',
              format: 'int64',
              minimum: 0,
            }),
          ),
          byWorker: Type.Optional(
            StringMap(Type.Integer({ description: 'Partitions assigned.', minimum: 0 }), {
              description: 'Number of partitions assigned to each worker pod, by pod name.',
              maxProperties: STATUS_MAP_MAX_PROPERTIES,
            }),
          ),
          owned: Type.Optional(
            Type.Integer({
              description:
                'Partitions claimed by their assigned worker (it holds the partition in ZooKeeper). ' +
                'Unset while the operator cannot observe ZooKeeper.',
              minimum: 0,
              maximum: PARTITIONS_MAX,
            }),
          ),
        },
        { description: 'The partition assignment.' },
      ),
    ),
    components: Type.Optional(
      Type.Object(
        {
          redis: Type.Optional(ComponentStatus('the Redis cache')),
          zookeeper: Type.Optional(ComponentStatus('the ZooKeeper ensemble')),
          haproxy: Type.Optional(ComponentStatus('the HAProxy load balancers')),
        },
        { description: 'State of each component.' },
      ),
    ),
    lastRebalance: Type.Optional(
      Type.Object(
        {
          time: Type.Optional(
            Type.String({ description: 'When the rebalance happened (RFC 3339).', format: 'date-time' }),
          ),
          reason: Type.Optional(
            Type.String({
              description:
                'Why it happened, as the rebalancer says, for example members changed (left: w-1).',
              maxLength: 256,
            }),
          ),
          moved: Type.Optional(Type.Integer({ description: 'Partitions that changed owner.', minimum: 0 })),
        },
        { description: 'The most recent rebalance.' },
      ),
    ),
  },
  { description: 'Observed state of the app, written by the operator.' },
);
export type DistributedAppStatus = Static<typeof DistributedAppStatus>;
