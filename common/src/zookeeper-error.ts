/**
 * Stable error codes of the ZooKeeper wrapper. Server-side failures keep ZooKeeper's own names
 * (NO_NODE, NODE_EXISTS, BAD_VERSION, ...); TIMEOUT and CLOSED are the wrapper's own.
 */
export const ZooKeeperErrorCode = {
  NO_NODE: 'NO_NODE',
  NODE_EXISTS: 'NODE_EXISTS',
  BAD_VERSION: 'BAD_VERSION',
  NOT_EMPTY: 'NOT_EMPTY',
  NO_AUTH: 'NO_AUTH',
  AUTH_FAILED: 'AUTH_FAILED',
  INVALID_ACL: 'INVALID_ACL',
  NO_CHILDREN_FOR_EPHEMERALS: 'NO_CHILDREN_FOR_EPHEMERALS',
  CONNECTION_LOSS: 'CONNECTION_LOSS',
  SESSION_EXPIRED: 'SESSION_EXPIRED',
  /** The operation (or connect) did not complete within its deadline. */
  TIMEOUT: 'TIMEOUT',
  /** The client was closed by its owner. */
  CLOSED: 'CLOSED',
  /** Any other server or client failure; `cause` holds the original. */
  UNKNOWN: 'UNKNOWN',
} as const;

export type ZooKeeperErrorCode = (typeof ZooKeeperErrorCode)[keyof typeof ZooKeeperErrorCode];

/** Numeric codes of the ZooKeeper protocol (as node-zookeeper-client reports them). */
const BY_NUMBER: ReadonlyMap<number, ZooKeeperErrorCode> = new Map([
  [-101, ZooKeeperErrorCode.NO_NODE],
  [-110, ZooKeeperErrorCode.NODE_EXISTS],
  [-103, ZooKeeperErrorCode.BAD_VERSION],
  [-111, ZooKeeperErrorCode.NOT_EMPTY],
  [-102, ZooKeeperErrorCode.NO_AUTH],
  [-115, ZooKeeperErrorCode.AUTH_FAILED],
  [-114, ZooKeeperErrorCode.INVALID_ACL],
  [-108, ZooKeeperErrorCode.NO_CHILDREN_FOR_EPHEMERALS],
  [-4, ZooKeeperErrorCode.CONNECTION_LOSS],
  [-112, ZooKeeperErrorCode.SESSION_EXPIRED],
  [-7, ZooKeeperErrorCode.TIMEOUT],
]);

/** A failed ZooKeeper operation: `code` is stable, `path` names the node when known. */
export class ZooKeeperError extends Error {
  readonly code: ZooKeeperErrorCode;
  readonly path: string | undefined;

  constructor(code: ZooKeeperErrorCode, message: string, options: { path?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'ZooKeeperError';
    this.code = code;
    this.path = options.path;
  }

  /** Wraps whatever node-zookeeper-client reported (an `Exception` or a plain Error). */
  static from(error: unknown, operation: string, path?: string): ZooKeeperError {
    if (error instanceof ZooKeeperError) return error;
    const numeric = (error as { code?: unknown } | null)?.code;
    const code = (typeof numeric === 'number' && BY_NUMBER.get(numeric)) || ZooKeeperErrorCode.UNKNOWN;
    const where = path === undefined ? '' : ` ${path}`;
    return new ZooKeeperError(code, `${operation}${where}: ${code}`, { path, cause: error });
  }
}

/** True when `error` is a ZooKeeperError with one of `codes`. */
export function isZooKeeperError(error: unknown, ...codes: ZooKeeperErrorCode[]): error is ZooKeeperError {
  return error instanceof ZooKeeperError && (codes.length === 0 || codes.includes(error.code));
}
