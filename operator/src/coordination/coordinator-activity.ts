/**
 * Which apps have a coordinator in this process: from the moment one is started until its ZooKeeper session
 * is closed (a coordinator that is stopping still counts, since it may still write). The coordinators report
 * here; the DistributedApp reconciler asks before it removes an app's ZooKeeper paths, so that no coordinator
 * of the app writes there again. Like the coordinators, it knows only this process: another replica
 * coordinates only while it leads, and the reconciler only runs while this one leads.
 */
import type { AppRef } from '../../../common/src/zk-paths.ts';
import { coordinatorKey } from './coordinator-spec.ts';

/** What the reconciler needs of {@link CoordinatorActivity}. */
export interface CoordinatorActivitySource {
  /** Whether a coordinator of the app runs in this process or is still closing its session. */
  isCoordinating(ref: AppRef): boolean;
}

/** See the module comment. */
export class CoordinatorActivity implements CoordinatorActivitySource {
  /** Per app, the coordinators started and not yet closed (two while a restarted one waits for its predecessor). */
  readonly #open = new Map<string, number>();

  /** A coordinator of the app was started. */
  began(ref: AppRef): void {
    const key = coordinatorKey(ref);
    this.#open.set(key, (this.#open.get(key) ?? 0) + 1);
  }

  /** A coordinator of the app closed its session (or failed to); call once per {@link began}. */
  ended(ref: AppRef): void {
    const key = coordinatorKey(ref);
    const open = (this.#open.get(key) ?? 0) - 1;
    if (open > 0) this.#open.set(key, open);
    else this.#open.delete(key);
  }

  isCoordinating(ref: AppRef): boolean {
    return this.#open.has(coordinatorKey(ref));
  }
}
