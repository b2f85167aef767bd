import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { HarnessError } from './errors.ts';

/** Whether `host:port` accepts a TCP connection within `timeoutMs` (default 500). */
export function canConnect(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** What {@link waitUntil} watches besides its condition. */
export interface WaitOptions {
  /** Describes the awaited state in errors, e.g. `redis on 127.0.0.1:6380 answers PING`. */
  what: string;
  /** Default 20000. */
  timeoutMs?: number;
  /** Pause between attempts; default 100. */
  intervalMs?: number;
  /** When given, stop waiting as soon as this returns a reason (e.g. the process exited). */
  abortReason?: () => string | undefined;
  /** Extra text for error messages (e.g. a log tail), read when the wait fails. */
  details?: () => string;
}

/**
 * Polls `condition` until it returns true. An attempt that throws counts as false. Throws
 * {@link HarnessError} `HARNESS_EXITED_BEFORE_READY` when `abortReason` reports one, `HARNESS_START_TIMEOUT`
 * after `timeoutMs`; both messages end with `details()`.
 */
export async function waitUntil(condition: () => Promise<boolean>, options: WaitOptions): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  for (;;) {
    const aborted = options.abortReason?.();
    if (aborted !== undefined) {
      throw new HarnessError('HARNESS_EXITED_BEFORE_READY', `${options.what}: ${aborted}${suffix(options)}`);
    }
    if (await condition().catch(() => false)) return;
    if (Date.now() >= deadline) {
      const message = `${options.what}: not ready after ${options.timeoutMs ?? 20_000} ms${suffix(options)}`;
      throw new HarnessError('HARNESS_START_TIMEOUT', message);
    }
    await sleep(options.intervalMs ?? 100);
  }
}

function suffix(options: WaitOptions): string {
  const details = options.details?.();
  return details ? `\n${details}` : '';
}
