/** The worker that serves a partition and where to reach it. */
export interface PartitionOwnerAddress {
  workerId: string;
  /** Base URL, `http://host:port`. */
  address: string;
}

/** One unit of in-flight work on a partition, at the epoch it was started under. */
export interface InFlightWork {
  epoch: number;
  /** Ends the work; extra calls are ignored. */
  end(): void;
}

/** What the worker reports about its coordination state (readiness and metrics). */
export interface CoordinationStatus {
  /**
   * `connected`, `suspended` (disconnected, within the disconnect grace), `disconnected` (past it),
   * `expired`, `starting` or `closed`.
   */
  state: string;
  /**
   * True while `members/<id>` is registered and the session is connected, or suspended: disconnected for
   * less than the disconnect grace, with the session not known to have expired.
   */
  ready: boolean;
  /**
   * True while suspended: nothing is served here (every partition waits for the reconnection and its
   * re-check), but the worker stays ready, so requests for its partitions wait for it rather than fail.
   */
  suspended: boolean;
  /** While disconnected (suspended or past the grace): how long for, in ms. */
  disconnectedMs?: number;
  /** Partitions served now. */
  owned: number[];
}

/**
 * The worker's view of partition ownership, as the HTTP layer needs it. Implemented over ZooKeeper
 * by {@link ZooKeeperDirectory} (see `zookeeper-directory.ts`) and by a fixed table in tests.
 */
export interface PartitionDirectory {
  /** This worker's id. */
  readonly workerId: string;
  /**
   * Starts in-flight work on `partition` if this worker serves it now (holds `owners/<partition>` for
   * the current epoch and is ready); undefined otherwise. A revoked partition is released only after
   * every started work has called `end()`.
   */
  begin(partition: number): InFlightWork | undefined;
  /** The current holder of `owners/<partition>`, if any (may be this worker). */
  ownerOf(partition: number): PartitionOwnerAddress | undefined;
  status(): CoordinationStatus;
}

/**
 * A fixed ownership table: `owners[p]` is the owner of partition p. For tests and single-process use;
 * in-flight work is not tracked because nothing is ever revoked.
 */
export class StaticDirectory implements PartitionDirectory {
  readonly workerId: string;
  readonly #owners: readonly (PartitionOwnerAddress | undefined)[];

  constructor(workerId: string, owners: readonly (PartitionOwnerAddress | undefined)[]) {
    this.workerId = workerId;
    this.#owners = owners;
  }

  begin(partition: number): InFlightWork | undefined {
    return this.#owners[partition]?.workerId === this.workerId
      ? { epoch: 1, end: () => undefined }
      : undefined;
  }

  ownerOf(partition: number): PartitionOwnerAddress | undefined {
    return this.#owners[partition];
  }

  status(): CoordinationStatus {
    const owned = this.#owners.flatMap((o, p) => (o?.workerId === this.workerId ? [p] : []));
    return { state: 'connected', ready: true, suspended: false, owned };
  }
}
