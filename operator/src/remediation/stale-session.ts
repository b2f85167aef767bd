/**
 * The ZooKeeper side of a worker Kubernetes proved dead or crash-looping ({@link WorkerVerdict}). Two
 * steps, each safe for "never two owners" on its own:
 *
 * - {@link removeStaleSession} (proven dead): writes `leaving/<worker>` on the worker's behalf, then deletes
 *   its `members/<worker>` node and every `owners/<p>` node created by the same session. The Rebalancer sees
 *   the member leave, finds the notice and moves the worker's partitions without `rebalanceDelaySeconds`, as
 *   for a worker that left on purpose; the new owners, which wait for `owners/<p>` to go, claim at once
 *   instead of after the session timeout. This is safe because the session's process is dead (the kubelet
 *   reports a container terminated only after its process exited; a pod leaves the API without force only
 *   after the kubelet confirmed its containers stopped), so nothing serves under those nodes; and only nodes
 *   of that one session are deleted (by `ephemeralOwner`). The session is the one that holds
 *   `members/<worker>` while no successor pod of the same name exists (the caller's guard): a StatefulSet
 *   recreates a pod only after the old one is gone, and its process needs to be scheduled, started and
 *   connected before it registers, far longer than the informer's lag. If the member node is gone already
 *   (the session expired), the worker's partitions still wait for the delay; `rebalanceNow(immediate)`
 *   moves them when every departed worker is proven dead (it moves all departed ones).
 * - {@link noticeLeaving} (crash loop): writes only the notice. The pod stays and the kubelet restarts its
 *   container, so a new process may register under the same name before the cache shows it; no node is
 *   deleted. The dead process's session expires within its timeout, then the notice moves its partitions
 *   at once; a new process deletes a stale notice when it starts (`PartitionOwnership`).
 * The ZooKeeper ACLs are open (`world:anyone`) at this stage; with per-app digest ACLs the operator needs
 * delete rights on `members/` and `owners/`.
 */
import { decodeAssignment, ownersOf } from '../../../common/src/assignment-record.ts';
import type { Rebalancer } from '../../../common/src/rebalancer.ts';
import type { ZooKeeperClient } from '../../../common/src/zookeeper-client.ts';
import { ZooKeeperErrorCode, isZooKeeperError } from '../../../common/src/zookeeper-error.ts';
import {
  assignmentPath,
  leavingNoticePath,
  leavingPath,
  memberPath,
  ownerPath,
  ownersPath,
  type AppRef,
} from '../../../common/src/zk-paths.ts';

/** What one removal did. */
export interface StaleSessionRemoval {
  /** Hex id of the session removed; undefined when `members/<worker>` was gone already. */
  readonly session: string | undefined;
  /** Partitions whose `owners/<p>` was deleted. */
  readonly owners: readonly number[];
  /** True when the partitions were moved by an immediate rebalance (the member was gone already). */
  readonly rebalanced: boolean;
  /** False when the member was gone and no partition waited for it any more (nothing left to move). */
  readonly waiting: boolean;
}

function ignoring(...codes: ZooKeeperErrorCode[]): (error: unknown) => void {
  return (error: unknown) => {
    if (!isZooKeeperError(error, ...codes)) throw error;
  };
}

/** Writes `leaving/<worker>` (kept if there already). */
export async function noticeLeaving(client: ZooKeeperClient, ref: AppRef, worker: string): Promise<void> {
  await client.mkdirp(leavingPath(ref));
  await client
    .create(leavingNoticePath(ref, worker), '', 'persistent')
    .then(() => undefined, ignoring(ZooKeeperErrorCode.NODE_EXISTS));
}

async function sessionOf(client: ZooKeeperClient, path: string): Promise<string | undefined> {
  const stat = await client.exists(path);
  return stat?.ephemeralOwner;
}

/** Deletes every `owners/<p>` whose ephemeral owner is `session`; returns their partitions. */
async function removeOwners(client: ZooKeeperClient, ref: AppRef, session: string): Promise<number[]> {
  const removed: number[] = [];
  for (const name of await client.children(ownersPath(ref))) {
    const partition = Number(name);
    if (!Number.isSafeInteger(partition) || partition < 0) continue;
    const path = ownerPath(ref, partition);
    const stat = await client.exists(path);
    if (stat?.ephemeralOwner !== session) continue;
    await client
      .remove(path, stat.version)
      .catch(ignoring(ZooKeeperErrorCode.NO_NODE, ZooKeeperErrorCode.BAD_VERSION));
    removed.push(partition);
  }
  return removed;
}

/** Workers the assignment names that are not live members. */
async function departed(client: ZooKeeperClient, ref: AppRef, live: readonly string[]): Promise<string[]> {
  const node = await client.get(assignmentPath(ref)).catch((error: unknown) => {
    ignoring(ZooKeeperErrorCode.NO_NODE)(error);
    return undefined;
  });
  const owners = ownersOf(node === undefined ? undefined : decodeAssignment(node.data));
  return [...new Set(owners.filter((o): o is string => o !== undefined && !live.includes(o)))];
}

/** Options of {@link removeStaleSession}. */
export interface StaleSessionOptions {
  readonly client: ZooKeeperClient;
  readonly rebalancer: Rebalancer;
  readonly ref: AppRef;
  readonly worker: string;
  /** Every worker of the app proven dead now (`worker` included). */
  readonly provenDead: ReadonlySet<string>;
}

/** See the module comment. Rejects with the ZooKeeper error of a step that failed (it is safe to repeat). */
export async function removeStaleSession(options: StaleSessionOptions): Promise<StaleSessionRemoval> {
  const { client, ref, worker } = options;
  const member = memberPath(ref, worker);
  const session = await sessionOf(client, member);
  if (session === undefined) {
    const waiting = await departed(client, ref, options.rebalancer.members);
    const move = waiting.includes(worker) && waiting.every((w) => options.provenDead.has(w));
    if (move) await options.rebalancer.rebalanceNow(`worker proven dead: ${worker}`, { immediate: true });
    return { session, owners: [], rebalanced: move, waiting: waiting.includes(worker) };
  }
  // The notice first: the Rebalancer reads it when it sees the member go.
  await noticeLeaving(client, ref, worker);
  const stat = await client.exists(member);
  if (stat?.ephemeralOwner === session)
    await client
      .remove(member, stat.version)
      .catch(ignoring(ZooKeeperErrorCode.NO_NODE, ZooKeeperErrorCode.BAD_VERSION));
  const owners = await removeOwners(client, ref, session);
  return { session, owners, rebalanced: false, waiting: true };
}
