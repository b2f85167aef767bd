/**
 * Keeps one session open (here: a ZooKeeper session with a rebalancer on it) and knows nothing of what
 * the session is. `start()` opens it; when opening fails or an open session ends, everything of it is
 * closed and the next attempt waits {@link backoffDelay} after the consecutive failures so far, so a dead
 * endpoint costs one attempt per delay (at most one pending timer per supervisor, no thread, no tight
 * loop). The failure count starts again once a session stayed open for `resetAfterMs`.
 *
 * Before each attempt it asks `holdWhile` (when given) whether there is a reason not to try yet, such as
 * an ensemble without a ready quorum: then it makes no attempt and asks again after the backoff's `maxMs`
 * or when `wake()` is called, which also cuts a pending retry short (the caller saw something change).
 *
 * `close()` stops for good: it cancels the pending retry, aborts an attempt in flight (the opener must
 * reject soon after its signal aborts, having released what it acquired), closes the open session and
 * resolves only when all of that is done. Every state change is reported to `onState`; nothing is thrown.
 */
import { systemTimers, type Timers } from '../../../common/src/timers.ts';
import { DEFAULT_BACKOFF, backoffDelay, type BackoffPolicy } from './backoff.ts';

/** An open session. */
export interface Session {
  /** Resolves with why the session ended (expiry, connection lost for good, `close()`). Never rejects. */
  readonly ended: Promise<string>;
  /** Releases everything of the session; idempotent; resolves `ended` if it had not. */
  close(): Promise<void>;
}

/** Opens a session; rejects when it cannot, and soon after `signal` aborts. */
export type OpenSession = (signal: AbortSignal) => Promise<Session>;

/** What the supervisor is doing, as reported to `onState`. */
export type SupervisorState =
  | { readonly state: 'opening'; readonly attempt: number }
  | { readonly state: 'open' }
  | {
      readonly state: 'waiting';
      /** Consecutive failures, this one included. */
      readonly failures: number;
      readonly delayMs: number;
      readonly reason: string;
      /** The opener's error when opening failed; undefined when an open session ended. */
      readonly error?: unknown;
    }
  /** No attempt now: `holdWhile` gave this reason. */
  | { readonly state: 'held'; readonly reason: string }
  | { readonly state: 'closed' };

/** Options of {@link Supervisor}. */
export interface SupervisorOptions {
  readonly open: OpenSession;
  /** A reason not to attempt now, or undefined; asked before every attempt. Default: never hold. */
  readonly holdWhile?: () => string | undefined;
  /** Called on every state change; must not throw. */
  readonly onState?: (state: SupervisorState) => void;
  /** Default {@link DEFAULT_BACKOFF}. */
  readonly backoff?: BackoffPolicy;
  /** A session open at least this long resets the failure count; default the backoff's `maxMs`. */
  readonly resetAfterMs?: number;
  /** Default the system timers (unref'd). */
  readonly timers?: Timers;
  /** Numbers in [0, 1) for the jitter; default Math.random. */
  readonly random?: () => number;
}

/** See the module comment. */
export class Supervisor {
  readonly #o: SupervisorOptions;
  readonly #timers: Timers;
  readonly #backoff: BackoffPolicy;
  readonly #abort = new AbortController();
  #failures = 0;
  #attempts = 0;
  #timer: unknown;
  #session: Session | undefined;
  /** The attempt running now (opening, or waiting for its session to end). */
  #current: Promise<void> = Promise.resolve();
  #started = false;
  #closing: Promise<void> | undefined;

  constructor(options: SupervisorOptions) {
    this.#o = options;
    this.#timers = options.timers ?? systemTimers;
    this.#backoff = options.backoff ?? DEFAULT_BACKOFF;
  }

  /** Consecutive failures since the last session that lasted (0 while healthy). */
  get failures(): number {
    return this.#failures;
  }

  /** Starts the first attempt once `after` settles (e.g. the previous supervisor of the same app closed). */
  start(after: Promise<unknown> = Promise.resolve()): void {
    if (this.#started) return;
    this.#started = true;
    const run = (): void => this.#run();
    void after.then(run, run);
  }

  /** See the module comment. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  get #closed(): boolean {
    return this.#abort.signal.aborted;
  }

  /**
   * Attempts now if the supervisor is held or waiting for a retry (after asking `holdWhile` again);
   * nothing while it opens, is open, has not started or is closed.
   */
  wake(): void {
    if (this.#closed || this.#timer === undefined) return;
    this.#timers.clearTimeout(this.#timer);
    this.#run();
  }

  #run(): void {
    this.#timer = undefined;
    if (this.#closed) return;
    const reason = this.#o.holdWhile?.();
    if (reason !== undefined) {
      this.#report({ state: 'held', reason });
      this.#timer = this.#timers.setTimeout(() => this.#run(), this.#backoff.maxMs);
      return;
    }
    this.#current = this.#attempt();
  }

  async #attempt(): Promise<void> {
    this.#attempts++;
    this.#report({ state: 'opening', attempt: this.#attempts });
    let session: Session;
    try {
      session = await this.#o.open(this.#abort.signal);
    } catch (error: unknown) {
      if (!this.#closed) this.#retry('open failed', error);
      return;
    }
    if (this.#closed) {
      await session.close();
      return;
    }
    this.#session = session;
    const openedAt = this.#timers.now();
    this.#report({ state: 'open' });
    const reason = await session.ended;
    await session.close();
    this.#session = undefined;
    if (this.#closed) return;
    if (this.#timers.now() - openedAt >= (this.#o.resetAfterMs ?? this.#backoff.maxMs)) this.#failures = 0;
    this.#retry(reason);
  }

  #retry(reason: string, error?: unknown): void {
    this.#failures++;
    const delayMs = backoffDelay(this.#failures, this.#backoff, this.#o.random ?? Math.random);
    this.#report({
      state: 'waiting',
      failures: this.#failures,
      delayMs,
      reason,
      ...(error === undefined ? {} : { error }),
    });
    this.#timer = this.#timers.setTimeout(() => this.#run(), delayMs);
  }

  async #close(): Promise<void> {
    this.#abort.abort();
    this.#timers.clearTimeout(this.#timer);
    await this.#session?.close();
    await this.#current;
    this.#report({ state: 'closed' });
  }

  #report(state: SupervisorState): void {
    this.#o.onState?.(state);
  }
}
