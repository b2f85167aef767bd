import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { CAPSTAN_VERSION, PARTITIONS_MAX, PARTITIONS_MIN, URL_MAX_LENGTH } from './limits.ts';
import { EnvList, Image, Resources } from './schema-common.ts';

/** The worker image of this release. */
export const DEFAULT_WORKER_IMAGE = `ghcr.io/capstan-dev/capstan:${CAPSTAN_VERSION}`;

/** Built-in example apps of the worker runtime; any other DNS label names a custom handler. */
export const BUILT_IN_APPS = ['cache-gateway', 'counters'] as const;

/** `spec.workers`: the fleet of worker pods that own the partitions. */
export const WorkersSpec = Type.Object(
  {
    image: Image(DEFAULT_WORKER_IMAGE, 'the worker'),
    replicas: Type.Integer({
      description:
        'Number of worker pods. At most the number of partitions. Default: 3. Changed by `kubectl scale` and autoscalers.',
      default: 3,
      minimum: 1,
      maximum: PARTITIONS_MAX,
    }),
    partitions: Type.Integer({
      description:
        `Number of partitions the key space is split into, ${PARTITIONS_MIN} to ${PARTITIONS_MAX}. ` +
        'Immutable: changing it would remap every key. Default: 64.',
      default: 64,
      minimum: PARTITIONS_MIN,
      maximum: PARTITIONS_MAX,
      'x-kubernetes-validations': [
        {
          rule: 'self == oldSelf',
          message: 'partitions is immutable: changing it would remap every key; create a new app instead',
        },
      ],
    }),
    app: Type.String({
      description:
        'The app the workers run: cache-gateway (read-through cache in front of upstream), counters ' +
        '(fenced counters), or the name of a custom handler built into the image. Default: cache-gateway.',
      default: 'cache-gateway',
      minLength: 1,
      maxLength: 63,
      pattern: '^[a-z]([-a-z0-9]*[a-z0-9])?$',
    }),
    upstream: Type.Optional(
      Type.String({
        description:
          'Base URL (http or https) of the upstream service the cache-gateway app fronts. Required for cache-gateway.',
        maxLength: URL_MAX_LENGTH,
        'x-kubernetes-validations': [
          {
            rule: "isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHostname() != ''",
            message:
              'upstream must be an absolute http or https URL, for example http://backend.default:8080',
          },
        ],
      }),
    ),
    resources: Type.Optional(Resources('each worker container')),
    env: Type.Optional(EnvList),
  },
  {
    description: 'The worker pods: image, count, partitions, resources, environment and the app they run.',
    'x-kubernetes-validations': [
      {
        rule: 'self.replicas <= self.partitions',
        message: 'replicas must not exceed partitions: a worker without a partition would serve nothing',
        fieldPath: '.replicas',
      },
      {
        rule: "self.app != 'cache-gateway' || has(self.upstream)",
        message: 'upstream is required when app is cache-gateway',
        fieldPath: '.upstream',
        reason: 'FieldValueRequired',
      },
    ],
  },
);
export type WorkersSpec = Static<typeof WorkersSpec>;
