import { join } from 'node:path';
import { startControlPlane } from './control-plane.ts';

/**
 * Starts one local control plane for the integration or e2e project and exports its kubeconfig
 * to the test workers as CAPSTAN_TEST_KUBECONFIG. A user may point the suites at a cluster they
 * started with `make cluster-up` by setting CAPSTAN_TEST_KUBECONFIG themselves.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.CAPSTAN_TEST_KUBECONFIG) return;
  const dir = join(process.cwd(), 'tmp', `test-cluster-${process.pid}`);
  const started = Date.now();
  const state = await startControlPlane({ dir });
  process.env.CAPSTAN_TEST_KUBECONFIG = state.kubeconfig;
  process.env.CAPSTAN_TEST_CLUSTER_OWNED = dir;
  process.stderr.write(`\nlocal control plane up in ${Date.now() - started} ms at ${state.server}\n`);
}
