/**
 * The observation store between the coordinators and the DistributedApp reconciler: per app, the last
 * {@link PartitionObservation} its coordinator published. Writers are the coordinators (an ownership summary,
 * "cannot reach ZooKeeper", a rebalance); the reconciler reads it as part of what it observed. Every change
 * of an app's entry is announced to the subscribers (the controller enqueues the app's key); publishing an
 * equal entry announces nothing, so a steady app costs no reconcile.
 *
 * Everything here is rebuilt by a new leader's coordinators from ZooKeeper, except the last rebalance,
 * which lives on in the stored status (the reconciler keeps it until this store knows a newer one).
 */
import type { AppRef } from '../../../common/src/zk-paths.ts';
import type { LastRebalance, OwnershipSummary, PartitionInput } from '../model/status-partitions.ts';

/** One app's entry. */
export interface PartitionObservation {
  /** `observing`: a session is open and `ownership` (once read) is current; `unreachable`: it cannot open one. */
  readonly coordinator: 'observing' | 'unreachable';
  readonly ownership?: OwnershipSummary;
  readonly lastRebalance?: LastRebalance;
}

/** Called with the app whose entry changed. Must not throw. */
export type ObservationListener = (ref: AppRef) => void;

/** What the reconciler needs of the store. */
export interface PartitionObservationSource {
  /** The app's entry, or undefined while its coordinator has reported nothing. */
  get(namespace: string, app: string): PartitionObservation | undefined;
  /** Adds a listener; returns its removal. */
  subscribe(listener: ObservationListener): () => void;
}

function key(ref: AppRef): string {
  return `${ref.namespace}/${ref.app}`;
}

/** Key order is fixed by the writers, so JSON text compares equal entries equal. */
function same(a: PartitionObservation | undefined, b: PartitionObservation | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The builder input for an app from its entry: `pending` without one, `unreachable`, or `observed` once
 * the ownership has been read (an open session that has not read it yet is still `pending`).
 */
export function partitionInput(observation: PartitionObservation | undefined): PartitionInput {
  if (observation === undefined) return { state: 'pending' };
  const last = observation.lastRebalance === undefined ? {} : { lastRebalance: observation.lastRebalance };
  if (observation.coordinator === 'unreachable') return { state: 'unreachable', ...last };
  if (observation.ownership === undefined) return { state: 'pending' };
  return { state: 'observed', ownership: observation.ownership, ...last };
}

/** See the module comment. */
export class PartitionObservations implements PartitionObservationSource {
  readonly #entries = new Map<string, PartitionObservation>();
  readonly #listeners = new Set<ObservationListener>();

  get(namespace: string, app: string): PartitionObservation | undefined {
    return this.#entries.get(key({ namespace, app }));
  }

  subscribe(listener: ObservationListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The coordinator read the app's ownership. */
  observed(ref: AppRef, ownership: OwnershipSummary): void {
    this.#update(ref, (old) => ({ coordinator: 'observing', ownership, ...this.#last(old) }));
  }

  /** The coordinator cannot open a ZooKeeper session: the ownership is unknown. */
  unreachable(ref: AppRef): void {
    this.#update(ref, (old) => ({ coordinator: 'unreachable', ...this.#last(old) }));
  }

  /** The coordinator wrote a new assignment. */
  rebalanced(ref: AppRef, lastRebalance: LastRebalance): void {
    this.#update(ref, (old) => ({
      coordinator: old?.coordinator ?? 'observing',
      ...(old?.ownership === undefined ? {} : { ownership: old.ownership }),
      lastRebalance,
    }));
  }

  /** The app no longer has a coordinator (deleted): its entry goes, without an announcement. */
  forget(ref: AppRef): void {
    this.#entries.delete(key(ref));
  }

  /** Drops every entry (coordination stopped), without announcements. */
  clear(): void {
    this.#entries.clear();
  }

  #last(old: PartitionObservation | undefined): { lastRebalance?: LastRebalance } {
    return old?.lastRebalance === undefined ? {} : { lastRebalance: old.lastRebalance };
  }

  #update(ref: AppRef, next: (old: PartitionObservation | undefined) => PartitionObservation): void {
    const k = key(ref);
    const old = this.#entries.get(k);
    const entry = next(old);
    if (same(old, entry)) return;
    this.#entries.set(k, entry);
    const announced = { namespace: ref.namespace, app: ref.app };
    for (const listener of this.#listeners) listener(announced);
  }
}
