/**
 * The one boundary between the controller runtime and the code it drives: a reconciler receives a
 * key (never an event), reads the current state itself and says what should happen next.
 */

/** The key of one object: namespace ('' for cluster-scoped objects) and name. */
export interface Request {
  readonly namespace: string;
  readonly name: string;
}

/**
 * What the runtime does after a reconcile:
 * - `done`: forget the key's failure history; nothing is scheduled.
 * - `requeueAfter`: forget failures and reconcile again after `afterMs` (timed work, polling).
 * - `error`: retry with per-key exponential backoff (also what a thrown exception means).
 * - `terminal`: log and count the error but do not retry until the key is added again by an event.
 */
export type Result =
  | { readonly kind: 'done' }
  | { readonly kind: 'requeueAfter'; readonly afterMs: number }
  | { readonly kind: 'error'; readonly error: unknown }
  | { readonly kind: 'terminal'; readonly error: unknown };

/** Context the runtime passes to every reconcile. */
export interface ReconcileContext {
  /** Aborted when the manager shuts down; long reconciles should pass it to their I/O. */
  readonly signal: AbortSignal;
}

/** Reconciles one object towards its desired state. Must be idempotent and safe to call at any time. */
export interface Reconciler {
  reconcile(request: Request, context: ReconcileContext): Promise<Result>;
}

/** Adapts a plain function to the `Reconciler` interface. */
export function reconcilerFunc(
  fn: (request: Request, context: ReconcileContext) => Promise<Result>,
): Reconciler {
  return { reconcile: fn } satisfies Reconciler;
}

/** The reconcile finished; nothing more to do until something changes. */
export function done(): Result {
  return { kind: 'done' };
}

/** Reconcile the same key again after `afterMs` milliseconds (clamped to >= 0). */
export function requeueAfter(afterMs: number): Result {
  return { kind: 'requeueAfter', afterMs: Math.max(0, afterMs) };
}

/** The reconcile failed in a way that may succeed later: retried with exponential backoff. */
export function retry(error: unknown): Result {
  return { kind: 'error', error };
}

/** The reconcile failed in a way retrying cannot fix (invalid input): not retried. */
export function terminal(error: unknown): Result {
  return { kind: 'terminal', error };
}

/** Marks an error as terminal when thrown from a reconcile: the runtime will not retry it. */
export class TerminalError extends Error {
  readonly code = 'ERR_RECONCILE_TERMINAL';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TerminalError';
  }
}

/** The queue key of a request: `namespace/name`, or `name` for cluster-scoped objects. */
export function requestKey(request: Request): string {
  return request.namespace === '' ? request.name : `${request.namespace}/${request.name}`;
}

/** Parses a key made by `requestKey` back into a request. */
export function parseRequestKey(key: string): Request {
  const slash = key.indexOf('/');
  return slash < 0
    ? { namespace: '', name: key }
    : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}
