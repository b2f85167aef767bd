import type { V1Deployment, V1StatefulSet } from '@kubernetes/client-node';
import type { DistributedApp, DistributedAppStatus } from '../api/schema.ts';
import { selectorLabels, selectorString } from './labels.ts';
import type { Component } from './labels.ts';
import {
  componentState,
  desiredReplicas,
  observeDeployment,
  observeStatefulSet,
} from './status-components.ts';
import type { ComponentState } from './status-components.ts';
import { findCondition, mergeConditions } from './status-conditions.ts';
import type { ConditionUpdate } from './status-conditions.ts';
import { partitionStatus, type PartitionInput } from './status-partitions.ts';

export { statusEqual } from './status-conditions.ts';

/** The app's child workloads as the reconciler observed them (absent: not created yet or not wanted). */
export interface ObservedChildren {
  zookeeper?: V1StatefulSet;
  redis?: V1Deployment;
  workers?: V1StatefulSet;
  haproxy?: V1Deployment;
  /** Pods of the app that cannot run: CrashLoopBackOff, ImagePullBackOff, CreateContainerConfigError... */
  failingPods?: readonly { name: string; reason: string }[];
  /** Whether the Sentry DSN Secret exists (only looked at when the app asks for Sentry). */
  sentryDsnSecretExists?: boolean;
  /** What the app's partition coordinator observed; absent: as `pending` (the stored values are kept). */
  partitions?: PartitionInput;
}

/** Display name of each component, in the order conditions report them. */
const DISPLAY: Record<Component, string> = {
  zookeeper: 'ZooKeeper',
  redis: 'Redis',
  workers: 'Workers',
  haproxy: 'HAProxy',
};

/** Degraded reason when a component that had been serving cannot serve. */
const UNAVAILABLE_REASON: Record<Component, string> = {
  zookeeper: 'QuorumLost',
  redis: 'CacheUnavailable',
  workers: 'NoWorkersReady',
  haproxy: 'LoadBalancerUnavailable',
};

function states(app: DistributedApp, children: ObservedChildren): ComponentState[] {
  const desired = desiredReplicas(app);
  const seen: Record<Component, ReturnType<typeof observeStatefulSet> | 'external'> = {
    zookeeper: app.spec.coordination.zookeeper ? observeStatefulSet(children.zookeeper) : 'external',
    redis: app.spec.cache.redis ? observeDeployment(children.redis) : 'external',
    workers: observeStatefulSet(children.workers),
    haproxy: observeDeployment(children.haproxy),
  };
  return (Object.keys(DISPLAY) as Component[]).map((c) => componentState(c, seen[c], desired[c]));
}

/** `ZooKeeper 3/3 ready`, plus `, 1/3 updated` while pods are moving to a new template. */
function describe(state: ComponentState): string {
  const base = `${DISPLAY[state.component]} ${state.ready}/${state.desired} ready`;
  const rolling = state.health === 'RollingOut' && state.updated < state.desired;
  return rolling ? `${base}, ${state.updated}/${state.desired} updated` : base;
}

function readyCondition(all: ComponentState[]): ConditionUpdate {
  const waiting = all.filter((s) => s.health !== 'Ready' && s.health !== 'External');
  const first = waiting[0];
  if (first === undefined) {
    return {
      type: 'Ready',
      status: 'True',
      reason: 'AllComponentsReady',
      message: 'All components are ready',
    };
  }
  const reason = `${DISPLAY[first.component]}NotReady`;
  return { type: 'Ready', status: 'False', reason, message: waiting.map(describe).join('; ') };
}

/** Whether the app has served before: unavailability is then degradation, not start-up. */
function hasBeenReady(app: DistributedApp): boolean {
  return (
    findCondition(app.status, 'Ready')?.status === 'True' ||
    findCondition(app.status, 'Degraded')?.status === 'True'
  );
}

function degradedReasons(
  app: DistributedApp,
  all: ComponentState[],
  children: ObservedChildren,
): ConditionUpdate[] {
  const lost = hasBeenReady(app) ? all.filter((s) => s.health === 'Unavailable') : [];
  const failing = children.failingPods ?? [];
  const sentryMissing =
    app.spec.errorReporting?.sentry !== undefined && children.sentryDsnSecretExists === false;
  return [
    ...lost.map((s) => ({ reason: UNAVAILABLE_REASON[s.component], message: describe(s) })),
    ...(failing.length === 0
      ? []
      : [{ reason: 'PodsFailing', message: failing.map((p) => `${p.name}: ${p.reason}`).join('; ') }]),
    ...(sentryMissing
      ? [
          {
            reason: 'SentrySecretMissing',
            message: 'the Sentry DSN Secret does not exist; errors are only logged',
          },
        ]
      : []),
  ].map((r) => ({ type: 'Degraded', status: 'True' as const, ...r }));
}

function degradedCondition(reasons: ConditionUpdate[]): ConditionUpdate {
  const first = reasons[0];
  if (first === undefined) {
    return { type: 'Degraded', status: 'False', reason: 'AsExpected', message: 'Nothing is degraded' };
  }
  return { ...first, message: reasons.map((r) => r.message).join('; ') };
}

function progressingCondition(all: ComponentState[], degraded: boolean): ConditionUpdate {
  const moving = all.filter(
    (s) => s.health === 'Missing' || s.health === 'RollingOut' || s.health === 'Unavailable',
  );
  if (moving.length === 0 || degraded) {
    const reason = degraded ? 'Stalled' : 'RolloutComplete';
    return { type: 'Progressing', status: 'False', reason, message: degraded ? 'Degraded' : 'Up to date' };
  }
  const creating = moving.some((s) => s.health === 'Missing');
  const reason = creating ? 'Creating' : 'RollingOut';
  return { type: 'Progressing', status: 'True', reason, message: moving.map(describe).join('; ') };
}

function cacheCondition(redis: ComponentState): ConditionUpdate {
  const base = { type: 'CacheAvailable' };
  if (redis.health === 'External') {
    return { ...base, status: 'True', reason: 'ExternalCache', message: 'Using an external Redis' };
  }
  if (redis.health === 'Ready' || redis.health === 'RollingOut') {
    return { ...base, status: 'True', reason: 'RedisReady', message: describe(redis) };
  }
  return { ...base, status: 'False', reason: 'RedisUnavailable', message: describe(redis) };
}

type Phase = NonNullable<DistributedAppStatus['phase']>;

function phase(all: ComponentState[], ready: boolean, degraded: boolean): Phase {
  if (ready) return 'Running';
  const serving = all.every(
    (s) => s.component === 'redis' || s.component === 'haproxy' || s.health !== 'Unavailable',
  );
  if (degraded) return serving ? 'Degraded' : 'Failed';
  return all.every((s) => s.health === 'Missing' || s.health === 'External') ? 'Pending' : 'Progressing';
}

function componentStatus(state: ComponentState): NonNullable<DistributedAppStatus['components']>['redis'] {
  if (state.health === 'External')
    return { readyReplicas: 0, message: 'External; not managed by the operator' };
  return { ready: state.health === 'Ready', readyReplicas: state.ready, message: describe(state) };
}

function byComponent(all: ComponentState[]): Record<Component, ComponentState> {
  return Object.fromEntries(all.map((s) => [s.component, s])) as Record<Component, ComponentState>;
}

/**
 * The app's status from the app (spec, generation, previous status) and its observed child workloads, at
 * `now`. Pure. Sets observedGeneration, the conditions Ready, Progressing, Degraded, CacheAvailable and, when
 * the coordinator knows something, Rebalancing (each keeps its lastTransitionTime while its status holds;
 * other conditions are kept as they were), the phase, worker counts, the scale selector and per-component
 * readiness. The partition fields and the last rebalance come from `children.partitions` (see
 * {@link partitionStatus}).
 *
 * Before the app has first been Ready, components that cannot serve yet count as Progressing; afterwards
 * they make it Degraded. Failing pods and a missing Sentry Secret make it Degraded at any time.
 */
export function computeStatus(
  app: DistributedApp,
  children: ObservedChildren,
  now: Date,
): DistributedAppStatus {
  const all = states(app, children);
  const named = byComponent(all);
  const ready = readyCondition(all);
  const degraded = degradedCondition(degradedReasons(app, all, children));
  const isDegraded = degraded.status === 'True';
  const { partitions, lastRebalance, rebalancing } = partitionStatus(app, children.partitions);
  const updates = [ready, progressingCondition(all, isDegraded), degraded, cacheCondition(named.redis)];
  if (rebalancing !== undefined) updates.push(rebalancing);
  const generation = app.metadata.generation;
  return {
    ...app.status,
    ...(partitions === undefined ? {} : { partitions }),
    ...(lastRebalance === undefined ? {} : { lastRebalance }),
    ...(generation === undefined ? {} : { observedGeneration: generation }),
    phase: phase(all, ready.status === 'True', isDegraded),
    conditions: mergeConditions(app.status?.conditions, updates, now, generation),
    selector: selectorString(selectorLabels(app, 'workers')),
    workers: {
      desired: app.spec.workers.replicas,
      current: children.workers?.status?.replicas ?? 0,
      ready: named.workers.ready,
    },
    components: {
      zookeeper: componentStatus(named.zookeeper),
      redis: componentStatus(named.redis),
      haproxy: componentStatus(named.haproxy),
    },
  };
}
