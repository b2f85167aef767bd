import type { ZooKeeperClient } from './zookeeper-client.ts';
import { ZooKeeperErrorCode, isZooKeeperError } from './zookeeper-error.ts';

/** Options of {@link EphemeralRegistry}. */
export interface EphemeralRegistryOptions {
  /** Failures of a re-creation (each is retried); default: ignored. */
  onError?: (error: unknown, path: string) => void;
  /** Delay before retrying a re-creation that failed while still connected; default 1 000 ms. */
  retryDelayMs?: number;
}

/**
 * Keeps a set of ephemeral nodes alive across sessions: registers them now and re-creates them with
 * their latest data whenever the client opens a fresh session after an expiry.
 *
 * A node stays pending until it is confirmed on the current session: a re-creation that fails (the
 * connection dropped right after the new session was opened, or the server timed out) is tried again on
 * the next `connected` - which resumes the same session and so does not count as fresh - or after
 * `retryDelayMs` while connected. Otherwise one failure would leave the registrant missing for the
 * whole life of the session, and to the rebalancer a worker missing from `members/` owns nothing.
 *
 * The path identifies the registrant, so a node at that path left by an earlier session (a restarted
 * process whose old session has not expired yet) is replaced at once, atomically, not waited for.
 * Parents must exist.
 */
export class EphemeralRegistry {
  readonly #client: ZooKeeperClient;
  readonly #nodes = new Map<string, Buffer>();
  /** Registered paths not yet confirmed on the current session. */
  readonly #pending = new Set<string>();
  /** Paths being created now (one attempt per path at a time), with the attempt. */
  readonly #inFlight = new Map<string, Promise<void>>();
  readonly #onError: (error: unknown, path: string) => void;
  readonly #retryDelayMs: number;
  #retryTimer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #onConnected = (event: { newSession: boolean }): void => {
    if (event.newSession) for (const path of this.#nodes.keys()) this.#pending.add(path);
    this.#ensurePending();
  };

  constructor(client: ZooKeeperClient, options: EphemeralRegistryOptions = {}) {
    this.#client = client;
    this.#onError = options.onError ?? (() => undefined);
    this.#retryDelayMs = options.retryDelayMs ?? 1_000;
    client.on('connected', this.#onConnected);
  }

  /** Creates (or takes over) the ephemeral `path` with `data` and keeps it registered. */
  async register(path: string, data: Buffer | string): Promise<void> {
    this.#nodes.set(path, Buffer.from(data));
    this.#pending.add(path);
    await this.#attempt(path);
  }

  /** Replaces the data of a registered node. */
  async update(path: string, data: Buffer | string): Promise<void> {
    this.#nodes.set(path, Buffer.from(data));
    await this.#client.set(path, Buffer.from(data));
  }

  /** Forgets `path` and deletes the node (absent is fine). */
  async unregister(path: string): Promise<void> {
    this.#nodes.delete(path);
    this.#pending.delete(path);
    await this.#client.remove(path).catch((error: unknown) => {
      if (!isZooKeeperError(error, ZooKeeperErrorCode.NO_NODE)) throw error;
    });
  }

  /** Paths currently registered. */
  paths(): string[] {
    return [...this.#nodes.keys()];
  }

  /** Stops following the client's sessions; leaves the nodes to the session (close the client to delete them). */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    this.#client.removeListener('connected', this.#onConnected);
  }

  #ensurePending(): void {
    for (const path of this.#pending) {
      if (this.#inFlight.has(path)) continue;
      this.#attempt(path).catch((error: unknown) => {
        this.#onError(error, path);
        this.#retryLater();
      });
    }
  }

  /** One creation of `path` at a time: a caller that comes while one runs shares it. */
  #attempt(path: string): Promise<void> {
    let attempt = this.#inFlight.get(path);
    if (attempt === undefined) {
      attempt = this.#confirm(path);
      this.#inFlight.set(path, attempt);
    }
    return attempt;
  }

  /**
   * Creates `path` and confirms it for the session it ran on: if a fresh session began meanwhile, the node
   * may have gone with the old one and is made again.
   */
  async #confirm(path: string): Promise<void> {
    const session = this.#client.sessionId;
    try {
      await this.#ensure(path);
    } finally {
      this.#inFlight.delete(path);
    }
    if (this.#client.sessionId === session) this.#pending.delete(path);
    else this.#ensurePending();
  }

  /** While connected, tries the pending nodes again after the delay; otherwise the next `connected` does. */
  #retryLater(): void {
    if (this.#closed || this.#retryTimer !== undefined || !this.#client.connected) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (!this.#closed && this.#client.connected) this.#ensurePending();
    }, this.#retryDelayMs);
    this.#retryTimer.unref();
  }

  async #ensure(path: string): Promise<void> {
    // Bounded: each round creates the node, adopts it or takes over a stale one another session left.
    for (let attempt = 0; attempt < 5; attempt++) {
      const data = this.#nodes.get(path);
      if (data === undefined) return;
      try {
        await this.#client.create(path, data, 'ephemeral');
        return;
      } catch (error) {
        if (!isZooKeeperError(error, ZooKeeperErrorCode.NODE_EXISTS)) throw error;
      }
      if (await this.#adoptOrTakeOver(path, data)) return;
    }
    throw new Error(`ephemeral ${path}: could not register after 5 attempts`);
  }

  /**
   * True when the existing node is ours now: already (its data refreshed), or taken over from the
   * session that left it. The takeover removes and re-creates the node in one transaction, so a watcher
   * of the parent never sees the registrant missing: to the rebalancer, a gap would look like a
   * departure, and a restarted worker's partitions would start to move.
   */
  async #adoptOrTakeOver(path: string, data: Buffer): Promise<boolean> {
    try {
      const node = await this.#client.get(path);
      if (node.stat.ephemeralOwner === this.#client.sessionId) {
        await this.#client.set(path, data, node.stat.version);
        return true;
      }
      await this.#client
        .transaction()
        .remove(path, node.stat.version)
        .create(path, data, 'ephemeral')
        .commit();
      return true;
    } catch (error) {
      // Raced with its deletion, another update or another takeover: the next round sorts it out.
      const raced = [
        ZooKeeperErrorCode.NO_NODE,
        ZooKeeperErrorCode.BAD_VERSION,
        ZooKeeperErrorCode.NODE_EXISTS,
      ];
      if (!isZooKeeperError(error, ...raced)) throw error;
    }
    return false;
  }
}
