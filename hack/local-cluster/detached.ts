import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

/** How to (re)start one long-running component; kept in a state file so any process can restart it. */
export interface ComponentSpec {
  name: string;
  command: string;
  args: string[];
  log: string;
  /** Environment on top of the caller's. */
  env?: Record<string, string>;
}

/**
 * Starts a component in its own process group, detached from the caller, with stdout and
 * stderr appended to its log file. Returns its pid. Detached so that `make cluster-up` can
 * return while the control plane keeps running, and so that a test process can restart a
 * component that jest's global setup started.
 */
export function startDetached(spec: ComponentSpec): number {
  const fd = openSync(spec.log, 'a');
  try {
    const child = spawn(spec.command, spec.args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, ...spec.env },
    });
    if (child.pid === undefined) throw new Error(`could not start ${spec.name} (${spec.command})`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** True while a process with this pid exists (and is not a zombie of ours). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // A zombie still answers kill(0); its stat line says state Z.
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/**
 * The start time of a process in clock ticks since boot (field 22 of /proc/PID/stat), or undefined
 * when it is gone. PIDs wrap (at 32768 here): a recorded pid is ours only while this still matches.
 */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces; count fields after its closing parenthesis.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/** Sends SIGTERM to the process group, then SIGKILL once `graceMs` has passed; resolves when it is gone. */
export async function stopGroup(pid: number, graceMs = 10_000): Promise<void> {
  signalGroup(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(50);
  if (isAlive(pid)) signalGroup(pid, 'SIGKILL');
  while (isAlive(pid)) await sleep(20);
}

/** Last `lines` lines of a log file, for error messages. */
export function logTail(path: string, lines = 40): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
