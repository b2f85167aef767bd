/** Clock and one-shot timers, injected wherever behaviour depends on time (tests pass a fake). */
export interface Timers {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Schedules `fn` once after `ms`; the timer must not keep the process alive. */
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The real clock; every timer is unref()'d. */
export const systemTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
