/**
 * Whether a worker pod's node has failed (pure), for the failed-node row of DESIGN section 6:
 * - `out-of-service`: the node carries `node.kubernetes.io/out-of-service`, which an administrator sets
 *   only on a node that is shut down: its processes are dead, as for a pod gone gracefully;
 * - `failed`: NotReady or unreachable (its Ready condition is not True, or the node controller's
 *   `not-ready`/`unreachable` taint is on it): its processes may still run, so only the expiry of their
 *   ZooKeeper sessions fences them;
 * - `ready` otherwise, and for a node the cache does not know.
 */
import type { V1Node } from '@kubernetes/client-node';

export type NodeHealth = 'ready' | 'failed' | 'out-of-service';

const OUT_OF_SERVICE_TAINT = 'node.kubernetes.io/out-of-service';
const FAILURE_TAINTS = new Set(['node.kubernetes.io/unreachable', 'node.kubernetes.io/not-ready']);

export function nodeHealth(node: V1Node | undefined): NodeHealth {
  if (node === undefined) return 'ready';
  const taints = node.spec?.taints ?? [];
  if (taints.some((t) => t.key === OUT_OF_SERVICE_TAINT)) return 'out-of-service';
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
  return !ready || taints.some((t) => FAILURE_TAINTS.has(t.key)) ? 'failed' : 'ready';
}
