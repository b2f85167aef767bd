import { join } from 'node:path';
import { startLocalCluster } from '../../hack/local-cluster/cluster.ts';

/** Real nodes of the e2e project's cluster: pods there run real containers. */
export const E2E_REAL_NODES = 2;

type DisplayName = string | { name: string } | undefined;

/**
 * Starts one local cluster for the integration or e2e project and exports its kubeconfig to the
 * test workers as CAPSTAN_TEST_KUBECONFIG: kwok nodes only for integration, plus real nodes for
 * e2e. A user may point the suites at a cluster they started with `make cluster-up` by setting
 * CAPSTAN_TEST_KUBECONFIG themselves.
 */
export default async function globalSetup(
  _global: unknown,
  project: { displayName?: DisplayName },
): Promise<void> {
  if (process.env.CAPSTAN_TEST_KUBECONFIG) return;
  const name = typeof project.displayName === 'string' ? project.displayName : project.displayName?.name;
  const realNodes = name === 'e2e' ? E2E_REAL_NODES : 0;
  const dir = join(process.cwd(), 'tmp', `test-cluster-${process.pid}`);
  const started = Date.now();
  const state = await startLocalCluster({ dir, realNodes });
  process.env.CAPSTAN_TEST_KUBECONFIG = state.kubeconfig;
  process.env.CAPSTAN_TEST_CLUSTER_OWNED = dir;
  const nodes = realNodes > 0 ? ` with ${realNodes} real nodes` : '';
  process.stderr.write(`\nlocal cluster up${nodes} in ${Date.now() - started} ms at ${state.server}\n`);
}
