/** Stable codes of {@link HarnessError}. */
export type HarnessErrorCode =
  | 'HARNESS_EXITED_BEFORE_READY'
  | 'HARNESS_START_TIMEOUT'
  | 'HARNESS_STOP_TIMEOUT'
  | 'HARNESS_MISSING_BINARY'
  | 'HARNESS_BAD_CONFIG';

/**
 * A service of the test harness failed to start, stop or be found. `message` carries what a person needs
 * to fix it, including the tail of the process's log when there is one.
 */
export class HarnessError extends Error {
  readonly code: HarnessErrorCode;

  constructor(code: HarnessErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HarnessError';
    this.code = code;
  }
}
