import { rm } from 'node:fs/promises';
import { stopLocalCluster } from '../../hack/local-cluster/cluster.ts';

/** Stops the cluster that global-setup started (not one the user provided). */
export default async function globalTeardown(): Promise<void> {
  const dir = process.env.CAPSTAN_TEST_CLUSTER_OWNED;
  if (!dir) return;
  await stopLocalCluster(dir);
  if (!process.env.CAPSTAN_KEEP_TEST_CLUSTER) await rm(dir, { recursive: true, force: true });
}
