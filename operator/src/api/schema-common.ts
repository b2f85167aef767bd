import { Type } from '@sinclair/typebox';
import type { Static, TObject, TOptional, TString } from '@sinclair/typebox';
import { ENV_MAX_ITEMS, IMAGE_MAX_LENGTH } from './limits.ts';
import { Quantity } from './schema-helpers.ts';
import type { CelRule } from './schema-helpers.ts';

/** A container image reference with a default; no whitespace. */
export function Image(defaultImage: string, what: string): TString {
  return Type.String({
    description: `Container image of ${what}. Default: ${defaultImage}.`,
    default: defaultImage,
    minLength: 1,
    maxLength: IMAGE_MAX_LENGTH,
    pattern: '^[^\\s]+$',
  });
}

const ResourceList = (what: string, description: string) =>
  Type.Object(
    {
      cpu: Type.Optional(Quantity({ description: `CPU ${what}, in cores (for example 500m or 2).` })),
      memory: Type.Optional(Quantity({ description: `Memory ${what}, in bytes (for example 512Mi).` })),
      'ephemeral-storage': Type.Optional(
        Quantity({ description: `Ephemeral storage ${what}, in bytes (for example 1Gi).` }),
      ),
    },
    { description },
  );

/** CEL: for one resource, the request is not above the limit when both are set. */
function requestWithinLimit(resource: 'cpu' | 'memory'): CelRule {
  const req = `string(self.requests.${resource})`;
  const lim = `string(self.limits.${resource})`;
  return {
    rule: [
      '!has(self.requests) || !has(self.limits)',
      `!has(self.requests.${resource}) || !has(self.limits.${resource})`,
      `!isQuantity(${req}) || !isQuantity(${lim})`,
      `quantity(${req}).compareTo(quantity(${lim})) <= 0`,
    ].join(' || '),
    message: `requests.${resource} must not exceed limits.${resource}`,
    fieldPath: `.requests.${resource}`,
  };
}

/** Container resources: requests and limits, as in a Pod's container spec. */
export const Resources = (what: string) =>
  Type.Object(
    {
      requests: Type.Optional(
        ResourceList(
          'requested',
          'Resources reserved for the container when it is scheduled (cpu, memory, ephemeral-storage).',
        ),
      ),
      limits: Type.Optional(
        ResourceList('limit', 'The most the container may use (cpu, memory, ephemeral-storage).'),
      ),
    },
    {
      description: `Compute resources of ${what} (requests and limits, as in a container spec). Unset: none.`,
      'x-kubernetes-validations': [requestWithinLimit('cpu'), requestWithinLimit('memory')],
    },
  );
export type Resources = Static<ReturnType<typeof Resources>>;

const K8S_NAME = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

/** A reference to one key of a Secret in the app's namespace. */
export function SecretKeyRef(
  what: string,
  defaultKey: string,
): TObject<{ name: TString; key: TString | TOptional<TString> }> {
  return Type.Object(
    {
      name: Type.String({
        description: `Name of the Secret (in the app's namespace) that holds ${what}.`,
        minLength: 1,
        maxLength: 253,
        pattern: K8S_NAME,
      }),
      key: Type.String({
        description: `Key in the Secret whose value is ${what}. Default: ${defaultKey}.`,
        default: defaultKey,
        minLength: 1,
        maxLength: 253,
        pattern: '^[-._a-zA-Z0-9]+$',
      }),
    },
    { description: `Reference to the Secret key that holds ${what}.` },
  );
}
export type SecretKeyRef = Static<ReturnType<typeof SecretKeyRef>>;

/** One environment variable of the worker container. */
export const EnvVar = Type.Object(
  {
    name: Type.String({
      description: 'Name of the variable. Names starting with CAPSTAN_ are reserved for the operator.',
      minLength: 1,
      maxLength: 128,
      pattern: '^[-._a-zA-Z][-._a-zA-Z0-9]*$',
      'x-kubernetes-validations': [
        { rule: "!self.startsWith('CAPSTAN_')", message: 'names starting with CAPSTAN_ are reserved' },
      ],
    }),
    value: Type.Optional(
      Type.String({ description: 'Literal value of the variable. Unset: empty.', maxLength: 32768 }),
    ),
    valueFrom: Type.Optional(
      Type.Object(
        { secretKeyRef: SecretKeyRef('the value of the variable', 'value') },
        { description: 'Source of the value when it is not literal.' },
      ),
    ),
  },
  {
    description: 'An environment variable: a literal value or a Secret key.',
    'x-kubernetes-validations': [
      {
        rule: '!(has(self.value) && has(self.valueFrom))',
        message: 'set either value or valueFrom, not both',
      },
    ],
  },
);
export type EnvVar = Static<typeof EnvVar>;

/** The worker container's extra environment (a list keyed by name). */
export const EnvList = Type.Array(EnvVar, {
  description: `Extra environment variables of the worker container (at most ${ENV_MAX_ITEMS}, unique names). Unset: none.`,
  maxItems: ENV_MAX_ITEMS,
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': ['name'],
});
