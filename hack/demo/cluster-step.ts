import { relative, join } from 'node:path';
import {
  readClusterState,
  startLocalCluster,
  pushImages,
  type LocalClusterState,
} from '../local-cluster/cluster.ts';
import { isAlive } from '../local-cluster/detached.ts';
import { repoRoot } from './kube-steps.ts';

/**
 * The cluster a demo or benchmark runs on: the one running in `dir` when all of it is alive with real
 * nodes (images rebuilt if needed and pushed), else a new one started there. `started` says which, so
 * the caller stops only a cluster it started.
 */
export async function clusterForRun(
  dir: string,
  print: (line: string) => void,
): Promise<{ state: LocalClusterState; started: boolean }> {
  const existing = await readClusterState(dir).catch(() => undefined);
  const alive = existing?.components.every((c) => isAlive(c.pid)) && (existing?.realNodes.length ?? 0) > 0;
  if (existing && alive) {
    print(`Reusing the cluster running in ${relative(repoRoot, dir)} (${existing.server}).`);
    print('Building (cached) and pushing the images to its registry ...');
    await pushImages(existing);
    return { state: existing, started: false };
  }
  print('$ make cluster-up   # etcd, kube-apiserver, controller-manager, scheduler, kwok; 2 real nodes');
  print(
    '                    # (containerd + runc + kubelet each), kube-proxy (nftables), CoreDNS, a local registry',
  );
  const startedAt = Date.now();
  const state = await startLocalCluster({ dir, realNodes: 2 });
  print(
    `Up in ${((Date.now() - startedAt) / 1000).toFixed(1)} s: ${state.server}; images built and pushed ` +
      `(log ${relative(repoRoot, join(dir, 'logs', 'images.log'))}).`,
  );
  return { state, started: true };
}
