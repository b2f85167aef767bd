/**
 * Trims what the informers cache to what the reconciler reads, so thousands of apps fit in little
 * memory: metadata (without managedFields) for every owned object, replica counts and the status fields
 * read for workloads, key names only for Secrets the operator does not own, phase, readiness and
 * container states for pods. Because the reconciler reads nothing else, an update that leaves the view
 * as it was ({@link viewChanged}) cannot change what a reconcile does, and queues nothing.
 */
import type { KubernetesObject, V1ObjectMeta, V1Pod, V1Secret } from '@kubernetes/client-node';
import { MANAGED_BY } from '../model/labels.ts';
import type { OwnedKind } from './resources.ts';

function meta(obj: KubernetesObject): V1ObjectMeta {
  const { managedFields: _dropped, ...metadata } = obj.metadata ?? {};
  return metadata;
}

/** The status fields of Deployments and StatefulSets the operator reads. */
interface WorkloadStatus {
  replicas?: number;
  readyReplicas?: number;
  updatedReplicas?: number;
  observedGeneration?: number;
  /** StatefulSets: the revision pods are rolled to (ZooKeeper rolls). */
  updateRevision?: string;
}

interface Workload extends KubernetesObject {
  spec?: { replicas?: number };
  status?: WorkloadStatus;
}

/**
 * Only what status-components.ts and zookeeper-roll.ts read: the rest (conditions and their
 * timestamps, available and current counts) changes on every step of a rollout and would queue a
 * reconcile each time for nothing.
 */
function workloadStatus(status: WorkloadStatus | undefined): WorkloadStatus | undefined {
  if (status === undefined) return undefined;
  const { replicas, readyReplicas, updatedReplicas, observedGeneration, updateRevision } = status;
  return { replicas, readyReplicas, updatedReplicas, observedGeneration, updateRevision };
}

/** The cache transform for objects of `kind`. */
export function trimmed(kind: OwnedKind): (obj: KubernetesObject) => KubernetesObject {
  if (kind === 'StatefulSet' || kind === 'Deployment') {
    return (obj) => {
      const workload = obj as Workload;
      return {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        metadata: meta(obj),
        spec: { replicas: workload.spec?.replicas },
        status: workloadStatus(workload.status),
      } as KubernetesObject;
    };
  }
  return (obj) => ({ apiVersion: obj.apiVersion, kind: obj.kind, metadata: meta(obj) });
}

/**
 * Whether an update changed the cached view of an owned object other than its resourceVersion (the
 * update predicate of owned kinds). Both views come from the same transform, so their keys are in the
 * same order and their JSON compares.
 */
export function viewChanged(before: KubernetesObject, after: KubernetesObject): boolean {
  const text = (obj: KubernetesObject): string =>
    JSON.stringify({ ...obj, metadata: { ...obj.metadata, resourceVersion: undefined } });
  return text(before) !== text(after);
}

/** Secrets: data kept for the operator's own (it reads the Redis password back), key names for others. */
export function secretView(secret: V1Secret): V1Secret {
  const metadata = meta(secret);
  if (metadata.labels?.['app.kubernetes.io/managed-by'] === MANAGED_BY) {
    return { apiVersion: secret.apiVersion, kind: secret.kind, metadata, data: secret.data };
  }
  const keys = [...Object.keys(secret.data ?? {}), ...Object.keys(secret.stringData ?? {})];
  return { metadata, data: Object.fromEntries(keys.map((key) => [key, ''])) };
}

const FAILING = new Set([
  'CrashLoopBackOff',
  'ImagePullBackOff',
  'ErrImagePull',
  'CreateContainerConfigError',
  'CreateContainerError',
  'InvalidImageName',
  'RunContainerError',
]);

/** Waiting reasons of the pod's containers that mean it cannot run. */
export function failingReasons(pod: V1Pod): string[] {
  return [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]
    .map((status) => status.state?.waiting?.reason ?? '')
    .filter((reason) => FAILING.has(reason));
}

type ContainerStatus = NonNullable<NonNullable<V1Pod['status']>['containerStatuses']>[number];
type ContainerState = NonNullable<ContainerStatus['state']>;

function stateView(state: ContainerState | undefined): ContainerState {
  if (state?.running !== undefined) return { running: { startedAt: state.running.startedAt } };
  if (state?.terminated !== undefined) {
    const { exitCode, reason } = state.terminated;
    return { terminated: { exitCode, ...(reason === undefined ? {} : { reason }) } };
  }
  const reason = state?.waiting?.reason;
  return state?.waiting === undefined ? {} : { waiting: reason === undefined ? {} : { reason } };
}

function containerView(status: ContainerStatus): ContainerStatus {
  return {
    name: status.name,
    restartCount: status.restartCount,
    state: stateView(status.state),
    ...(status.lastState?.terminated === undefined ? {} : { lastState: stateView(status.lastState) }),
  } as ContainerStatus;
}

/** Pod conditions kept: Ready, and DisruptionTarget (why a pod is being removed). */
const KEPT_CONDITIONS = new Set(['Ready', 'DisruptionTarget']);

/**
 * Pods: metadata, the node, phase, the pod IP, the Ready and DisruptionTarget conditions, and per container its name, restart
 * count, state and last termination (exit code and reason; worker remediation reads them), the init
 * containers only while they cannot run.
 */
export function podView(pod: V1Pod): V1Pod {
  return {
    metadata: meta(pod),
    // The node (workers on failed nodes) and the pod's address (ZooKeeper members asked their role).
    ...(pod.spec?.nodeName === undefined ? {} : { spec: { nodeName: pod.spec.nodeName, containers: [] } }),
    status: podStatusView(pod.status ?? {}),
  };
}

function podStatusView(status: NonNullable<V1Pod['status']>): NonNullable<V1Pod['status']> {
  const conditions = (status.conditions ?? [])
    .filter((c) => KEPT_CONDITIONS.has(c.type))
    .map((c) => ({
      type: c.type,
      status: c.status,
      ...(c.reason === undefined ? {} : { reason: c.reason }),
    }));
  const init = (status.initContainerStatuses ?? []).filter((s) =>
    FAILING.has(s.state?.waiting?.reason ?? ''),
  );
  return {
    ...(status.phase === undefined ? {} : { phase: status.phase }),
    ...(status.podIP === undefined ? {} : { podIP: status.podIP }),
    ...(conditions.length === 0 ? {} : { conditions }),
    ...(init.length === 0 ? {} : { initContainerStatuses: init.map(containerView) }),
    containerStatuses: (status.containerStatuses ?? []).map(containerView),
  };
}

/**
 * What the reconciler reads of a pod, as one string: failing reasons (status), readiness, deletion and
 * revision (ZooKeeper rolls). Pod updates that leave it unchanged queue nothing.
 */
export function podSummary(pod: V1Pod): string {
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready')?.status ?? '';
  const revision = pod.metadata?.labels?.['controller-revision-hash'] ?? '';
  const deleting = pod.metadata?.deletionTimestamp === undefined ? '' : 'deleting';
  return [failingReasons(pod).join(','), ready, revision, deleting].join('\u0000');
}
