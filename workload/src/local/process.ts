import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { HarnessError } from './errors.ts';
import { guard, release } from './reaper.ts';

/** How a process ended: exit code, or the signal that ended it. */
export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** What {@link spawnManaged} starts. */
export interface ProcessSpec {
  /** Short name for messages and the log file (`<dir>/<name>.log`). */
  name: string;
  command: string;
  args: readonly string[];
  /** The instance's own directory: working directory and home of the log file. */
  dir: string;
  /** Added to the parent's environment. */
  env?: Readonly<Record<string, string>>;
}

/**
 * A child process in its own process group, its stdout and stderr appended to `<dir>/<name>.log`.
 * Signals go to the whole group, so helpers it forks (HAProxy's workers, a shell's children) go too.
 */
export class ManagedProcess {
  readonly name: string;
  readonly logFile: string;
  readonly pid: number;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ExitInfo>;
  #exit: ExitInfo | undefined;
  readonly #child: ChildProcess;

  constructor(spec: ProcessSpec) {
    this.name = spec.name;
    this.logFile = join(spec.dir, `${spec.name}.log`);
    const log = openSync(this.logFile, 'a');
    try {
      this.#child = spawn(spec.command, [...spec.args], {
        cwd: spec.dir,
        env: { ...process.env, ...spec.env },
        stdio: ['ignore', log, log],
        detached: true,
      });
    } finally {
      closeSync(log);
    }
    this.exited = new Promise((resolve) => {
      const done = (info: ExitInfo): void => {
        if (this.#exit) return;
        this.#exit = info;
        release(this.pid);
        resolve(info);
      };
      this.#child.once('exit', (code, signal) => done({ code, signal }));
      this.#child.once('error', () => done({ code: -1, signal: null }));
    });
    this.pid = this.#child.pid ?? -1;
    if (this.pid > 0) guard(this.pid);
    // A running server must not keep the test process alive; the reaper ends it if this process dies.
    this.#child.unref();
  }

  /** How it exited, or undefined while it runs. */
  get exitInfo(): ExitInfo | undefined {
    return this.#exit;
  }

  get running(): boolean {
    return this.#exit === undefined && this.pid > 0;
  }

  /** Sends `signal` to the process group (no-op once exited). */
  signal(signal: NodeJS.Signals): void {
    if (this.running) signalGroup(this.pid, signal);
  }

  /** Sends `signal` (default SIGKILL) and waits for the exit; throws if it has not exited after `timeoutMs`. */
  async kill(signal: NodeJS.Signals = 'SIGKILL', timeoutMs = 5000): Promise<ExitInfo> {
    this.signal(signal);
    return this.#waitExit(timeoutMs, `did not exit ${timeoutMs} ms after ${signal}`);
  }

  /**
   * SIGTERM (after SIGCONT, in case it is paused), then SIGKILL if still running after `graceMs` (default
   * 5000). Resolves when the process has exited; idempotent.
   */
  async stop(graceMs = 5000): Promise<ExitInfo> {
    if (!this.running) return this.exited;
    this.signal('SIGCONT');
    this.signal('SIGTERM');
    const info = (await within(this.exited, graceMs)) ?? (await this.kill('SIGKILL'));
    // Children that outlive the group leader (forked workers) go too; the group is empty otherwise.
    signalGroup(this.pid, 'SIGKILL');
    return info;
  }

  /** Freezes the whole group (SIGSTOP): it holds its ports and sessions but answers nothing. */
  pause(): void {
    this.signal('SIGSTOP');
  }

  /** Continues a paused group (SIGCONT). */
  resume(): void {
    this.signal('SIGCONT');
  }

  /** The last `lines` lines of the log (default 40), for error messages. */
  logTail(lines = 40): string {
    return readTail(this.logFile, lines);
  }

  /** A one-line description of the exit, for error messages; undefined while running. */
  describeExit(): string | undefined {
    const info = this.#exit;
    if (!info) return this.pid > 0 ? undefined : `${this.name} could not be spawned`;
    return `${this.name} (pid ${this.pid}) exited with ${info.signal ? `signal ${info.signal}` : `code ${info.code}`}`;
  }

  async #waitExit(timeoutMs: number, message: string): Promise<ExitInfo> {
    const info = await within(this.exited, timeoutMs);
    if (info) return info;
    throw new HarnessError('HARNESS_STOP_TIMEOUT', `${this.name} (pid ${this.pid}) ${message}`);
  }
}

/** Starts `spec` as a {@link ManagedProcess}. */
export function spawnManaged(spec: ProcessSpec): ManagedProcess {
  return new ManagedProcess(spec);
}

/** Formats a process's log tail as the end of an error message. */
export function logTailSection(proc: ManagedProcess, lines = 40): string {
  const tail = proc.logTail(lines);
  return tail ? `--- last lines of ${proc.logFile} ---\n${tail}` : `(${proc.logFile} is empty)`;
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is already gone, which is what the caller wants.
  }
}

/**
 * `promise`'s value, or undefined after `ms`. The timer is referenced on purpose: the child is unref'd, so
 * without it a script awaiting a stop could see Node exit before the child's exit arrives.
 */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(resolve, ms, undefined);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const TAIL_BYTES = 64 * 1024;

function readTail(file: string, lines: number): string {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return '';
  }
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    return buffer.toString('utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } finally {
    closeSync(fd);
  }
}
