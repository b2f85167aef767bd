/**
 * A bounded FIFO of the last `capacity` items: pushing onto a full buffer drops the oldest. Memory stays
 * `capacity` slots however long the operator runs (the dashboard's history: 360 samples, one hour at 10 s).
 */
export class RingBuffer<T> {
  readonly capacity: number;
  readonly #items: (T | undefined)[];
  #start = 0;
  #size = 0;

  /** Throws RangeError unless `capacity` is a positive integer. */
  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity ${capacity} is not >= 1`);
    this.capacity = capacity;
    this.#items = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.#size;
  }

  push(item: T): void {
    const end = (this.#start + this.#size) % this.capacity;
    this.#items[end] = item;
    if (this.#size < this.capacity) this.#size++;
    else this.#start = (this.#start + 1) % this.capacity;
  }

  /** The items, oldest first (a copy). */
  toArray(): T[] {
    return Array.from({ length: this.#size }, (_, i) => this.#items[(this.#start + i) % this.capacity] as T);
  }
}
