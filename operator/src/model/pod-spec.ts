import type { V1Affinity, V1PodSpec, V1ResourceRequirements } from '@kubernetes/client-node';
import type { DistributedApp, Resources } from '../api/schema.ts';
import { selectorLabels } from './labels.ts';
import type { Component } from './labels.ts';
import { podSecurityContext } from './security.ts';

/** Container resources in the shape of a pod spec; none when the spec sets none. */
export function containerResources(resources: Resources | undefined): V1ResourceRequirements | undefined {
  if (resources === undefined) return undefined;
  const list = (values: Record<string, string | number | undefined> | undefined) =>
    values === undefined
      ? undefined
      : Object.fromEntries(
          Object.entries(values)
            .filter((entry): entry is [string, string | number] => entry[1] !== undefined)
            .map(([key, value]) => [key, String(value)]),
        );
  const out: V1ResourceRequirements = {};
  const requests = list(resources.requests);
  const limits = list(resources.limits);
  if (requests !== undefined) out.requests = requests;
  if (limits !== undefined) out.limits = limits;
  return out;
}

/** Prefer spreading a component's pods over nodes (a preference, so small clusters still schedule). */
function spreadOverNodes(app: DistributedApp, component: Component): V1Affinity {
  return {
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        {
          weight: 100,
          podAffinityTerm: {
            topologyKey: 'kubernetes.io/hostname',
            labelSelector: { matchLabels: selectorLabels(app, component) },
          },
        },
      ],
    },
  };
}

/**
 * The pod-spec fields every component shares: the component's pod security context, no service account
 * token (no pod talks to the API), no service-link environment variables, and spreading over nodes.
 */
export function basePodSpec(
  app: DistributedApp,
  component: Component,
): Pick<V1PodSpec, 'securityContext' | 'automountServiceAccountToken' | 'enableServiceLinks' | 'affinity'> {
  return {
    securityContext: podSecurityContext(component),
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    affinity: spreadOverNodes(app, component),
  };
}
