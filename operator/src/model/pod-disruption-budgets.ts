import type { V1PodDisruptionBudget } from '@kubernetes/client-node';
import type { DistributedApp } from '../api/schema.ts';
import { selectorLabels } from './labels.ts';
import type { Component } from './labels.ts';
import type { Desired } from './metadata.ts';
import { objectMeta } from './metadata.ts';

/**
 * A PodDisruptionBudget letting voluntary disruptions (drains, evictions) take at most one pod of
 * `component` at a time. `name` is the component's workload name; `image` versions the labels. Unhealthy
 * pods may always be evicted, so a stuck pod never blocks a node drain.
 */
export function podDisruptionBudget(
  app: DistributedApp,
  component: Exclude<Component, 'redis'>,
  name: string,
  image: string,
): Desired<V1PodDisruptionBudget> {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: objectMeta(app, component, name, image),
    spec: {
      maxUnavailable: 1,
      selector: { matchLabels: selectorLabels(app, component) },
      unhealthyPodEvictionPolicy: 'AlwaysAllow',
    },
  };
}
