/**
 * Thrown by the config renderers when their options cannot produce a valid file (a port out of range,
 * a name with spaces, an empty server list...). `code` is stable; `field` names the offending option.
 */
export class ConfigRenderError extends Error {
  readonly code = 'CAPSTAN_ERR_CONFIG_RENDER';
  readonly field: string;

  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'ConfigRenderError';
    this.field = field;
  }
}

/** Returns `port` when it is an integer in 1..65535; throws {@link ConfigRenderError} otherwise. */
export function checkPort(field: string, port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigRenderError(field, `expected a port in 1..65535, got ${String(port)}`);
  }
  return port;
}

/** Returns `value` when it is a positive integer; throws {@link ConfigRenderError} otherwise. */
export function checkPositiveInt(field: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new ConfigRenderError(field, `expected a positive integer, got ${String(value)}`);
  }
  return value;
}

const TOKEN = /^[A-Za-z0-9._:\-[\]/]+$/;

/**
 * Returns `value` when it is one non-empty config token (host names, IPv4/IPv6 addresses, paths, identifiers:
 * no whitespace, quotes or comment characters); throws {@link ConfigRenderError} otherwise. Keeps a value
 * from injecting extra directives into a rendered file.
 */
export function checkToken(field: string, value: string): string {
  if (!TOKEN.test(value)) {
    throw new ConfigRenderError(
      field,
      `expected a single token without spaces or quotes, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}
