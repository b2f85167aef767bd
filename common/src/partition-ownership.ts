import { EventEmitter } from 'node:events';
import { decodeAssignment } from './assignment-record.ts';
import type { AssignmentRecord } from './assignment-record.ts';
import { EphemeralRegistry } from './ephemeral-registry.ts';
import type { Timers } from './timers.ts';
import { systemTimers } from './timers.ts';
import type { NodeData, Unwatch, ZooKeeperClient } from './zookeeper-client.ts';
import { ZooKeeperErrorCode, isZooKeeperError } from './zookeeper-error.ts';
import {
  assignmentPath,
  leavingNoticePath,
  leavingPath,
  memberPath,
  membersPath,
  ownerPath,
  ownersPath,
} from './zk-paths.ts';
import type { AppRef } from './zk-paths.ts';

/** What a worker publishes in `members/<id>` (JSON). `address` is `host:port` of its internal RPC. */
export interface MemberInfo {
  address: string;
  ports?: Record<string, number>;
  /**
   * The session timeout the server granted this worker (written by the worker itself). A member that
   * disappears without a departure notice had its session expire: the rebalancer then knows it has been
   * silent for at least this long.
   */
  sessionTimeoutMs?: number;
}

/** The owner of a partition according to the assignment, with its published member data. */
export interface PartitionOwnerInfo {
  workerId: string;
  address: string;
  member: MemberInfo;
}

/** Handle of one unit of in-flight work on a partition; call `end()` exactly once (extra calls are ignored). */
export interface InFlight {
  epoch: number;
  end(): void;
}

/** Minimal logger (pino-compatible). */
export interface OwnershipLogger {
  warn(fields: Record<string, unknown>, message: string): void;
}

/**
 * Which life of a worker this process is: its pod's UID and a count that goes up with each start of
 * the worker in that pod. The kubelet starts a container only after the previous one in the pod is
 * dead, so a higher count in the same pod proves that the lower one's process is gone.
 */
export interface Incarnation {
  pod: string;
  count: number;
}

/** What a worker writes in `owners/<p>` (JSON). */
interface OwnerRecord {
  workerId?: unknown;
  epoch?: unknown;
  pod?: unknown;
  incarnation?: unknown;
}

export interface PartitionOwnershipOptions extends AppRef {
  /** A connected client; it stays the caller's (close() does not close it). */
  client: ZooKeeperClient;
  workerId: string;
  member: MemberInfo;
  /**
   * This process's incarnation. With it, `owners/<p>` left by an earlier incarnation in the same pod
   * (whose session has not expired yet) is replaced at once instead of waited for.
   */
  incarnation?: Incarnation;
  /** How long a release waits for in-flight work before deleting `owners/<p>` anyway; default 10 000 ms. */
  releaseTimeoutMs?: number;
  /** Delay before retrying a step that failed while still connected; default 500 ms. */
  retryDelayMs?: number;
  timers?: Timers;
  logger?: OwnershipLogger;
}

/** Events: `assigned(partition, epoch)` when serving starts, `revoked(partition)` when it stops. */
export interface PartitionOwnershipEvents {
  assigned: [partition: number, epoch: number];
  revoked: [partition: number];
}

/** Thrown by {@link PartitionOwnership.run} when this worker does not serve the partition now. */
export class NotServingError extends Error {
  readonly code = 'NOT_SERVING';
  readonly partition: number;
  constructor(partition: number) {
    super(`partition ${partition} is not served by this worker`);
    this.name = 'NotServingError';
    this.partition = partition;
  }
}

interface Slot {
  /** Epoch the assignment gives this worker; undefined when the partition is someone else's. */
  desired: number | undefined;
  /** `owners/<p>` as created by this worker's current session, with the epoch written in it. */
  held: { epoch: number } | undefined;
  serving: boolean;
  inFlight: number;
  drainWaiters: (() => void)[];
  running: boolean;
  dirty: boolean;
  /** Watch on `owners/<p>` while waiting for the previous owner to let go. */
  waiting: Unwatch | undefined;
}

const noopLogger: OwnershipLogger = { warn: () => undefined };

/**
 * The worker side of partition ownership (DESIGN section 4, "fencing"). It registers `members/<id>`,
 * follows `assignment`, and for each partition given to it claims the ephemeral `owners/<p>` - but only
 * once the previous owner has deleted it (released, or its session expired). It serves a partition only
 * while it holds that node for the partition's current epoch and is connected:
 *
 * - revocation (assignment moves the partition away) stops serving at once; `owners/<p>` is deleted
 *   after in-flight work on it ends, or after `releaseTimeoutMs` (later writes of that work carry the
 *   old epoch and are rejected by fencing);
 * - disconnection stops serving everything at once; the client reports it from a local timer before
 *   the server can expire the session, so the next owner (which waits for expiry) never overlaps;
 * - after a reconnection the node is checked to still belong to this session before serving resumes;
 *   after an expiry every claim is gone and is made again.
 */
export class PartitionOwnership extends EventEmitter<PartitionOwnershipEvents> {
  readonly #options: PartitionOwnershipOptions;
  readonly #client: ZooKeeperClient;
  readonly #timers: Timers;
  readonly #log: OwnershipLogger;
  readonly #registry: EphemeralRegistry;
  readonly #slots = new Map<number, Slot>();
  readonly #members = new Map<string, MemberInfo>();
  readonly #unwatch: Unwatch[] = [];
  #record: AssignmentRecord | undefined;
  #closed = false;

  readonly #onDisconnected = (): void => this.stopServingAll();
  readonly #onExpired = (): void => {
    // The session's ephemerals are gone: every claim must be made again on the new session.
    this.stopServingAll();
    for (const slot of this.#slots.values()) slot.held = undefined;
  };
  readonly #onConnected = (): void => {
    for (const p of this.#slots.keys()) this.#kick(p);
  };

  constructor(options: PartitionOwnershipOptions) {
    super();
    this.#options = { ...options };
    this.#client = options.client;
    this.#timers = options.timers ?? systemTimers;
    this.#log = options.logger ?? noopLogger;
    this.#registry = new EphemeralRegistry(options.client, {
      onError: (error, path) => this.#log.warn({ err: error, path }, 're-registering member failed'),
    });
  }

  /** Registers the member node and starts following the assignment. Rejects if ZooKeeper fails. */
  async start(): Promise<void> {
    const ref = this.#options;
    await this.#appNodes();
    // A notice left by this worker's previous life must not make a later crash look like a clean exit.
    await this.#client.remove(leavingNoticePath(ref, this.#options.workerId)).catch((error: unknown) => {
      if (!isZooKeeperError(error, 'NO_NODE')) throw error;
    });
    this.#client.on('disconnected', this.#onDisconnected);
    this.#client.on('expired', this.#onExpired);
    this.#client.on('connected', this.#onConnected);
    this.#unwatch.push(
      this.#client.watchChildren(membersPath(ref), (names) => void this.#onMembers(names ?? [])),
    );
    this.#unwatch.push(this.#client.watchData(assignmentPath(ref), (node) => this.#onAssignment(node)));
    await this.#registry.register(
      memberPath(ref, this.#options.workerId),
      JSON.stringify({ ...this.#options.member, sessionTimeoutMs: this.#client.sessionTimeoutMs }),
    );
  }

  /**
   * Makes `members/` and `owners/` exist. Under the app's ACLs only the operator may create them (workers
   * may not create children of the app root): a worker that starts before the operator made the tree gets
   * NO_AUTH and waits for it, rather than exiting and being restarted (a restart the kubelet then backs
   * off on and the operator counts towards a crash loop).
   */
  async #appNodes(): Promise<void> {
    const ref = this.#options;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#client.mkdirp(membersPath(ref));
        await this.#client.mkdirp(ownersPath(ref));
        return;
      } catch (error) {
        if (this.#closed || !isZooKeeperError(error, ZooKeeperErrorCode.NO_AUTH)) throw error;
        if (attempt === 1)
          this.#log.warn({ err: error }, "waiting for the operator to create the app's ZooKeeper nodes");
        await new Promise((resolve) =>
          this.#timers.setTimeout(() => resolve(undefined), Math.min(100 * attempt, 1000)),
        );
      }
    }
  }

  /** The epoch under which this worker serves `partition` right now, or undefined. Synchronous, no I/O. */
  isServing(partition: number): { epoch: number } | undefined {
    const slot = this.#slots.get(partition);
    if (!slot?.serving || !slot.held || slot.desired !== slot.held.epoch || !this.#client.connected)
      return undefined;
    return { epoch: slot.held.epoch };
  }

  /** Partitions served now, with their epochs. */
  serving(): Map<number, number> {
    const result = new Map<number, number>();
    for (const p of this.#slots.keys()) {
      const s = this.isServing(p);
      if (s) result.set(p, s.epoch);
    }
    return result;
  }

  /** The assigned owner of `partition` and its member data, or undefined (unassigned or owner not registered). */
  ownerOf(partition: number): PartitionOwnerInfo | undefined {
    const workerId = this.#record?.partitions[partition]?.owner;
    const member = workerId === undefined ? undefined : this.#members.get(workerId);
    return workerId !== undefined && member ? { workerId, address: member.address, member } : undefined;
  }

  /** Number of partitions in the current assignment (0 before the first one is read). */
  get partitionCount(): number {
    return this.#record?.partitions.length ?? 0;
  }

  /** Starts tracked work on `partition` if it is served now; release waits for its `end()`. */
  begin(partition: number): InFlight | undefined {
    const serving = this.isServing(partition);
    const slot = this.#slots.get(partition);
    if (!serving || !slot) return undefined;
    slot.inFlight++;
    let ended = false;
    return {
      epoch: serving.epoch,
      end: () => {
        if (ended) return;
        ended = true;
        slot.inFlight--;
        if (slot.inFlight === 0) for (const wake of slot.drainWaiters.splice(0)) wake();
      },
    };
  }

  /** Runs `work(epoch)` as in-flight work on `partition`; NotServingError when it is not served now. */
  async run<T>(partition: number, work: (epoch: number) => Promise<T>): Promise<T> {
    const flight = this.begin(partition);
    if (!flight) throw new NotServingError(partition);
    try {
      return await work(flight.epoch);
    } finally {
      flight.end();
    }
  }

  /** Stops serving every partition now (claims are kept and re-verified on reconnection). */
  stopServingAll(): void {
    for (const [p, slot] of this.#slots) this.#stopServing(p, slot);
  }

  /**
   * Stops serving, releases every held partition (after in-flight work, bounded) and deregisters.
   * It first leaves a departure notice, so the rebalancer moves this worker's partitions at once
   * instead of waiting out the delay meant for crashes and quick restarts.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#announceLeaving().catch((error: unknown) =>
      this.#log.warn({ err: error }, 'could not leave a departure notice; partitions move after the delay'),
    );
    this.stopServingAll();
    for (const unwatch of this.#unwatch.splice(0)) unwatch();
    this.#client.removeListener('disconnected', this.#onDisconnected);
    this.#client.removeListener('expired', this.#onExpired);
    this.#client.removeListener('connected', this.#onConnected);
    const releases = [...this.#slots].map(([p, slot]) => this.#release(p, slot).catch(() => undefined));
    await Promise.all(releases);
    this.#registry.close();
    await this.#registry.unregister(memberPath(this.#options, this.#options.workerId)).catch(() => undefined);
  }

  async #announceLeaving(): Promise<void> {
    await this.#client.mkdirp(leavingPath(this.#options));
    await this.#client
      .create(leavingNoticePath(this.#options, this.#options.workerId), '', 'persistent')
      .catch((error: unknown) => {
        if (!isZooKeeperError(error, 'NODE_EXISTS')) throw error;
      });
  }

  #onAssignment(node: NodeData | undefined): void {
    if (this.#closed) return;
    try {
      this.#record = node ? decodeAssignment(node.data) : undefined;
    } catch (error) {
      this.#log.warn({ err: error }, 'ignoring an unreadable assignment');
      return;
    }
    const partitions = this.#record?.partitions ?? [];
    const count = Math.max(partitions.length, ...this.#slots.keys(), -1) + 1;
    for (let p = 0; p < count; p++) this.#follow(p, this.#desiredEpoch(partitions[p]));
  }

  #desiredEpoch(entry: { owner: string | undefined; epoch: number } | undefined): number | undefined {
    return entry?.owner === this.#options.workerId ? entry.epoch : undefined;
  }

  #follow(p: number, desired: number | undefined): void {
    const slot = this.#slots.get(p) ?? (desired === undefined ? undefined : this.#newSlot(p));
    if (!slot || slot.desired === desired) return;
    // Revocation takes effect here, synchronously, before any ZooKeeper round trip.
    this.#stopServing(p, slot);
    slot.desired = desired;
    this.#kick(p);
  }

  async #onMembers(names: string[]): Promise<void> {
    const live = new Set(names);
    for (const name of this.#members.keys()) if (!live.has(name)) this.#members.delete(name);
    const fresh = names.filter((name) => !this.#members.has(name));
    await Promise.all(fresh.map((name) => this.#readMember(name)));
  }

  async #readMember(name: string): Promise<void> {
    try {
      const node = await this.#client.get(memberPath(this.#options, name));
      this.#members.set(name, JSON.parse(node.data.toString('utf8')) as MemberInfo);
    } catch (error) {
      if (!isZooKeeperError(error, ZooKeeperErrorCode.NO_NODE)) {
        this.#log.warn({ err: error, member: name }, 'reading member data failed');
      }
    }
  }

  #newSlot(p: number): Slot {
    const slot: Slot = {
      desired: undefined,
      held: undefined,
      serving: false,
      inFlight: 0,
      drainWaiters: [],
      running: false,
      dirty: false,
      waiting: undefined,
    };
    this.#slots.set(p, slot);
    return slot;
  }

  #stopServing(p: number, slot: Slot): void {
    if (!slot.serving) return;
    slot.serving = false;
    this.emit('revoked', p);
  }

  /** Runs the partition's state machine; one run per partition at a time, re-run while marked dirty. */
  #kick(p: number): void {
    const slot = this.#slots.get(p);
    if (!slot || this.#closed) return;
    slot.dirty = true;
    if (slot.running) return;
    slot.running = true;
    void this.#drive(p, slot).finally(() => (slot.running = false));
  }

  async #drive(p: number, slot: Slot): Promise<void> {
    for (let round = 0; round < 20 && slot.dirty && !this.#closed; round++) {
      slot.dirty = false;
      try {
        await this.#step(p, slot);
      } catch (error) {
        this.#log.warn({ err: error, partition: p }, 'partition ownership step failed; retrying');
        this.#retryLater(p);
        return;
      }
    }
    // Still dirty after the last round (claims racing with releases all along): nothing else would kick it.
    if (slot.dirty) this.#retryLater(p);
  }

  #retryLater(p: number): void {
    this.#timers.setTimeout(() => this.#kick(p), this.#options.retryDelayMs ?? 500);
  }

  async #step(p: number, slot: Slot): Promise<void> {
    if (slot.desired === undefined) {
      await this.#release(p, slot);
      return;
    }
    if (!this.#client.connected) return; // the next `connected` kicks every slot
    if (!slot.held) await this.#claim(p, slot, slot.desired);
    if (!slot.held || slot.serving) return;
    if (!(await this.#stillHeld(p, slot))) return;
    const desired = slot.desired as number | undefined;
    if (desired === undefined || !this.#client.connected || slot.serving) return;
    if (slot.held.epoch !== desired) await this.#writeEpoch(p, slot, desired);
    slot.serving = true;
    this.emit('assigned', p, desired);
  }

  /** Creates `owners/<p>`; if another session holds it, watches it and tries again once it is gone. */
  async #claim(p: number, slot: Slot, epoch: number): Promise<void> {
    const path = ownerPath(this.#options, p);
    try {
      await this.#client.create(path, this.#ownerData(epoch), 'ephemeral');
      slot.held = { epoch };
      this.#stopWaiting(slot);
      return;
    } catch (error) {
      if (!isZooKeeperError(error, ZooKeeperErrorCode.NODE_EXISTS)) throw error;
    }
    const node = await this.#client.get(path).catch((error: unknown) => {
      if (isZooKeeperError(error, ZooKeeperErrorCode.NO_NODE)) return undefined;
      throw error;
    });
    if (!node) {
      slot.dirty = true; // released between our create and get: try again
    } else if (node.stat.ephemeralOwner === this.#client.sessionId) {
      slot.held = { epoch: parseEpoch(node.data) };
      this.#stopWaiting(slot);
    } else if (this.#supersedes(node.data)) {
      // An earlier life of this worker in this pod, proven dead: its claim is stale, not a handoff.
      await this.#client.remove(path, node.stat.version).catch((error: unknown) => {
        if (!isZooKeeperError(error, ZooKeeperErrorCode.NO_NODE, ZooKeeperErrorCode.BAD_VERSION)) throw error;
      });
      slot.dirty = true;
    } else {
      // Handoff rule: wait for the previous owner to release, or for its session to expire.
      slot.waiting ??= this.#client.watchData(path, (current) => {
        if (current === undefined) this.#kick(p);
      });
    }
  }

  /** Before serving again after any pause, check that `owners/<p>` still belongs to this session. */
  async #stillHeld(p: number, slot: Slot): Promise<boolean> {
    const stat = await this.#client.exists(ownerPath(this.#options, p));
    if (stat?.ephemeralOwner === this.#client.sessionId) return true;
    slot.held = undefined;
    slot.dirty = true;
    return false;
  }

  async #writeEpoch(p: number, slot: Slot, epoch: number): Promise<void> {
    // The partition moved away and back while this session kept the node, so nobody else served it.
    await this.#client.set(ownerPath(this.#options, p), this.#ownerData(epoch));
    if (slot.held) slot.held.epoch = epoch;
  }

  /** Stops serving, waits (bounded) for in-flight work, then deletes `owners/<p>` if this session holds it. */
  async #release(p: number, slot: Slot): Promise<void> {
    this.#stopServing(p, slot);
    this.#stopWaiting(slot);
    if (!slot.held) return;
    await this.#drain(slot);
    const path = ownerPath(this.#options, p);
    const stat = await this.#client.exists(path);
    if (stat?.ephemeralOwner === this.#client.sessionId) {
      await this.#client.remove(path, stat.version).catch((error: unknown) => {
        if (!isZooKeeperError(error, ZooKeeperErrorCode.NO_NODE)) throw error;
      });
    }
    slot.held = undefined;
  }

  #drain(slot: Slot): Promise<void> {
    if (slot.inFlight === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = this.#timers.setTimeout(resolve, this.#options.releaseTimeoutMs ?? 10_000);
      slot.drainWaiters.push(() => {
        this.#timers.clearTimeout(timer);
        resolve();
      });
    });
  }

  #stopWaiting(slot: Slot): void {
    slot.waiting?.();
    slot.waiting = undefined;
  }

  #ownerData(epoch: number): string {
    const { workerId, incarnation } = this.#options;
    return JSON.stringify({ workerId, epoch, pod: incarnation?.pod, incarnation: incarnation?.count });
  }

  /** True when `owners/<p>` was written by an earlier incarnation of this worker in this same pod. */
  #supersedes(data: Buffer): boolean {
    const mine = this.#options.incarnation;
    const theirs = parseOwner(data);
    return (
      mine !== undefined &&
      theirs.workerId === this.#options.workerId &&
      theirs.pod === mine.pod &&
      typeof theirs.incarnation === 'number' &&
      theirs.incarnation < mine.count
    );
  }
}

function parseOwner(data: Buffer): OwnerRecord {
  try {
    const record = JSON.parse(data.toString('utf8')) as unknown;
    return typeof record === 'object' && record !== null ? record : {};
  } catch {
    return {};
  }
}

function parseEpoch(data: Buffer): number {
  const { epoch } = parseOwner(data);
  return typeof epoch === 'number' ? epoch : -1;
}
