/**
 * An app's ZooKeeper tree, made and removed by the operator's client (authenticated as the app's operator).
 *
 * {@link ensureAppTree} makes the app's persistent nodes exist with the ACLs of {@link appTree}: missing ones
 * are created with theirs, existing ones whose ACL differs get it set (nodes made before ACLs existed were open
 * to the world). Shared parents made by another app's operator are left alone unless they are open. Run
 * before the app's rebalancer starts; idempotent.
 *
 * {@link removeAppTree} removes the app's root and everything under it, depth first (the ephemerals of
 * sessions still open included: ZooKeeper lets whoever may delete a node's children remove them). The shared
 * parents stay. Only safe once nothing writes there any more (no worker, no coordinator). Idempotent.
 */
import type { AppCredentials, TreeNode } from './zookeeper-acl.ts';
import { appTree, sameAcl, worldMayWrite } from './zookeeper-acl.ts';
import type { ZooKeeperClient } from './zookeeper-client.ts';
import { isZooKeeperError } from './zookeeper-error.ts';
import { appRoot, childPath, type AppRef } from './zk-paths.ts';

async function createNode(client: ZooKeeperClient, node: TreeNode): Promise<boolean> {
  try {
    await client.create(node.path, undefined, 'persistent', node.acl);
    return true;
  } catch (error: unknown) {
    if (isZooKeeperError(error, 'NODE_EXISTS')) return false;
    throw error;
  }
}

async function ensureNode(client: ZooKeeperClient, node: TreeNode): Promise<void> {
  if ((await client.exists(node.path)) === undefined) {
    if (!node.create || (await createNode(client, node))) return;
  }
  const current = await client.getAcl(node.path).catch((error: unknown) => {
    // A shared parent made by another app's operator may not even be readable by this one: leave it.
    if (node.shared && isZooKeeperError(error, 'NO_AUTH')) return undefined;
    throw error;
  });
  if (current === undefined || sameAcl(current.acl, node.acl)) return;
  if (node.shared && !worldMayWrite(current.acl)) return;
  await client.setAcl(node.path, node.acl, current.version);
}

/** See the module comment. Rejects with the ZooKeeperError of the first node it cannot fix (NO_AUTH: not ours). */
export async function ensureAppTree(
  client: ZooKeeperClient,
  ref: AppRef,
  credentials: AppCredentials,
): Promise<void> {
  for (const node of appTree(ref, credentials)) await ensureNode(client, node);
}

/** Removes `path` and its subtree, children first; a node already gone counts as removed. */
async function removeSubtree(client: ZooKeeperClient, path: string): Promise<void> {
  let children: string[];
  try {
    children = await client.children(path);
  } catch (error: unknown) {
    if (isZooKeeperError(error, 'NO_NODE')) return;
    throw error;
  }
  for (const child of children) await removeSubtree(client, childPath(path, child));
  try {
    await client.remove(path);
  } catch (error: unknown) {
    if (!isZooKeeperError(error, 'NO_NODE')) throw error;
  }
}

/**
 * See the module comment. Rejects with the ZooKeeperError of the first node it cannot remove: NO_AUTH (not
 * this operator's), NOT_EMPTY (something still writes there), or a connection failure.
 */
export async function removeAppTree(client: ZooKeeperClient, ref: AppRef): Promise<void> {
  await removeSubtree(client, appRoot(ref));
}
