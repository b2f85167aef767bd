import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { Image, Resources } from './schema-common.ts';
import { StringEnum } from './schema-helpers.ts';

/** HAProxy `balance` algorithms offered. */
export const BALANCE_ALGORITHMS = ['roundrobin', 'leastconn', 'source', 'random'] as const;

/** Service types for the app's front door. */
export const SERVICE_TYPES = ['ClusterIP', 'NodePort', 'LoadBalancer'] as const;

/** `spec.loadBalancer.haproxy.service`: how clients reach HAProxy. */
export const HAProxyService = Type.Object(
  {
    type: StringEnum(SERVICE_TYPES, {
      description: 'Type of the Service in front of HAProxy. Default: ClusterIP.',
      default: 'ClusterIP',
    }),
    port: Type.Integer({
      description: 'Port the Service listens on. Default: 80.',
      default: 80,
      minimum: 1,
      maximum: 65535,
    }),
    nodePort: Type.Optional(
      Type.Integer({
        description: 'Node port for NodePort and LoadBalancer Services. Unset: allocated by Kubernetes.',
        minimum: 30000,
        maximum: 32767,
      }),
    ),
  },
  {
    description: 'The Service that exposes HAProxy.',
    default: {},
    'x-kubernetes-validations': [
      {
        rule: "self.type != 'ClusterIP' || !has(self.nodePort)",
        message: 'nodePort needs service type NodePort or LoadBalancer',
        fieldPath: '.nodePort',
      },
    ],
  },
);

/** `spec.loadBalancer.haproxy`: the HAProxy pods in front of the workers. */
export const HAProxySpec = Type.Object(
  {
    replicas: Type.Integer({
      description: 'Number of HAProxy pods. Default: 1.',
      default: 1,
      minimum: 1,
      maximum: 16,
    }),
    algorithm: StringEnum(BALANCE_ALGORITHMS, {
      description: 'HAProxy balance algorithm across workers. Default: roundrobin.',
      default: 'roundrobin',
    }),
    image: Image('haproxy:2.8', 'HAProxy'),
    service: HAProxyService,
    resources: Type.Optional(Resources('each HAProxy container')),
  },
  { description: 'HAProxy load balancers in front of the workers.', default: {} },
);
export type HAProxySpec = Static<typeof HAProxySpec>;

/** `spec.loadBalancer`. */
export const LoadBalancerSpec = Type.Object(
  { haproxy: HAProxySpec },
  { description: 'The load balancer in front of the workers.', default: {} },
);
export type LoadBalancerSpec = Static<typeof LoadBalancerSpec>;
