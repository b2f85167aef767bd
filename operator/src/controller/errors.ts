/** A failure of the DistributedApp controller, with a stable `code` and the HTTP status when there was one. */
export class ControllerError extends Error {
  readonly code: string;
  readonly statusCode: number | undefined;
  constructor(code: string, message: string, options?: { cause?: unknown; statusCode?: number }) {
    super(message, options);
    this.name = 'ControllerError';
    this.code = code;
    this.statusCode = options?.statusCode;
  }
}
