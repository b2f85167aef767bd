/**
 * JSON logs through pino. Fields that commonly carry credentials are redacted wherever they appear
 * (one level deep), so passing a request or a kubeconfig fragment to a log call cannot leak them.
 */
import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** Options of `createLogger`. */
export interface LoggerOptions {
  /** Logger name (the `name` field). Default 'capstan-operator'. */
  name?: string;
  /** pino level. Default 'info'. */
  level?: string;
  /** Where lines go. Default stdout. */
  destination?: DestinationStream;
}

const secretKeys = [
  'authorization',
  'Authorization',
  'token',
  'bearerToken',
  'password',
  'client-key-data',
  'keyData',
  'secret',
];

/** The paths redacted from every log line: each secret key at the top level and one level down. */
export const REDACTED_PATHS: readonly string[] = secretKeys.flatMap((key) => [`["${key}"]`, `*["${key}"]`]);

/** Creates a JSON logger with ISO timestamps and credential redaction. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const settings = {
    name: options.name ?? 'capstan-operator',
    level: options.level ?? 'info',
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' },
    formatters: { level: (label: string) => ({ level: label }) },
  };
  // Without a destination pino writes synchronously to stdout, so nothing is lost at exit.
  return options.destination === undefined ? pino(settings) : pino(settings, options.destination);
}

/** A logger that discards everything (for tests and library defaults). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
