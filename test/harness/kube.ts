import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';

/**
 * Helpers for tests that run against the local control plane started by jest's global setup
 * (test/harness/global-setup.ts), which exports CAPSTAN_TEST_KUBECONFIG.
 */

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Path of the admin kubeconfig of the test control plane. */
export function testKubeconfig(): string {
  const path = process.env.CAPSTAN_TEST_KUBECONFIG;
  if (!path) {
    throw new Error(
      'CAPSTAN_TEST_KUBECONFIG is not set: run this suite through the integration or e2e jest project',
    );
  }
  return path;
}

/** State directory of the test control plane (for restarting a component). */
export function testClusterDir(): string {
  return dirname(testKubeconfig());
}

/** A client-node KubeConfig for the test control plane. */
export function loadKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(testKubeconfig());
  return kc;
}

/** Directory holding kubectl, helm and the other built tools. */
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
    child.stdin?.end(options.input ?? '');
  });
}

/** Runs kubectl against the test control plane. */
export function kubectl(
  args: string[],
  options: { input?: string; allowFailure?: boolean } = {},
): Promise<CommandResult> {
  return runTool('kubectl', ['--kubeconfig', testKubeconfig(), ...args], options);
}

/** Creates a fresh namespace named `<prefix>-<random>` and returns its name. */
export async function createNamespace(prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await kubectl(['create', 'namespace', name]);
  return name;
}

/**
 * Polls `check` until it returns something other than undefined, or throws after `timeoutMs`
 * naming `what` and the last error the check raised.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const why = last instanceof Error ? `; last error: ${last.message}` : '';
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
}
