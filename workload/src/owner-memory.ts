/**
 * The owner-local memory tier: values a worker keeps in its own memory for the partitions it serves.
 * Exactly one worker serves a partition at a time, so there is nothing to keep coherent: an entry is
 * read only by the one owner, and is dropped when its partition is revoked (the next owner starts from
 * the shared tier, Redis, warm). Bounded by entries and by bytes, least recently used first out, and
 * each entry expires when its copy in Redis does.
 */

/** Options of {@link OwnerMemory}; 0 for either bound disables the tier. */
export interface OwnerMemoryOptions {
  maxEntries: number;
  maxBytes: number;
  /** Clock in ms; default `Date.now`. */
  now?: () => number;
}

interface Slot<V> {
  value: V;
  partition: number;
  bytes: number;
  expiresAt: number;
}

/** See the module comment. */
export class OwnerMemory<V> {
  /** Insertion order is recency order: a read moves the entry to the end. */
  readonly #entries = new Map<string, Slot<V>>();
  readonly #byPartition = new Map<number, Set<string>>();
  readonly #options: OwnerMemoryOptions;
  readonly #now: () => number;
  #bytes = 0;

  constructor(options: OwnerMemoryOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.#options.maxEntries > 0 && this.#options.maxBytes > 0;
  }

  /** Entries and bytes held now. */
  get size(): { entries: number; bytes: number } {
    return { entries: this.#entries.size, bytes: this.#bytes };
  }

  /** The value of `key` if held and not expired. */
  get(key: string): V | undefined {
    const slot = this.#entries.get(key);
    if (slot === undefined) return undefined;
    if (slot.expiresAt <= this.#now()) {
      this.#remove(key, slot);
      return undefined;
    }
    this.#entries.delete(key);
    this.#entries.set(key, slot);
    return slot.value;
  }

  /**
   * Holds `value` (weighing `bytes`) for `key` of `partition` until `expiresAt` (ms), evicting the least
   * recently used entries to stay within the bounds. A value larger than the byte bound is not held.
   */
  set(key: string, partition: number, value: V, options: { bytes: number; expiresAt: number }): void {
    const existing = this.#entries.get(key);
    if (existing !== undefined) this.#remove(key, existing);
    if (!this.enabled || options.bytes > this.#options.maxBytes || options.expiresAt <= this.#now()) return;
    const slot: Slot<V> = { value, partition, bytes: options.bytes, expiresAt: options.expiresAt };
    this.#entries.set(key, slot);
    this.#bytes += slot.bytes;
    let keys = this.#byPartition.get(partition);
    if (keys === undefined) this.#byPartition.set(partition, (keys = new Set()));
    keys.add(key);
    this.#evict();
  }

  /** Drops every entry of `partition` (it was revoked: another worker serves it now). */
  dropPartition(partition: number): number {
    const keys = [...(this.#byPartition.get(partition) ?? [])];
    for (const key of keys) {
      const slot = this.#entries.get(key);
      if (slot !== undefined) this.#remove(key, slot);
    }
    return keys.length;
  }

  #evict(): void {
    for (const [key, slot] of this.#entries) {
      if (this.#entries.size <= this.#options.maxEntries && this.#bytes <= this.#options.maxBytes) return;
      this.#remove(key, slot);
    }
  }

  #remove(key: string, slot: Slot<V>): void {
    this.#entries.delete(key);
    this.#bytes -= slot.bytes;
    const keys = this.#byPartition.get(slot.partition);
    keys?.delete(key);
    if (keys?.size === 0) this.#byPartition.delete(slot.partition);
  }
}
