import { rm } from 'node:fs/promises';
import { stopControlPlane } from './control-plane.ts';

/** Stops the control plane that global-setup started (not one the user provided). */
export default async function globalTeardown(): Promise<void> {
  const dir = process.env.CAPSTAN_TEST_CLUSTER_OWNED;
  if (!dir) return;
  await stopControlPlane(dir);
  if (!process.env.CAPSTAN_KEEP_TEST_CLUSTER) await rm(dir, { recursive: true, force: true });
}
