/**
 * Digest ACLs of one app's ZooKeeper subtree (DESIGN sections 4 and 9). Each app has two digest
 * identities, each with a generated password kept in the app's Secret: the operator, which alone writes
 * the assignment, and the app's workers, which create their members/owners/leaving nodes.
 *
 *   node                                     operator   workers              world
 *   /capstan, /capstan/<namespace>           all        -                    read, create, delete
 *   <app root>, assignment                   all        read                 -
 *   members, owners, leaving                 all        read, create, delete -
 *   nodes a worker creates (its ephemerals)  all        all                  -
 *   nodes the operator creates               all        read                 -
 *
 * The two shared parents let anyone add or remove a child (ZooKeeper only deletes an empty node), so apps
 * sharing an external ensemble can each create and remove their own root; their data and ACLs stay
 * unchangeable without the identity that created them, and nothing under an app's root can be read or
 * changed without that app's credentials. Nothing grants the world `write` or `admin`.
 */
import { createHash } from 'node:crypto';
import {
  appRoot,
  assignmentPath,
  capstanRoot,
  leavingPath,
  membersPath,
  ownersPath,
  type AppRef,
} from './zk-paths.ts';

/** ZooKeeper's permissions (`admin` is the right to change a node's ACL). */
export type ZooKeeperPermission = 'read' | 'write' | 'create' | 'delete' | 'admin';

/** Every permission. */
export const ALL: readonly ZooKeeperPermission[] = ['read', 'write', 'create', 'delete', 'admin'];

/** One entry of a node's ACL: `world:anyone` or a digest id (`user:base64(sha1(user:password))`). */
export interface ZooKeeperAcl {
  readonly scheme: 'world' | 'digest';
  readonly id: string;
  readonly perms: readonly ZooKeeperPermission[];
}

/** The digest user of an app's operator. */
export const OPERATOR_USER = 'capstan-operator';
/** The digest user of an app's workers. */
export const WORKER_USER = 'capstan-worker';

/** The digest id ZooKeeper computes for `user:password` (base64 of SHA-1). */
export function digestId(user: string, password: string): string {
  return `${user}:${createHash('sha1').update(`${user}:${password}`).digest('base64')}`;
}

/** The generated passwords of one app. */
export interface AppCredentials {
  readonly operatorPassword: string;
  readonly workerPassword: string;
}

/** What a client connects with: whom it authenticates as and the ACL of the nodes it creates. */
export interface ClientAccess {
  readonly auth: { readonly user: string; readonly password: string };
  readonly acl: readonly ZooKeeperAcl[];
}

function digest(id: string, perms: readonly ZooKeeperPermission[]): ZooKeeperAcl {
  return { scheme: 'digest', id, perms };
}

/** The operator's client: authenticates as the operator; its nodes are the operator's, readable by the workers. */
export function operatorAccess(credentials: AppCredentials): ClientAccess {
  return {
    auth: { user: OPERATOR_USER, password: credentials.operatorPassword },
    acl: [
      digest(digestId(OPERATOR_USER, credentials.operatorPassword), ALL),
      digest(digestId(WORKER_USER, credentials.workerPassword), ['read']),
    ],
  };
}

/**
 * A worker's client: authenticates as the app's workers; its nodes are the workers' and the operator's
 * (`operatorId`, the operator's digest id, so the operator can read and remove them).
 */
export function workerAccess(workerPassword: string, operatorId: string): ClientAccess {
  return {
    auth: { user: WORKER_USER, password: workerPassword },
    acl: [digest(digestId(WORKER_USER, workerPassword), ALL), digest(operatorId, ALL)],
  };
}

/** One node of the app's tree and the ACL it must have. */
export interface TreeNode {
  readonly path: string;
  readonly acl: readonly ZooKeeperAcl[];
  /** Shared with other apps: its ACL is only tightened when the world may do more than the table says. */
  readonly shared: boolean;
  /** Created when missing; the assignment is not (the rebalancer creates it with its first record). */
  readonly create: boolean;
}

/** The persistent nodes of the app's tree in creation order, each with its ACL (the table above). */
export function appTree(ref: AppRef, credentials: AppCredentials): TreeNode[] {
  const operator = digest(digestId(OPERATOR_USER, credentials.operatorPassword), ALL);
  const worker = digestId(WORKER_USER, credentials.workerPassword);
  const parents: ZooKeeperAcl[] = [
    operator,
    { scheme: 'world', id: 'anyone', perms: ['read', 'create', 'delete'] },
  ];
  const own = [operator, digest(worker, ['read'])];
  const directory = [operator, digest(worker, ['read', 'create', 'delete'])];
  const root = appRoot(ref);
  return [
    { path: capstanRoot(), acl: parents, shared: true, create: true },
    { path: root.slice(0, root.lastIndexOf('/')), acl: parents, shared: true, create: true },
    { path: root, acl: own, shared: false, create: true },
    { path: assignmentPath(ref), acl: own, shared: false, create: false },
    { path: membersPath(ref), acl: directory, shared: false, create: true },
    { path: ownersPath(ref), acl: directory, shared: false, create: true },
    { path: leavingPath(ref), acl: directory, shared: false, create: true },
  ];
}

function key(acl: readonly ZooKeeperAcl[]): string {
  return acl
    .map((e) => `${e.scheme}:${e.id}:${ALL.filter((p) => e.perms.includes(p)).join(',')}`)
    .sort()
    .join(' ');
}

/** Whether two ACLs grant the same permissions to the same ids. */
export function sameAcl(a: readonly ZooKeeperAcl[], b: readonly ZooKeeperAcl[]): boolean {
  return key(a) === key(b);
}

/** Whether `acl` lets the world do more than read, create and delete children (an open, pre-ACL node). */
export function worldMayWrite(acl: readonly ZooKeeperAcl[]): boolean {
  return acl.some((e) => e.scheme === 'world' && (e.perms.includes('write') || e.perms.includes('admin')));
}
