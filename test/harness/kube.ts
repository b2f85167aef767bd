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

/** Polls a check with a deadline (the same helper the demo steps use). */
import { waitFor } from '../../hack/demo/kube-steps.ts';
export { waitFor };

/**
 * Waits until a CRD is Established. `kubectl wait --for=condition=Established` fails at once instead
 * of waiting when it reads the CRD before the apiserver has written any condition, so poll instead.
 */
export async function waitCrdEstablished(name: string, timeoutMs = 60_000): Promise<void> {
  const jsonpath = '-o=jsonpath={.status.conditions[?(@.type=="Established")].status}';
  await waitFor(
    `CRD ${name} Established`,
    async () => ((await kubectl(['get', 'crd', name, jsonpath])).stdout.trim() === 'True' ? true : undefined),
    timeoutMs,
  );
}

/** A Kubernetes Event as the tests read it. */
export interface KubeEvent {
  type: string;
  reason: string;
  message: string;
  involvedObject: { kind: string; name: string };
  metadata: { resourceVersion: string };
}

/** Events in `namespace` matching `fieldSelector` (e.g. `involvedObject.name=app,reason=X`), oldest first. */
export async function eventsMatching(namespace: string, fieldSelector: string): Promise<KubeEvent[]> {
  const { stdout } = await kubectl([
    'get',
    'events',
    '-n',
    namespace,
    '--field-selector',
    fieldSelector,
    '-o',
    'json',
  ]);
  const { items } = JSON.parse(stdout) as { items: KubeEvent[] };
  return items.sort((a, b) => Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion));
}
