/**
 * Makes an app's persistent ZooKeeper nodes exist with the ACLs of {@link appTree}: missing ones are created
 * with theirs, existing ones whose ACL differs get it set (nodes made before ACLs existed were open to the
 * world). Shared parents made by another app's operator are left alone unless they are open. Run by the
 * operator's client (authenticated as the app's operator) before its rebalancer starts; idempotent.
 */
import type { AppCredentials, TreeNode } from './zookeeper-acl.ts';
import { appTree, sameAcl, worldMayWrite } from './zookeeper-acl.ts';
import type { ZooKeeperClient } from './zookeeper-client.ts';
import { isZooKeeperError } from './zookeeper-error.ts';
import type { AppRef } from './zk-paths.ts';

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
