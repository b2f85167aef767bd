import { setTimeout as sleep } from 'node:timers/promises';
import type { PartitionOwnership } from '../../common/src/partition-ownership.ts';
import type { ZooKeeperClient } from '../../common/src/zookeeper-client.ts';
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

/** Options of {@link ZooKeeperDirectory}. */
export interface ZooKeeperDirectoryOptions {
  client: ZooKeeperClient;
  ownership: PartitionOwnership;
  workerId: string;
  hooks?: PartitionHooks;
  /** Delay between attempts of a failing `assigned` hook; default 250 ms. */
  hookRetryMs?: number;
  log: { warn(fields: Record<string, unknown>, message: string): void };
}

/**
 * Adapts common/'s {@link PartitionOwnership} to the HTTP layer's {@link PartitionDirectory}. It adds
 * what the runtime needs on top: a partition is served only after the app's `assigned` hook succeeded
 * for its epoch (the counters app fences the epoch in Redis there), owner addresses become base URLs,
 * and the session state is tracked for readiness and metrics.
 */
export class ZooKeeperDirectory implements PartitionDirectory {
  readonly workerId: string;
  readonly #client: ZooKeeperClient;
  readonly #ownership: PartitionOwnership;
  readonly #hooks: PartitionHooks;
  readonly #options: ZooKeeperDirectoryOptions;
  /** Partitions whose `assigned` hook succeeded, with the epoch it ran for. */
  readonly #prepared = new Map<number, number>();
  #state = 'starting';
  #registered = false;

  constructor(options: ZooKeeperDirectoryOptions) {
    this.workerId = options.workerId;
    this.#client = options.client;
    this.#ownership = options.ownership;
    this.#hooks = options.hooks ?? {};
    this.#options = options;
    if (options.client.connected) this.#state = 'connected';
    options.client.on('connected', () => (this.#state = 'connected'));
    options.client.on(
      'disconnected',
      (reason) => (this.#state = reason === 'expired' ? 'expired' : 'disconnected'),
    );
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
    const ready = this.#registered && this.#client.connected;
    return { state: this.#state, ready, owned };
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
