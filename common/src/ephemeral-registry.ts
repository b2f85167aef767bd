import type { ZooKeeperClient } from './zookeeper-client.ts';
import { ZooKeeperErrorCode, isZooKeeperError } from './zookeeper-error.ts';

/**
 * Keeps a set of ephemeral nodes alive across sessions: registers them now and re-creates them with
 * their latest data whenever the client opens a fresh session after an expiry.
 *
 * The path identifies the registrant, so a node at that path left by an earlier session (a restarted
 * process whose old session has not expired yet) is replaced at once, atomically, not waited for.
 * Parents must exist.
 * Failures of a re-creation are reported through `onError` (default: ignored until the next session).
 */
export class EphemeralRegistry {
  readonly #client: ZooKeeperClient;
  readonly #nodes = new Map<string, Buffer>();
  readonly #onError: (error: unknown, path: string) => void;
  readonly #onConnected = (event: { newSession: boolean }): void => {
    if (!event.newSession) return;
    for (const path of this.#nodes.keys())
      void this.#ensure(path).catch((error) => this.#onError(error, path));
  };

  constructor(client: ZooKeeperClient, options: { onError?: (error: unknown, path: string) => void } = {}) {
    this.#client = client;
    this.#onError = options.onError ?? (() => undefined);
    client.on('connected', this.#onConnected);
  }

  /** Creates (or takes over) the ephemeral `path` with `data` and keeps it registered. */
  async register(path: string, data: Buffer | string): Promise<void> {
    this.#nodes.set(path, Buffer.from(data));
    await this.#ensure(path);
  }

  /** Replaces the data of a registered node. */
  async update(path: string, data: Buffer | string): Promise<void> {
    this.#nodes.set(path, Buffer.from(data));
    await this.#client.set(path, Buffer.from(data));
  }

  /** Forgets `path` and deletes the node (absent is fine). */
  async unregister(path: string): Promise<void> {
    this.#nodes.delete(path);
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
    this.#client.removeListener('connected', this.#onConnected);
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
