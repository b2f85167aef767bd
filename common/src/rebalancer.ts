import { EventEmitter } from 'node:events';
import { computeAssignment } from './assignment.ts';
import type { AssignmentMove } from './assignment.ts';
import { decodeAssignment, encodeAssignment, nextRecord, ownersOf } from './assignment-record.ts';
import type { AssignmentRecord } from './assignment-record.ts';
import type { Timers } from './timers.ts';
import { systemTimers } from './timers.ts';
import type { Unwatch, ZooKeeperClient } from './zookeeper-client.ts';
import { ZooKeeperErrorCode, isZooKeeperError } from './zookeeper-error.ts';
import {
  appRoot,
  assignmentPath,
  leavingNoticePath,
  memberPath,
  membersPath,
  ownersPath,
} from './zk-paths.ts';
import type { AppRef } from './zk-paths.ts';

export interface RebalancerOptions extends AppRef {
  /** A connected client; it stays the caller's. */
  client: ZooKeeperClient;
  /** Number of partitions of the app. */
  partitions: number;
  /**
   * How long a departed worker keeps its partitions before they move (rebalanceDelaySeconds), counted
   * from when it went silent; default 0. A member whose session expired (it vanished without a departure
   * notice) has been silent for its session timeout already, as its member record says.
   */
  departureDelayMs?: number;
  /**
   * Members that must own nothing: they stay registered and serve until their partitions are claimed
   * elsewhere (a scale-down drains the pods that will go before they stop). Default: none.
   */
  retiring?: (worker: string) => boolean;
  /** Compare-and-set attempts per rebalance before giving up with REBALANCE_CONFLICT; default 10. */
  maxAttempts?: number;
  timers?: Timers;
  logger?: { warn(fields: Record<string, unknown>, message: string): void };
}

/** One rebalance that wrote a new assignment. */
export interface RebalanceResult {
  /** When it was written (ms since the epoch, from the injected clock). */
  time: number;
  reason: string;
  moved: AssignmentMove[];
  /** The record as written. */
  record: AssignmentRecord;
}

export interface RebalancerEvents {
  rebalanced: [RebalanceResult];
}

/** The assignment kept changing under the compare-and-set for `maxAttempts` rounds. */
export class RebalanceConflictError extends Error {
  readonly code = 'REBALANCE_CONFLICT';
  constructor(attempts: number) {
    super(`assignment changed concurrently ${attempts} times in a row; giving up this round`);
    this.name = 'RebalanceConflictError';
  }
}

/**
 * Keeps `assignment` in step with `members/`. A joining (or returning) worker triggers a rebalance at
 * once; a departed worker keeps its partitions for `departureDelayMs` (so a quick restart does not
 * shuffle), then they move. Each rebalance reads the assignment, computes the next one with
 * {@link computeAssignment}, bumps the epoch of every moved partition and writes it with a versioned
 * compare-and-set, retrying from the read on BAD_VERSION / NODE_EXISTS. Rebalances run one at a time.
 * Nothing is written when nothing moves.
 */
export class Rebalancer extends EventEmitter<RebalancerEvents> {
  readonly #options: RebalancerOptions;
  readonly #client: ZooKeeperClient;
  readonly #timers: Timers;
  readonly #live = new Set<string>();
  /**
   * Workers that own partitions but are not members, with the time they went silent: when their absence
   * was first seen, less the session timeout of a member seen to vanish.
   */
  readonly #departedAt = new Map<string, number>();
  /** Live members' session timeouts, from their member records. */
  readonly #sessionTimeouts = new Map<string, number>();
  #record: AssignmentRecord | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #timer: unknown;
  #unwatch: Unwatch | undefined;
  #last: RebalanceResult | undefined;
  #closed = false;

  constructor(options: RebalancerOptions) {
    super();
    this.#options = { ...options };
    this.#client = options.client;
    this.#timers = options.timers ?? systemTimers;
  }

  /** Creates the app's nodes if missing, reads the assignment and starts watching `members/`. */
  async start(): Promise<void> {
    await this.#client.mkdirp(membersPath(this.#options));
    await this.#client.mkdirp(ownersPath(this.#options));
    this.#record = (await this.#read()).record;
    this.#unwatch = this.#client.watchChildren(membersPath(this.#options), (names) =>
      this.#onMembers(names ?? []),
    );
  }

  /** The last rebalance that moved something, if any. */
  get lastRebalance(): RebalanceResult | undefined {
    return this.#last;
  }

  /** Live members as last seen. */
  get members(): string[] {
    return [...this.#live].sort();
  }

  /**
   * Rebalances now, after any rebalance already running. With `immediate`, departed workers lose their
   * partitions without waiting for the delay (a crash-looping pod). Resolves with the result, or
   * undefined when nothing needed to move; rejects with the ZooKeeper error or RebalanceConflictError.
   */
  rebalanceNow(reason: string, options: { immediate?: boolean } = {}): Promise<RebalanceResult | undefined> {
    const run = this.#chain.then(() => this.#rebalance(reason, options.immediate ?? false));
    this.#chain = run.catch(() => undefined);
    return run;
  }

  /** Stops watching and cancels the departure timer; a running rebalance finishes. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#unwatch?.();
    this.#timers.clearTimeout(this.#timer);
    await this.#chain;
  }

  #onMembers(names: string[]): void {
    if (this.#closed) return;
    const joined = names.filter((n) => !this.#live.has(n));
    const left = [...this.#live].filter((n) => !names.includes(n));
    this.#live.clear();
    for (const n of names) this.#live.add(n);
    this.#trackDepartures(left);
    for (const n of joined) void this.#readSessionTimeout(n);
    if (left.length > 0) void this.#honourLeavingNotices(left);
    if (joined.length === 0 && left.length === 0) return;
    const reason = [
      joined.length ? `joined: ${joined.join(',')}` : '',
      left.length ? `left: ${left.join(',')}` : '',
    ]
      .filter(Boolean)
      .join('; ');
    this.#background(`members changed (${reason})`);
  }

  /**
   * A worker that left on purpose (SIGTERM, scale-down) wrote `leaving/<worker>` before deregistering;
   * its partitions need not wait for the delay meant for crashes, so its departure is backdated past
   * the delay and a rebalance runs. The notice is consumed.
   */
  async #honourLeavingNotices(left: string[]): Promise<void> {
    const delay = this.#options.departureDelayMs ?? 0;
    const graceful: string[] = [];
    for (const worker of left) {
      const notice = leavingNoticePath(this.#options, worker);
      try {
        if (!(await this.#client.exists(notice))) continue;
        await this.#client.remove(notice).catch(() => undefined);
      } catch (error) {
        this.#options.logger?.warn({ err: error, worker }, 'could not read a departure notice');
        continue;
      }
      if (this.#live.has(worker) || !this.#departedAt.has(worker)) continue;
      this.#departedAt.set(worker, this.#timers.now() - delay);
      graceful.push(worker);
    }
    if (delay > 0 && graceful.length > 0) this.#background(`left on purpose: ${graceful.join(',')}`);
  }

  #background(reason: string, immediate = false): void {
    this.rebalanceNow(reason, { immediate }).catch((error: unknown) => {
      this.#options.logger?.warn({ err: error, reason }, 'rebalance failed; retrying');
      this.#armTimer(this.#timers.now() + 1_000, `retry: ${reason}`);
    });
  }

  /**
   * Remembers a joined member's session timeout. A member without one (an older worker) or unreadable
   * counts as silent only from when it is seen gone.
   */
  async #readSessionTimeout(worker: string): Promise<void> {
    try {
      const node = await this.#client.get(memberPath(this.#options, worker));
      const { sessionTimeoutMs } = JSON.parse(node.data.toString('utf8')) as { sessionTimeoutMs?: unknown };
      if (typeof sessionTimeoutMs === 'number' && sessionTimeoutMs > 0 && this.#live.has(worker))
        this.#sessionTimeouts.set(worker, sessionTimeoutMs);
    } catch (error) {
      if (!isZooKeeperError(error, ZooKeeperErrorCode.NO_NODE))
        this.#options.logger?.warn({ err: error, worker }, 'could not read a member record');
    }
  }

  /**
   * Updates the departure times and schedules the next delayed rebalance. A member seen to vanish
   * (`left`) had its session end: closed by a worker leaving on purpose, which left a notice (see
   * {@link #honourLeavingNotices}), or expired, which takes the session timeout of silence. Either way its
   * silence is dated back by that timeout; a worker restarted in its pod replaces its member record
   * atomically, so it never vanishes. Owners absent at the start (or without a known timeout) date from
   * now.
   */
  #trackDepartures(left: readonly string[] = []): void {
    const now = this.#timers.now();
    const owners = new Set(ownersOf(this.#record).filter((o): o is string => o !== undefined));
    for (const w of this.#departedAt.keys())
      if (this.#live.has(w) || !owners.has(w)) this.#departedAt.delete(w);
    for (const w of owners)
      if (!this.#live.has(w) && !this.#departedAt.has(w))
        this.#departedAt.set(w, now - this.#silence(w, left));
    for (const w of left) this.#sessionTimeouts.delete(w);
    const delay = this.#options.departureDelayMs ?? 0;
    // Only future deadlines: a rebalance that finds a passed one moves its partitions (or cannot, with no
    // live worker at all, and then the next membership change triggers it), so re-arming it would spin.
    const deadlines = [...this.#departedAt.values()].map((t) => t + delay).filter((t) => t > now);
    if (deadlines.length > 0) this.#armTimer(Math.min(...deadlines), 'departure delay elapsed');
  }

  /** How long `worker` has been silent when its absence is first seen: its session timeout if it just left. */
  #silence(worker: string, left: readonly string[]): number {
    return left.includes(worker) ? (this.#sessionTimeouts.get(worker) ?? 0) : 0;
  }

  #armTimer(at: number, reason: string): void {
    if (this.#closed) return;
    this.#timers.clearTimeout(this.#timer);
    const wait = Math.max(0, at - this.#timers.now());
    this.#timer = this.#timers.setTimeout(() => this.#background(reason), wait);
  }

  /** Live workers plus departed ones still inside their delay (all departed are out when `immediate`). */
  #candidates(immediate: boolean): string[] {
    const now = this.#timers.now();
    const delay = this.#options.departureDelayMs ?? 0;
    const waiting = [...this.#departedAt].filter(([, at]) => !immediate && now - at < delay).map(([w]) => w);
    const retiring = this.#options.retiring ?? (() => false);
    return [...this.#live, ...waiting].filter((worker) => !retiring(worker));
  }

  async #rebalance(reason: string, immediate: boolean): Promise<RebalanceResult | undefined> {
    const attempts = this.#options.maxAttempts ?? 10;
    for (let attempt = 0; attempt < attempts && !this.#closed; attempt++) {
      const { record, version } = await this.#read();
      this.#record = record;
      this.#trackDepartures();
      const result = computeAssignment(
        ownersOf(record),
        this.#candidates(immediate),
        this.#options.partitions,
      );
      const sameSize = record?.partitions.length === this.#options.partitions;
      if (result.moved.length === 0 && sameSize) return undefined;
      const next = nextRecord(record, result);
      if (!(await this.#write(next, version))) continue;
      this.#record = next;
      this.#trackDepartures();
      this.#last = { time: this.#timers.now(), reason, moved: result.moved, record: next };
      this.emit('rebalanced', this.#last);
      return this.#last;
    }
    if (this.#closed) return undefined;
    throw new RebalanceConflictError(attempts);
  }

  async #read(): Promise<{ record: AssignmentRecord | undefined; version: number }> {
    try {
      const node = await this.#client.get(assignmentPath(this.#options));
      return { record: decodeAssignment(node.data), version: node.stat.version };
    } catch (error) {
      if (isZooKeeperError(error, ZooKeeperErrorCode.NO_NODE)) return { record: undefined, version: -1 };
      throw error;
    }
  }

  /** Compare-and-set; false when another writer got there first (read again and recompute). */
  async #write(record: AssignmentRecord, version: number): Promise<boolean> {
    const path = assignmentPath(this.#options);
    try {
      if (version < 0) {
        await this.#client.mkdirp(appRoot(this.#options));
        await this.#client.create(path, encodeAssignment(record));
      } else {
        await this.#client.set(path, encodeAssignment(record), version);
      }
      return true;
    } catch (error) {
      if (isZooKeeperError(error, ZooKeeperErrorCode.BAD_VERSION, ZooKeeperErrorCode.NODE_EXISTS))
        return false;
      throw error;
    }
  }
}
