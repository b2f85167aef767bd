import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { runTool, type CommandResult } from '../../hack/local-cluster/tools.ts';

/**
 * Helpers for tests that run against the local control plane started by jest's global setup
 * (test/harness/global-setup.ts), which exports CAPSTAN_TEST_KUBECONFIG.
 */

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

export { runTool, toolsBin, type CommandResult } from '../../hack/local-cluster/tools.ts';

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
