import { setTimeout as sleep } from 'node:timers/promises';
import type { PartitionOwnership } from '../../common/src/partition-ownership.ts';
import type { DisconnectReason, ZooKeeperClient } from '../../common/src/zookeeper-client.ts';
import type {
  CoordinationStatus,
  InFlightWork,
  PartitionDirectory,
  PartitionOwnerAddress,
} from './partition-directory.ts';

/** Runs when a partition starts or stops being served here (the app's hooks). */
export interface PartitionHooks {
  assigned?: (partition: number, epoch: number) => Promise<void>;
  revoked?: (partition: number, epoch: number) => Promise<void>;
}

/** The longest default disconnect grace, whatever the session timeout. */
export const MAX_DEFAULT_DISCONNECT_GRACE_MS = 5000;

/**
 * The disconnect grace for a session timeout of `sessionTimeoutMs` (see {@link ZooKeeperDirectory}):
 * `configured` when given, else a third of the session timeout and at most
 * {@link MAX_DEFAULT_DISCONNECT_GRACE_MS}; never more than half the session timeout.
 */
export function disconnectGraceMs(sessionTimeoutMs: number, configured?: number): number {
  const defaultGrace = Math.min(Math.floor(sessionTimeoutMs / 3), MAX_DEFAULT_DISCONNECT_GRACE_MS);
  return Math.max(0, Math.min(configured ?? defaultGrace, Math.floor(sessionTimeoutMs / 2)));
}

/** Options of {@link ZooKeeperDirectory}. */
export interface ZooKeeperDirectoryOptions {
  client: ZooKeeperClient;
  ownership: PartitionOwnership;
  workerId: string;
  hooks?: PartitionHooks;
  /** Delay between attempts of a failing `assigned` hook; default 250 ms. */
  hookRetryMs?: number;
  /**
   * How long a disconnected worker whose session may still be alive stays ready (suspended); 0: not
   * ready at once. Default and upper bound: see {@link disconnectGraceMs} (of the granted session timeout).
   */
  disconnectGraceMs?: number;
  /** Clock in ms, the client's (default Date.now). */
  now?: () => number;
  log: {
    warn(fields: Record<string, unknown>, message: string): void;
    info?(fields: Record<string, unknown>, message: string): void;
  };
}

type SessionState = 'starting' | 'connected' | 'disconnected' | 'expired' | 'closed';

/**
 * Adapts common/'s {@link PartitionOwnership} to the HTTP layer's {@link PartitionDirectory}. It adds
 * what the runtime needs on top: a partition is served only after the app's `assigned` hook succeeded
 * for its epoch (the counters app fences the epoch in Redis there), owner addresses become base URLs,
 * and the session state is tracked for readiness and metrics.
 *
 * A disconnection stops serving at once (PartitionOwnership does), but it is not an expiry: during a
 * ZooKeeper leader election every client is disconnected for a moment and its session and ephemeral
 * nodes survive. So for a disconnection shorter than the grace the worker is `suspended`: it serves
 * nothing, yet stays ready, so the load balancer keeps it and requests wait for its partitions to be
 * re-checked after the reconnection instead of failing. The grace counts from the disconnection, or for
 * a silent server (`no-response`) from the last time the server answered. Past the grace, or on an
 * expiry, the worker is not ready; it is ready again as soon as the session is reconnected.
 */
export class ZooKeeperDirectory implements PartitionDirectory {
  readonly workerId: string;
  readonly #client: ZooKeeperClient;
  readonly #ownership: PartitionOwnership;
  readonly #hooks: PartitionHooks;
  readonly #options: ZooKeeperDirectoryOptions;
  /** Partitions whose `assigned` hook succeeded, with the epoch it ran for. */
  readonly #prepared = new Map<number, number>();
  readonly #now: () => number;
  #state: SessionState = 'starting';
  /** When the current disconnection began (see the class comment); undefined while connected. */
  #disconnectedSince: number | undefined;
  #registered = false;

  constructor(options: ZooKeeperDirectoryOptions) {
    this.workerId = options.workerId;
    this.#client = options.client;
    this.#ownership = options.ownership;
    this.#hooks = options.hooks ?? {};
    this.#options = options;
    this.#now = options.now ?? Date.now;
    if (options.client.connected) this.#state = 'connected';
    options.client.on('connected', () => this.#onConnected());
    options.client.on('disconnected', (reason) => this.#onDisconnected(reason));
    // An expiry learnt on reconnecting comes after the disconnection: it ends the suspension.
    options.client.on('expired', () => this.#onDisconnected('expired'));
    options.ownership.on('assigned', (partition, epoch) => void this.#prepare(partition, epoch));
    options.ownership.on('revoked', (partition) => this.#revoked(partition));
  }

  /** Registers the member and starts following the assignment. */
  async start(): Promise<void> {
    await this.#ownership.start();
    this.#registered = true;
  }

  /** Stops serving, releases every partition after its in-flight work and deregisters. */
  async close(): Promise<void> {
    this.#registered = false;
    await this.#ownership.close();
    this.#state = 'closed';
  }

  begin(partition: number): InFlightWork | undefined {
    const prepared = this.#prepared.get(partition);
    if (prepared === undefined) return undefined;
    const work = this.#ownership.begin(partition);
    if (work && work.epoch === prepared) return work;
    work?.end();
    return undefined;
  }

  ownerOf(partition: number): PartitionOwnerAddress | undefined {
    const owner = this.#ownership.ownerOf(partition);
    return owner ? { workerId: owner.workerId, address: `http://${owner.address}` } : undefined;
  }

  status(): CoordinationStatus {
    const owned = [...this.#ownership.serving()]
      .filter(([p, epoch]) => this.#prepared.get(p) === epoch)
      .map(([p]) => p);
    const suspended = this.#suspended();
    const ready = this.#registered && (this.#client.connected || suspended);
    const state = suspended ? 'suspended' : this.#state;
    const since = this.#state === 'disconnected' ? this.#disconnectedSince : undefined;
    if (since === undefined) return { state, ready, suspended, owned };
    return { state, ready, suspended, owned, disconnectedMs: this.#now() - since };
  }

  /** The grace in effect now (it depends on the session timeout the server granted). */
  get disconnectGraceMs(): number {
    return disconnectGraceMs(this.#client.sessionTimeoutMs, this.#options.disconnectGraceMs);
  }

  /** Disconnected with a session that may be alive, for less than the grace. */
  #suspended(): boolean {
    if (this.#state !== 'disconnected' || this.#client.connected || this.#disconnectedSince === undefined)
      return false;
    return this.#now() - this.#disconnectedSince < this.disconnectGraceMs;
  }

  #onConnected(): void {
    const since = this.#disconnectedSince;
    this.#disconnectedSince = undefined;
    if (this.#state === 'closed') return;
    const was = this.#state;
    this.#state = 'connected';
    if (since !== undefined)
      this.#options.log.info?.(
        { after: was, disconnectedMs: this.#now() - since },
        'zookeeper session reconnected; re-checking partitions before serving',
      );
  }

  #onDisconnected(reason: DisconnectReason): void {
    if (this.#state === 'closed') return;
    if (reason === 'expired' || reason === 'closed') {
      this.#state = reason;
      this.#disconnectedSince = undefined;
      return;
    }
    if (this.#state === 'disconnected') return;
    this.#state = 'disconnected';
    // A silent server was noticed only after the client's probe timed out: it was cut off since its last answer.
    this.#disconnectedSince = reason === 'no-response' ? this.#client.lastConfirmedAt : this.#now();
    this.#options.log.warn(
      { reason, graceMs: this.disconnectGraceMs },
      'zookeeper disconnected; serving nothing until the session is back, ready for graceMs',
    );
  }

  async #prepare(partition: number, epoch: number): Promise<void> {
    const hook = this.#hooks.assigned;
    for (let attempt = 1; this.#ownership.isServing(partition)?.epoch === epoch; attempt++) {
      try {
        await hook?.(partition, epoch);
        if (this.#ownership.isServing(partition)?.epoch === epoch) this.#prepared.set(partition, epoch);
        return;
      } catch (error) {
        this.#options.log.warn({ err: error, partition, epoch, attempt }, 'partition assigned hook failed');
        await sleep(this.#options.hookRetryMs ?? 250, undefined, { ref: false });
      }
    }
  }

  #revoked(partition: number): void {
    const epoch = this.#prepared.get(partition);
    this.#prepared.delete(partition);
    const hook = this.#hooks.revoked;
    if (epoch === undefined || !hook) return;
    hook(partition, epoch).catch((error: unknown) =>
      this.#options.log.warn({ err: error, partition }, 'partition revoked hook failed'),
    );
  }
}
