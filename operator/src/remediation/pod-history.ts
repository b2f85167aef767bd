/**
 * What the worker-pod watch saw over time, which the cache alone forgets: pods seen terminating with a
 * grace period, the times each pod's worker container restarted, and the pods gone from the API (kept
 * for {@link GONE_RETENTION_MS} or until {@link PodHistory.forget}). An informer `EventHandler` of the pod
 * cache; listeners hear the namespace and app of every worker-pod change. In memory only: a new leader
 * starts with none, so a pod deleted before it led falls back to session expiry.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { Clock, EventHandler } from '../runtime/index.ts';
import { WORKER_CONTAINER, type GonePod, RESTART_WINDOW_MS } from './worker-verdicts.ts';

/** Ten minutes. */
export const GONE_RETENTION_MS = 10 * 60_000;

/** The app of a worker pod, by its labels; undefined for other pods. */
export function workerApp(pod: V1Pod): { namespace: string; app: string } | undefined {
  const labels = pod.metadata?.labels ?? {};
  const app = labels['app.kubernetes.io/instance'];
  if (labels['app.kubernetes.io/component'] !== 'worker' || app === undefined) return undefined;
  return { namespace: pod.metadata?.namespace ?? '', app };
}

function restartCount(pod: V1Pod): number {
  return pod.status?.containerStatuses?.find((s) => s.name === WORKER_CONTAINER)?.restartCount ?? 0;
}

function terminatingGracefully(pod: V1Pod): boolean {
  return pod.metadata?.deletionTimestamp !== undefined && (pod.metadata.deletionGracePeriodSeconds ?? 0) > 0;
}

interface Gone extends GonePod {
  readonly at: number;
}

/** See the module comment. */
export class PodHistory implements EventHandler<V1Pod> {
  readonly #clock: Clock;
  readonly #graceful = new Set<string>();
  readonly #restarts = new Map<string, number[]>();
  readonly #gone = new Map<string, Gone>();
  readonly #listeners: ((ref: { namespace: string; app: string }) => void)[] = [];

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Calls `listener` on every worker-pod change until the returned function is called. */
  subscribe(listener: (ref: { namespace: string; app: string }) => void): () => void {
    this.#listeners.push(listener);
    return () => {
      const at = this.#listeners.indexOf(listener);
      if (at >= 0) this.#listeners.splice(at, 1);
    };
  }

  onAdd(pod: V1Pod): void {
    this.#seen(pod, 0);
  }

  onUpdate(before: V1Pod, after: V1Pod): void {
    this.#seen(after, restartCount(after) - restartCount(before));
  }

  onDelete(pod: V1Pod): void {
    const uid = pod.metadata?.uid ?? '';
    const ref = workerApp(pod);
    if (ref === undefined) return;
    this.#gone.set(uid, { pod, terminatedGracefully: this.#graceful.has(uid), at: this.#clock.now() });
    this.#graceful.delete(uid);
    this.#restarts.delete(uid);
    this.#notify(ref);
  }

  /** The app's worker pods gone within the retention, oldest first. */
  gone(namespace: string, app: string): GonePod[] {
    const cutoff = this.#clock.now() - GONE_RETENTION_MS;
    for (const [uid, gone] of this.#gone) if (gone.at < cutoff) this.#gone.delete(uid);
    return [...this.#gone.values()].filter((g) => {
      const ref = workerApp(g.pod);
      return ref?.namespace === namespace && ref.app === app;
    });
  }

  /** Restart times of every pod's worker container within the window. */
  restarts(): ReadonlyMap<string, readonly number[]> {
    return this.#restarts;
  }

  /** Drops a gone pod (its removal is done). */
  forget(uid: string): void {
    this.#gone.delete(uid);
  }

  #seen(pod: V1Pod, newRestarts: number): void {
    const ref = workerApp(pod);
    if (ref === undefined) return;
    const uid = pod.metadata?.uid ?? '';
    if (terminatingGracefully(pod)) this.#graceful.add(uid);
    if (newRestarts > 0) {
      const now = this.#clock.now();
      const times = (this.#restarts.get(uid) ?? []).filter((t) => now - t <= RESTART_WINDOW_MS);
      for (let i = 0; i < newRestarts; i++) times.push(now);
      this.#restarts.set(uid, times);
    }
    this.#notify(ref);
  }

  #notify(ref: { namespace: string; app: string }): void {
    for (const listener of this.#listeners) listener(ref);
  }
}
