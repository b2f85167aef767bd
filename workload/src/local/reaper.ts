import { spawn, type ChildProcess } from 'node:child_process';

// A watchdog process that SIGKILLs the registered process groups when its stdin closes, which happens when
// this process dies by any means (a crash, SIGKILL, a test runner that exits without teardown). An 'exit'
// handler is not enough: jest gives each test file its own `process` object whose 'exit' never fires.
const WATCHDOG = `
const groups = new Set();
let pending = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  const lines = (pending + chunk).split('\\n');
  pending = lines.pop();
  for (const line of lines) {
    const pgid = Number(line.slice(1));
    if (line[0] === '+') groups.add(pgid); else groups.delete(pgid);
  }
});
process.stdin.on('end', () => {
  for (const pgid of groups) { try { process.kill(-pgid, 'SIGKILL'); } catch {} }
  process.exit(0);
});
`;

let watchdog: ChildProcess | undefined;
const registered = new Set<number>();

/** Makes sure process group `pgid` is killed if this process dies before {@link release} is called. */
export function guard(pgid: number): void {
  watchdog ??= startWatchdog();
  registered.add(pgid);
  watchdog.stdin?.write(`+${pgid}\n`);
}

/** Forgets `pgid` (it has exited); ends the watchdog when nothing is left to guard. */
export function release(pgid: number): void {
  if (!registered.delete(pgid) || !watchdog) return;
  watchdog.stdin?.write(`-${pgid}\n`);
  if (registered.size === 0) {
    watchdog.stdin?.end();
    watchdog = undefined;
  }
}

function startWatchdog(): ChildProcess {
  const child = spawn(process.execPath, ['-e', WATCHDOG], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
  });
  child.on('error', () => undefined);
  child.stdin?.on('error', () => undefined);
  // Neither the watchdog nor its pipe may keep this process alive.
  child.unref();
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return child;
}
