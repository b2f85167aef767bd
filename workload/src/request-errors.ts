/**
 * The client mistakes the worker runtime answers with a 4xx, each with a stable code. The reply body is
 * always `{ "error": "<code>", "message": "<what is wrong and how to fix it>" }`; README.md ("Errors a
 * client can get") lists them. Messages quote client input only as a short {@link preview}.
 */
export const RequestErrorCodes = {
  /** 400: the request's key is the empty string. */
  KEY_EMPTY: 'CAPSTAN_KEY_EMPTY',
  /** 400: the key is longer than `MAX_KEY_BYTES` bytes of UTF-8. */
  KEY_TOO_LONG: 'CAPSTAN_KEY_TOO_LONG',
  /** 400: the key contains a control character or a lone surrogate. */
  KEY_INVALID: 'CAPSTAN_KEY_INVALID',
  /** 400: the path is not valid percent-encoded UTF-8 (e.g. `%FF`, `%zz`). */
  PATH_INVALID: 'CAPSTAN_PATH_INVALID',
  /** 414: a path segment is longer than the router accepts. */
  PATH_TOO_LONG: 'CAPSTAN_PATH_TOO_LONG',
  /** 404: no route of the app matches the method and path. */
  ROUTE_NOT_FOUND: 'CAPSTAN_ROUTE_NOT_FOUND',
  /** 400: the body cannot be parsed (malformed or empty JSON, size not matching Content-Length). */
  BODY_MALFORMED: 'CAPSTAN_BODY_MALFORMED',
  /** 413: the body is larger than the server's body limit. */
  BODY_TOO_LARGE: 'CAPSTAN_BODY_TOO_LARGE',
  /** 415: the body's content type is not one the server parses. */
  UNSUPPORTED_MEDIA_TYPE: 'CAPSTAN_UNSUPPORTED_MEDIA_TYPE',
  /** 400: the request does not match the route's schema; the message names the field. */
  VALIDATION_FAILED: 'CAPSTAN_VALIDATION_FAILED',
  /** 400: counters' increment body is not `{"by": <integer>}`. */
  BAD_INCREMENT: 'CAPSTAN_BAD_INCREMENT',
  /** 4xx: any other client error that carries no code of its own. */
  CLIENT_ERROR: 'CAPSTAN_CLIENT_ERROR',
} as const;

export type RequestErrorCode = (typeof RequestErrorCodes)[keyof typeof RequestErrorCodes];

/** A client mistake: the error handler answers `statusCode` with `{ error: code, message }`. */
export class RequestError extends Error {
  readonly statusCode: number;
  readonly code: RequestErrorCode;
  constructor(statusCode: number, code: RequestErrorCode, message: string) {
    super(message);
    this.name = 'RequestError';
    this.statusCode = statusCode;
    this.code = code;
  }
}

/** How many characters of client input a message or log line quotes at most. */
export const PREVIEW_CHARS = 64;

/**
 * Client input fit for a message or a log line: JSON-quoted (control characters escaped) and cut to
 * `max` characters, with a marker saying how long the whole was.
 */
export function preview(text: string, max = PREVIEW_CHARS): string {
  if (text.length <= max) return quote(text);
  let cut = text.slice(0, max);
  // Do not split a surrogate pair.
  if (/[\ud800-\udbff]$/.test(cut)) cut = cut.slice(0, -1);
  return `${quote(cut)}... (truncated, ${text.length} characters in all)`;
}

/** JSON string syntax with every control character escaped (JSON itself leaves U+007F to U+009F as they are). */
function quote(text: string): string {
  return JSON.stringify(text).replace(
    /\p{Cc}/gu,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Any JSON value of client input fit for a message: strings as {@link preview}, others as cut JSON text. */
export function previewValue(value: unknown, max = PREVIEW_CHARS): string {
  if (typeof value === 'string') return preview(value, max);
  const text = JSON.stringify(value) ?? String(value);
  return text.length <= max ? text : `${text.slice(0, max)}... (truncated, ${text.length} characters in all)`;
}

/** The longest message the error handler passes on from an error it did not write itself. */
export const MAX_MESSAGE_CHARS = 300;

/** A message cut to {@link MAX_MESSAGE_CHARS}, with a marker when it was cut. */
export function shortMessage(message: string): string {
  return message.length <= MAX_MESSAGE_CHARS
    ? message
    : `${message.slice(0, MAX_MESSAGE_CHARS)}... (truncated)`;
}
