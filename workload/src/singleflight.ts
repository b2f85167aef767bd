/**
 * Coalesces concurrent calls for one key: while a call for `key` is running, further calls for the
 * same key wait for its result instead of starting their own (groupcache's singleflight). Once it
 * settles the key is free again, so a later call runs afresh. A failure is shared by every waiter.
 */
export class SingleFlight<T> {
  readonly #flights = new Map<string, Promise<T>>();

  /** Runs `work` unless a call for `key` is in flight; `shared` is true for callers that joined one. */
  async do(key: string, work: () => Promise<T>): Promise<{ value: T; shared: boolean }> {
    const running = this.#flights.get(key);
    if (running) return { value: await running, shared: true };
    const flight = (async () => work())().finally(() => this.#flights.delete(key));
    this.#flights.set(key, flight);
    return { value: await flight, shared: false };
  }

  /** Number of keys with a call in flight. */
  get size(): number {
    return this.#flights.size;
  }
}
