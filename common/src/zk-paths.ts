/**
 * The ZooKeeper layout of one app (DESIGN section 4). Every path is built here and nowhere else:
 *
 *   /capstan/<namespace>/<app>/members/<worker>      ephemeral, written by each worker (address, ports as JSON)
 *   /capstan/<namespace>/<app>/assignment            persistent, written only by the rebalancer
 *   /capstan/<namespace>/<app>/owners/<partition>    ephemeral, created by the worker that serves it
 *   /capstan/<namespace>/<app>/leaving/<worker>      persistent, a worker's notice that it is leaving on purpose
 *                                                    (SIGTERM, scale-down): its partitions move without the delay
 */

/** Identifies one app's subtree. */
export interface AppRef {
  namespace: string;
  app: string;
}

const ROOT = '/capstan';

/** A single path segment: non-empty, no '/', not '.' or '..'. Throws otherwise. */
function segment(value: string, what: string): string {
  if (value === '' || value.includes('/') || value === '.' || value === '..' || value.includes('\0')) {
    throw new Error(`invalid ${what} for a ZooKeeper path: ${JSON.stringify(value)}`);
  }
  return value;
}

/** `/capstan` - the parent of every app. */
export function capstanRoot(): string {
  return ROOT;
}

/** `<parent>/<child>`: a child of a node by its name (as `children()` lists it), for walking a subtree. */
export function childPath(parent: string, child: string): string {
  return `${parent === '/' ? '' : parent}/${segment(child, 'child name')}`;
}

/** `/capstan/<namespace>/<app>` */
export function appRoot(ref: AppRef): string {
  return `${ROOT}/${segment(ref.namespace, 'namespace')}/${segment(ref.app, 'app')}`;
}

/** `/capstan/<namespace>/<app>/members` */
export function membersPath(ref: AppRef): string {
  return `${appRoot(ref)}/members`;
}

/** `/capstan/<namespace>/<app>/members/<worker>` */
export function memberPath(ref: AppRef, workerId: string): string {
  return `${membersPath(ref)}/${segment(workerId, 'worker id')}`;
}

/** `/capstan/<namespace>/<app>/assignment` */
export function assignmentPath(ref: AppRef): string {
  return `${appRoot(ref)}/assignment`;
}

/** `/capstan/<namespace>/<app>/owners` */
export function ownersPath(ref: AppRef): string {
  return `${appRoot(ref)}/owners`;
}

/** `/capstan/<namespace>/<app>/owners/<partition>` (decimal partition number). */
export function ownerPath(ref: AppRef, partition: number): string {
  if (!Number.isSafeInteger(partition) || partition < 0) throw new Error(`invalid partition: ${partition}`);
  return `${ownersPath(ref)}/${partition}`;
}

/** `/capstan/<namespace>/<app>/leaving` */
export function leavingPath(ref: AppRef): string {
  return `${appRoot(ref)}/leaving`;
}

/** `/capstan/<namespace>/<app>/leaving/<worker>`: written by a worker before it deregisters on purpose. */
export function leavingNoticePath(ref: AppRef, workerId: string): string {
  return `${leavingPath(ref)}/${segment(workerId, 'worker id')}`;
}
