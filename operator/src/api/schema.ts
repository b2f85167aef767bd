/**
 * The DistributedApp API (`capstan.dev/v1alpha1`): the one schema source. The CRD
 * (crds/capstan.dev_distributedapps.yaml), docs/api.md and the TypeScript types below all come from it;
 * `make manifests` regenerates the files.
 *
 * The static types describe an object as the apiserver stores it: fields with an OpenAPI default are
 * present (defaulting runs before the operator reads anything). Use `applyDefaults` (defaults.ts) to get
 * the same shape from a hand-written object.
 */
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import type { V1ObjectMeta } from '@kubernetes/client-node';
import { APP_NAME_MAX_LENGTH } from './limits.ts';
import { CacheSpec } from './schema-cache.ts';
import { CoordinationSpec } from './schema-coordination.ts';
import { LoadBalancerSpec } from './schema-load-balancer.ts';
import { ErrorReportingSpec, FailurePolicySpec } from './schema-operations.ts';
import { DistributedAppStatus } from './schema-status.ts';
import { WorkersSpec } from './schema-workers.ts';

export const GROUP = 'capstan.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'DistributedApp';
export const LIST_KIND = 'DistributedAppList';
export const PLURAL = 'distributedapps';
export const SINGULAR = 'distributedapp';
export const SHORT_NAMES = ['dapp', 'dapps'] as const;
export const CATEGORIES = ['capstan'] as const;

/** `spec`: what the user wants. */
export const DistributedAppSpec = Type.Object(
  {
    workers: WorkersSpec,
    cache: CacheSpec,
    coordination: CoordinationSpec,
    loadBalancer: LoadBalancerSpec,
    errorReporting: Type.Optional(ErrorReportingSpec),
    failurePolicy: FailurePolicySpec,
  },
  { description: 'Desired state of the app: workers, cache, coordination, load balancer and policies.' },
);
export type DistributedAppSpec = Static<typeof DistributedAppSpec>;

const DNS_1035_LABEL = '^[a-z]([-a-z0-9]*[a-z0-9])?$';

/** The DistributedApp resource. */
export const DistributedApp = Type.Object(
  {
    apiVersion: Type.Optional(
      Type.String({ description: 'APIVersion of this representation of the object: capstan.dev/v1alpha1.' }),
    ),
    kind: Type.Optional(Type.String({ description: 'Kind of the object: DistributedApp.' })),
    // The apiserver owns the metadata schema: a CRD may say nothing but its type.
    metadata: Type.Unsafe<V1ObjectMeta>({ type: 'object' }),
    spec: DistributedAppSpec,
    status: Type.Optional(DistributedAppStatus),
  },
  {
    description:
      'A partitioned distributed service: worker pods owning partitions of the key space, a Redis cache, ' +
      'a ZooKeeper ensemble and HAProxy in front, run and healed by the Capstan operator.',
    'x-kubernetes-validations': [
      {
        rule: `self.metadata.name.size() <= ${APP_NAME_MAX_LENGTH}`,
        message: `metadata.name must be at most ${APP_NAME_MAX_LENGTH} characters, so every derived object name stays within Kubernetes limits`,
      },
      {
        rule: `self.metadata.name.matches('${DNS_1035_LABEL}')`,
        message:
          'metadata.name must be a DNS-1035 label (lowercase letters, digits and -, starting with a letter), as it names Services',
      },
    ],
  },
);
export type DistributedApp = Static<typeof DistributedApp>;

export { DistributedAppStatus, Condition } from './schema-status.ts';
export type { Resources, EnvVar, SecretKeyRef } from './schema-common.ts';
export type { WorkersSpec } from './schema-workers.ts';
export type { CacheSpec, RedisSpec, ExternalRedisSpec } from './schema-cache.ts';
export type { CoordinationSpec, ZooKeeperSpec, ExternalZooKeeperSpec } from './schema-coordination.ts';
export type { LoadBalancerSpec, HAProxySpec } from './schema-load-balancer.ts';
export type { ErrorReportingSpec, SentrySpec, FailurePolicySpec } from './schema-operations.ts';
