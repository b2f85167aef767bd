import { execFile } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Directory holding kubectl, helm and the other built tools: `$CAPSTAN_TOOLS_BIN` or the repository's bin/. */
export function toolsBin(): string {
  return process.env.CAPSTAN_TOOLS_BIN ?? join(repoRoot, 'bin');
}

export interface CommandResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Runs a binary from the tools folder; rejects on a non-zero exit unless `allowFailure`. */
export function runTool(
  tool: string,
  args: string[],
  options: { input?: string; allowFailure?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<CommandResult> {
  return new Promise((resolveRun, reject) => {
    const child = execFile(
      join(toolsBin(), tool),
      args,
      { maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ...options.env } },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        if (code !== 0 && !options.allowFailure) {
          reject(new Error(`${tool} ${args.join(' ')} exited ${code}: ${stderr || stdout}`));
          return;
        }
        resolveRun({ stdout, stderr, code });
      },
    );
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(options.input ?? '');
  });
}
