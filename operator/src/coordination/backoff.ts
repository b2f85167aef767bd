/**
 * The retry schedule of a coordinator whose ZooKeeper is unreachable or whose session was lost:
 * exponential, capped, with jitter from an injected random source, so many apps that lost one ensemble
 * at once do not retry in lockstep. Pure: the caller counts failures and owns the timers.
 */

/** How the delay grows. Defaults in {@link DEFAULT_BACKOFF}. */
export interface BackoffPolicy {
  /** Delay after the first failure (before jitter); default 1 000 ms. */
  readonly initialMs: number;
  /** Upper bound of every delay; default 60 000 ms. */
  readonly maxMs: number;
  /** Growth per further failure; default 2. */
  readonly factor: number;
  /** Share of the delay taken off at random, 0..1; default 0.2 (a delay lies in [0.8 d, d]). */
  readonly jitter: number;
}

/** 1 s doubling to 60 s, up to 20 % earlier at random. */
export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1_000, maxMs: 60_000, factor: 2, jitter: 0.2 };

/**
 * For in-cluster ensembles, whose coordinator also tries again at once when a member's readiness changes:
 * the same start, doubling on to 5 minutes while nothing changes (an ensemble Ready but not answering,
 * such as simulated pods, then costs about one attempt in 5 minutes instead of one a minute).
 */
export const IN_CLUSTER_BACKOFF: BackoffPolicy = { ...DEFAULT_BACKOFF, maxMs: 300_000 };

/**
 * The delay before the next attempt after `failures` consecutive failures (1 for the first):
 * `min(maxMs, initialMs * factor^(failures-1))`, reduced by up to `jitter` of itself as `random()`
 * (a number in [0, 1)) says. Never above `maxMs`, never below `(1 - jitter) * initialMs`.
 */
export function backoffDelay(failures: number, policy: BackoffPolicy, random: () => number): number {
  const exponent = Math.max(0, Math.floor(failures) - 1);
  const base = Math.min(policy.maxMs, policy.initialMs * policy.factor ** exponent);
  const jitter = Math.min(1, Math.max(0, policy.jitter));
  const r = Math.min(1, Math.max(0, random()));
  return Math.round(base * (1 - jitter * r));
}
