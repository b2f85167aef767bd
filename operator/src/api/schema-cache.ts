import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { URL_MAX_LENGTH } from './limits.ts';
import { Image, Resources, SecretKeyRef } from './schema-common.ts';
import { Quantity, StringEnum } from './schema-helpers.ts';

/** Redis eviction policies (`maxmemory-policy`). */
export const EVICTION_POLICIES = [
  'allkeys-lru',
  'allkeys-lfu',
  'allkeys-random',
  'volatile-lru',
  'volatile-lfu',
  'volatile-random',
  'volatile-ttl',
  'noeviction',
] as const;

/** `spec.cache.redis`: a Redis the operator runs in the cluster. */
export const RedisSpec = Type.Object(
  {
    image: Image('redis:7', 'Redis'),
    maxMemory: Quantity({
      description:
        'Memory Redis may use for data (maxmemory) before it evicts keys, for example 256Mi. ' +
        'Must fit in resources.limits.memory when that is set. Default: 256Mi.',
      default: '256Mi',
    }),
    evictionPolicy: StringEnum(EVICTION_POLICIES, {
      description: 'What Redis evicts when maxMemory is reached (maxmemory-policy). Default: allkeys-lru.',
      default: 'allkeys-lru',
    }),
    resources: Type.Optional(Resources('the Redis container')),
  },
  {
    description: 'An in-cluster Redis run by the operator (one pod, password from a generated Secret).',
    'x-kubernetes-validations': [
      {
        rule: [
          '!has(self.resources) || !has(self.resources.limits) || !has(self.resources.limits.memory)',
          '!isQuantity(string(self.maxMemory)) || !isQuantity(string(self.resources.limits.memory))',
          'quantity(string(self.maxMemory)).isLessThan(quantity(string(self.resources.limits.memory)))',
        ].join(' || '),
        message: 'maxMemory must be below resources.limits.memory, leaving room for Redis itself',
        fieldPath: '.maxMemory',
      },
    ],
  },
);
export type RedisSpec = Static<typeof RedisSpec>;

/** `spec.cache.external`: an existing Redis the workers connect to. */
export const ExternalRedisSpec = Type.Object(
  {
    url: Type.String({
      description: 'Address of the Redis server, redis://host:port or rediss://host:port for TLS.',
      maxLength: URL_MAX_LENGTH,
      'x-kubernetes-validations': [
        {
          rule: "isURL(self) && url(self).getScheme() in ['redis', 'rediss'] && url(self).getHostname() != ''",
          message: 'url must look like redis://host:6379 or rediss://host:6380',
        },
      ],
    }),
    passwordSecretRef: Type.Optional(SecretKeyRef('the Redis password', 'password')),
  },
  { description: 'An existing Redis outside the app. The password is only read from a Secret.' },
);
export type ExternalRedisSpec = Static<typeof ExternalRedisSpec>;

/** `spec.cache`: exactly one of an in-cluster Redis or an external one. */
export const CacheSpec = Type.Object(
  {
    redis: Type.Optional(RedisSpec),
    external: Type.Optional(ExternalRedisSpec),
  },
  {
    description:
      'The shared Redis cache: in-cluster (redis) or external, exactly one. Default: in-cluster Redis.',
    default: { redis: {} },
    'x-kubernetes-validations': [
      {
        rule: 'has(self.redis) != has(self.external)',
        message: 'set exactly one of cache.redis (in-cluster Redis) or cache.external (an existing Redis)',
      },
    ],
  },
);
export type CacheSpec = Static<typeof CacheSpec>;
