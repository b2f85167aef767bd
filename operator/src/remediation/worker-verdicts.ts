/**
 * What Kubernetes proves about each worker process of an app (pure): from the worker pods in the cache,
 * the pods seen gone and each pod's recent restarts, which workers are proven dead, which crash-loop and
 * which merely restarted. DESIGN section 6, first rows. The proofs:
 *
 * - `dead` / `pod-gone`: the pod was seen terminating with a grace period (`deletionGracePeriodSeconds > 0`)
 *   and is now gone from the API. A graceful deletion completes only when the kubelet confirms that every
 *   container stopped, unless the pod was being removed for a failed node (DisruptionTarget with reason
 *   DeletionByTaintManager or DeletionByPodGC), which ends in a forced removal and proves nothing.
 * - `dead` / `container-terminated`: the pod is terminal (phase Failed or Succeeded) with its worker
 *   container terminated: the kubelet reports `terminated` only after the process exited, and restarts no
 *   container of a terminal pod.
 * - `unproven` / `force-deleted`: gone without a graceful termination seen (`--grace-period=0 --force`, or a
 *   node-failure removal): the process may still run on an unreachable node; only session expiry fences.
 * - `crash-looping`: the worker container waits in `CrashLoopBackOff`, or restarted at least
 *   `CRASH_LOOP_RESTARTS` times within the window. `processDead` is true while it is not running.
 * - `restarted`: restarted within the window, fewer times: the process restarts in the same pod and
 *   reclaims its partitions; nothing is done (that is what `rebalanceDelaySeconds` is for).
 * Healthy workers get no verdict. The worker id is the pod name (`CAPSTAN_WORKER_ID` defaults to the hostname).
 */
import type { V1Pod } from '@kubernetes/client-node';

/** Restarts within {@link RESTART_WINDOW_MS} that make a crash loop. */
export const CRASH_LOOP_RESTARTS = 3;
/** Five minutes. */
export const RESTART_WINDOW_MS = 5 * 60_000;
/** The name of the worker container in the StatefulSet's pod template. */
export const WORKER_CONTAINER = 'worker';

const NODE_FAILURE_REASONS = new Set(['DeletionByTaintManager', 'DeletionByPodGC']);

/** A pod removed from the API, as last seen. */
export interface GonePod {
  readonly pod: V1Pod;
  /** It was seen terminating with a grace period before it went. */
  readonly terminatedGracefully: boolean;
}

/** What {@link workerVerdicts} reads. */
export interface VerdictInput {
  /** The app's worker pods in the cache. */
  readonly pods: readonly V1Pod[];
  readonly gone: readonly GonePod[];
  /** Times (ms) at which each pod's worker container was seen restarting, by pod uid. */
  readonly restarts: ReadonlyMap<string, readonly number[]>;
  readonly now: number;
}

interface Identity {
  readonly worker: string;
  readonly uid: string;
}

/** One worker's verdict; see the module comment. */
export type WorkerVerdict =
  | (Identity & { readonly kind: 'dead'; readonly cause: 'pod-gone' | 'container-terminated' })
  | (Identity & { readonly kind: 'unproven'; readonly cause: 'force-deleted' })
  | (Identity & {
      readonly kind: 'crash-looping';
      readonly processDead: boolean;
      /** e.g. `Error (exit code 1)`; `unknown` when the kubelet reported none. */
      readonly lastExit: string;
    })
  | (Identity & { readonly kind: 'restarted'; readonly restarts: number });

function identity(pod: V1Pod): Identity {
  return { worker: pod.metadata?.name ?? '', uid: pod.metadata?.uid ?? '' };
}

function workerStatus(
  pod: V1Pod,
): NonNullable<NonNullable<V1Pod['status']>['containerStatuses']>[number] | undefined {
  return pod.status?.containerStatuses?.find((s) => s.name === WORKER_CONTAINER);
}

function terminal(pod: V1Pod): boolean {
  const phase = pod.status?.phase;
  return (phase === 'Failed' || phase === 'Succeeded') && workerStatus(pod)?.state?.terminated !== undefined;
}

function removedForNodeFailure(pod: V1Pod): boolean {
  return (pod.status?.conditions ?? []).some(
    (c) => c.type === 'DisruptionTarget' && c.status === 'True' && NODE_FAILURE_REASONS.has(c.reason ?? ''),
  );
}

/** The last exit the kubelet reported for the worker container. */
export function lastExit(pod: V1Pod): string {
  const status = workerStatus(pod);
  const exit = status?.state?.terminated ?? status?.lastState?.terminated;
  if (exit === undefined) return 'unknown';
  return `${exit.reason ?? 'Terminated'} (exit code ${exit.exitCode})`;
}

function goneVerdict(gone: GonePod): WorkerVerdict {
  if (terminal(gone.pod)) return { ...identity(gone.pod), kind: 'dead', cause: 'container-terminated' };
  if (gone.terminatedGracefully && !removedForNodeFailure(gone.pod))
    return { ...identity(gone.pod), kind: 'dead', cause: 'pod-gone' };
  return { ...identity(gone.pod), kind: 'unproven', cause: 'force-deleted' };
}

function liveVerdict(pod: V1Pod, input: VerdictInput): WorkerVerdict | undefined {
  const id = identity(pod);
  if (terminal(pod)) return { ...id, kind: 'dead', cause: 'container-terminated' };
  const status = workerStatus(pod);
  const recent = (input.restarts.get(id.uid) ?? []).filter((t) => input.now - t <= RESTART_WINDOW_MS).length;
  const backingOff = status?.state?.waiting?.reason === 'CrashLoopBackOff';
  if (backingOff || recent >= CRASH_LOOP_RESTARTS)
    return {
      ...id,
      kind: 'crash-looping',
      processDead: status?.state?.running === undefined,
      lastExit: lastExit(pod),
    };
  if (recent > 0) return { ...id, kind: 'restarted', restarts: recent };
  return undefined;
}

/** See the module comment. A pod both gone and in the cache (a successor of the same name) is judged by uid. */
export function workerVerdicts(input: VerdictInput): WorkerVerdict[] {
  const verdicts = input.gone.map(goneVerdict);
  for (const pod of input.pods) {
    const verdict = liveVerdict(pod, input);
    if (verdict !== undefined) verdicts.push(verdict);
  }
  return verdicts;
}
