/**
 * Whether an in-cluster ensemble is worth dialling, from the pod cache (pure): a ZooKeeper session needs a
 * quorum of members serving, and a member that is not Ready (its `ruok` probe fails, or it is not
 * scheduled yet) cannot be one of them. So a coordinator waits for a ready quorum instead of spending
 * connection attempts (and, from outside the cluster, port-forwards through the API server) on an
 * ensemble that is still starting or has lost its quorum, and tries again as soon as readiness changes.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { Store } from '../runtime/index.ts';
import type { CoordinatorSpec } from './coordinator-spec.ts';

/** The ready members of an in-cluster ensemble. */
export interface EnsembleReadiness {
  /** Names of the member pods that are Ready, in member order. */
  readonly ready: readonly string[];
  readonly members: number;
  /** Members needed for a session: a majority. */
  readonly quorum: number;
}

/** Whether the pod's Ready condition is True. */
export function podReady(pod: V1Pod | undefined): boolean {
  return (pod?.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** The readiness of the spec's in-cluster ensemble; undefined for an external one. */
export function ensembleReadiness(spec: CoordinatorSpec, pods: Store<V1Pod>): EnsembleReadiness | undefined {
  const members = spec.members;
  if (members === undefined || members.length === 0) return undefined;
  return {
    ready: members.filter((name) => podReady(pods.get(spec.namespace, name))),
    members: members.length,
    quorum: Math.floor(members.length / 2) + 1,
  };
}

/** Why not to dial the ensemble now, or undefined when a quorum of it is Ready (or it is external). */
export function holdReason(readiness: EnsembleReadiness | undefined): string | undefined {
  if (readiness === undefined || readiness.ready.length >= readiness.quorum) return undefined;
  return `${readiness.ready.length} of ${readiness.members} ZooKeeper members Ready, a quorum needs ${readiness.quorum}`;
}
