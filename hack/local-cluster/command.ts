import { execFile } from 'node:child_process';

/** Error of a host command (ip, nft, mount, ...) that exited non-zero; carries its stderr. */
export class HostCommandError extends Error {
  readonly code = 'CAPSTAN_HOST_COMMAND';
}

/** Runs a command, resolving with its stdout; rejects with its stderr on a non-zero exit. */
export function run(command: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolveRun, reject) => {
    const child = execFile(command, args, { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        reject(new HostCommandError(`${command} ${args.join(' ')}: ${stderr.trim() || err.message}`));
      } else resolveRun(stdout);
    });
    // A command may exit before reading its input (an error): ignore the broken pipe, report the exit.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input ?? '');
  });
}

/** Like {@link run} but for cleanup steps whose target may already be gone: never rejects. */
export async function runQuietly(command: string, args: string[], input?: string): Promise<boolean> {
  try {
    await run(command, args, input);
    return true;
  } catch {
    return false;
  }
}
