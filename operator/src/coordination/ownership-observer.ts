/**
 * Watches one app's partition ownership on the coordinator's ZooKeeper session and reports a
 * {@link OwnershipSummary} whenever what it read changed (callers deduplicate equal summaries). Three
 * watches per app, none per partition: the assignment's data, the children of `owners/` and the children of
 * `members/`. Who holds `owners/<p>` is read (one `get`) only for partitions whose holder is not known to be
 * their assigned owner, and for all of them after the assignment changed; a holder cannot change without
 * the node being deleted and created again, which changes the children, and another worker claims a
 * partition only once the assignment names it. Reads run one at a time; a change during a read makes
 * another pass. Nothing is reported before all three watches delivered their first value, so a summary
 * never mixes a fresh assignment with unknown members.
 *
 * It also times rebalances: from the time a rebalance wrote the assignment until every partition it moved is
 * held by its assigned owner (`onSettled`, in ms). Rebalances that overlap are timed together from the first.
 * A new leader starts empty and reads everything again: nothing here outlives the session.
 */
import { decodeAssignment, type AssignmentRecord } from '../../../common/src/assignment-record.ts';
import type { RebalanceResult } from '../../../common/src/rebalancer.ts';
import type { Timers } from '../../../common/src/timers.ts';
import type { NodeData, Unwatch, ZooKeeperClient } from '../../../common/src/zookeeper-client.ts';
import { ZooKeeperErrorCode, isZooKeeperError } from '../../../common/src/zookeeper-error.ts';
import {
  assignmentPath,
  membersPath,
  ownerPath,
  ownersPath,
  type AppRef,
} from '../../../common/src/zk-paths.ts';
import type { OwnershipSummary } from '../model/status-partitions.ts';
import type { Logger } from '../runtime/index.ts';
import { summarizeOwnership, type OwnershipReading } from './ownership-summary.ts';

/** Options of {@link OwnershipObserver}. */
export interface OwnershipObserverOptions {
  readonly ref: AppRef;
  /** The coordinator's client; it stays the caller's. */
  readonly client: ZooKeeperClient;
  readonly timers: Timers;
  /** App fields bound. */
  readonly logger: Logger;
  readonly onSummary: (summary: OwnershipSummary) => void;
  /** Each reading behind a summary, partition by partition (the dashboard's partition map). Default: none. */
  readonly onReading?: (reading: OwnershipReading) => void;
  readonly onSettled?: (durationMs: number) => void;
}

/** A rebalance being timed: since when, and the new owner of each partition it moved (later moves win). */
interface Timing {
  readonly since: number;
  readonly owners: Map<number, string>;
}

function holderOf(node: NodeData): string | undefined {
  try {
    const { workerId } = JSON.parse(node.data.toString('utf8')) as { workerId?: unknown };
    return typeof workerId === 'string' ? workerId : undefined;
  } catch {
    return undefined;
  }
}

function partitionNumbers(names: readonly string[]): number[] {
  return names.filter((n) => /^(0|[1-9]\d*)$/.test(n)).map(Number);
}

/** See the module comment. */
export class OwnershipObserver {
  readonly #o: OwnershipObserverOptions;
  readonly #holders = new Map<number, string>();
  readonly #unwatch: Unwatch[] = [];
  #record: AssignmentRecord | undefined;
  #version: number | undefined;
  #assignmentSeen = false;
  #owners: number[] | undefined;
  #members: Set<string> | undefined;
  #timing: Timing | undefined;
  #running = false;
  #dirty = false;
  #closed = false;

  constructor(options: OwnershipObserverOptions) {
    this.#o = options;
  }

  /** Arms the watches; the first summary follows once each delivered. */
  start(): void {
    const { client, ref } = this.#o;
    client.on('connected', this.#kick);
    this.#unwatch.push(
      client.watchData(assignmentPath(ref), (node) => this.#onAssignment(node)),
      client.watchChildren(ownersPath(ref), (names) => {
        this.#owners = partitionNumbers(names ?? []);
        this.#kick();
      }),
      client.watchChildren(membersPath(ref), (names) => {
        this.#members = new Set(names ?? []);
        this.#kick();
      }),
    );
  }

  /** Starts (or extends) the timing of a rebalance that moved partitions. */
  rebalanced(result: Pick<RebalanceResult, 'time' | 'moved'>): void {
    if (this.#closed || result.moved.length === 0) return;
    const timing = this.#timing ?? { since: result.time, owners: new Map<number, string>() };
    for (const move of result.moved) timing.owners.set(move.partition, move.to);
    this.#timing = timing;
    this.#kick();
  }

  /** Stops watching; a read in flight reports nothing. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#o.client.off('connected', this.#kick);
    for (const unwatch of this.#unwatch.splice(0)) unwatch();
  }

  #onAssignment(node: NodeData | undefined): void {
    try {
      this.#record = node === undefined ? undefined : decodeAssignment(node.data);
    } catch (error: unknown) {
      this.#o.logger.warn({ err: error }, 'ignoring an unreadable assignment');
      return;
    }
    this.#version = node?.stat.version;
    this.#assignmentSeen = true;
    this.#holders.clear();
    this.#kick();
  }

  readonly #kick = (): void => {
    if (this.#closed) return;
    this.#dirty = true;
    if (this.#running) return;
    this.#running = true;
    void this.#drain().finally(() => (this.#running = false));
  };

  async #drain(): Promise<void> {
    while (this.#dirty && !this.#closed) {
      this.#dirty = false;
      try {
        await this.#refresh();
      } catch (error: unknown) {
        // Connection trouble: the next `connected` kicks again.
        this.#o.logger.debug({ err: error }, 'reading partition owners failed; retrying on reconnection');
        return;
      }
    }
  }

  async #refresh(): Promise<void> {
    const owners = this.#owners;
    const members = this.#members;
    if (!this.#assignmentSeen || owners === undefined || members === undefined) return;
    const present = new Set(owners);
    for (const p of this.#holders.keys()) if (!present.has(p)) this.#holders.delete(p);
    const assigned = (p: number): string | undefined => this.#record?.partitions[p]?.owner;
    const unsure = owners.filter(
      (p) => this.#holders.get(p) === undefined || this.#holders.get(p) !== assigned(p),
    );
    await Promise.all(unsure.map((p) => this.#readHolder(p)));
    if (this.#closed) return;
    const reading = {
      record: this.#record,
      version: this.#version,
      holders: new Map(this.#holders),
      members,
    };
    this.#o.onReading?.(reading);
    this.#o.onSummary(summarizeOwnership(reading));
    this.#checkSettled();
  }

  async #readHolder(p: number): Promise<void> {
    try {
      const holder = holderOf(await this.#o.client.get(ownerPath(this.#o.ref, p)));
      if (holder === undefined) this.#holders.delete(p);
      else this.#holders.set(p, holder);
    } catch (error: unknown) {
      if (!isZooKeeperError(error, ZooKeeperErrorCode.NO_NODE)) throw error;
      this.#holders.delete(p);
    }
  }

  #checkSettled(): void {
    const timing = this.#timing;
    if (timing === undefined) return;
    // Against the moves themselves, not the assignment read so far: its watch may not have delivered the write yet.
    const settled = [...timing.owners].every(([p, owner]) => this.#holders.get(p) === owner);
    if (!settled) return;
    this.#timing = undefined;
    this.#o.onSettled?.(Math.max(0, this.#o.timers.now() - timing.since));
  }
}
