import type { V1Deployment, V1StatefulSet } from '@kubernetes/client-node';
import type { DistributedApp } from '../api/schema.ts';
import type { Component } from './labels.ts';

/** Replica counts of one observed StatefulSet or Deployment. */
export interface WorkloadObservation {
  /** Pods wanted (`spec.replicas`). */
  desired: number;
  /** Pods that exist (`status.replicas`). */
  current: number;
  ready: number;
  /** Pods running the current pod template. */
  updated: number;
  /** Whether the controller has seen the latest spec (`status.observedGeneration >= metadata.generation`). */
  generationObserved: boolean;
}

/** How a component is doing. */
export type Health =
  /** Not managed here: an external Redis or ZooKeeper. */
  | 'External'
  /** Its workload does not exist yet. */
  | 'Missing'
  /** Every pod ready and on the current template. */
  | 'Ready'
  /** Available, but pods are starting, rolling or being removed. */
  | 'RollingOut'
  /** Below what it needs to serve: no pod ready, or ZooKeeper without a quorum. */
  | 'Unavailable';

/** One component's evaluated state. */
export interface ComponentState {
  component: Component;
  health: Health;
  ready: number;
  desired: number;
  /** Pods on the current pod template (equal to `ready` when unknown). */
  updated: number;
}

function counts(workload: V1StatefulSet | V1Deployment): WorkloadObservation {
  const status = workload.status ?? {};
  return {
    desired: workload.spec?.replicas ?? 1,
    current: status.replicas ?? 0,
    ready: status.readyReplicas ?? 0,
    updated: status.updatedReplicas ?? 0,
    generationObserved: (status.observedGeneration ?? 0) >= (workload.metadata?.generation ?? 0),
  };
}

/** Counts of an observed StatefulSet; undefined when it does not exist. */
export function observeStatefulSet(set: V1StatefulSet | undefined): WorkloadObservation | undefined {
  return set === undefined ? undefined : counts(set);
}

/** Counts of an observed Deployment; undefined when it does not exist. */
export function observeDeployment(deployment: V1Deployment | undefined): WorkloadObservation | undefined {
  return deployment === undefined ? undefined : counts(deployment);
}

/** Ready pods a component needs to serve at all: a majority for ZooKeeper, one for the others. */
function minimumAvailable(component: Component, desired: number): number {
  return component === 'zookeeper' ? Math.floor(desired / 2) + 1 : 1;
}

function health(component: Component, seen: WorkloadObservation): Health {
  const { desired, current, ready, updated, generationObserved } = seen;
  if (ready < Math.min(desired, minimumAvailable(component, desired))) return 'Unavailable';
  const settled = generationObserved && current === desired && updated >= desired;
  return settled && ready >= desired ? 'Ready' : 'RollingOut';
}

/**
 * The state of `component` given its observed workload (`external` for an external Redis or ZooKeeper).
 * The wanted replica count is the app's, so a workload not yet updated to a new count is still rolling.
 */
export function componentState(
  component: Component,
  observed: WorkloadObservation | 'external' | undefined,
  desired: number,
): ComponentState {
  if (observed === 'external') return { component, health: 'External', ready: 0, desired: 0, updated: 0 };
  if (observed === undefined) return { component, health: 'Missing', ready: 0, desired, updated: 0 };
  const seen = { ...observed, desired };
  const { ready, updated } = observed;
  return { component, health: health(component, seen), ready, desired, updated };
}

/** The replica count the app asks of each component (0 for an external one). */
export function desiredReplicas(app: DistributedApp): Record<Component, number> {
  return {
    zookeeper: app.spec.coordination.zookeeper?.replicas ?? 0,
    redis: app.spec.cache.redis === undefined ? 0 : 1,
    workers: app.spec.workers.replicas,
    haproxy: app.spec.loadBalancer.haproxy.replicas,
  };
}
