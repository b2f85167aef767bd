/** ZooKeeper-side helpers of the coordination tests: fake workers, the assignment, the server's connections. */
import { decodeAssignment, type AssignmentRecord } from '../../../../common/src/assignment-record.ts';
import { PartitionOwnership } from '../../../../common/src/partition-ownership.ts';
import type { V1Secret } from '@kubernetes/client-node';
import {
  digestId,
  operatorAccess,
  OPERATOR_USER,
  workerAccess,
  type ClientAccess,
} from '../../../../common/src/zookeeper-acl.ts';
import { credentialsOf } from '../../../../operator/src/controller/generated-secrets.ts';
import { waitFor } from '../../../harness/kube.ts';
import { getJson } from '../controller/helpers.ts';
import { connect, type ZooKeeperClient } from '../../../../common/src/zookeeper-client.ts';
import {
  assignmentPath,
  memberPath,
  membersPath,
  ownerPath,
  type AppRef,
} from '../../../../common/src/zk-paths.ts';
import { LOOPBACK, tcpExchange } from '../../../../workload/src/local/index.ts';
import type { ZooKeeperService } from '../../../../workload/src/local/index.ts';

/** A worker as far as ZooKeeper is concerned: its own session, registered through the workers' own code. */
export interface FakeWorker {
  readonly id: string;
  readonly client: ZooKeeperClient;
  readonly ownership: PartitionOwnership;
}

/**
 * Registers `members/<id>` (and serves what it is assigned) exactly as a worker process does; with
 * `access`, as the app's workers (see {@link appAccess}).
 */
export async function startWorker(
  zk: ZooKeeperService,
  ref: AppRef,
  id: string,
  access?: ClientAccess,
): Promise<FakeWorker> {
  const client = await connect({ connectString: zk.connectString, sessionTimeoutMs: 4_000, ...access });
  const ownership = new PartitionOwnership({ ...ref, client, workerId: id, member: { address: `${id}:80` } });
  await ownership.start();
  return { id, client, ownership };
}

/** How the app's operator and its workers connect, from the app's Secret once the reconciler created it. */
export async function appAccess(ref: AppRef): Promise<{ operator: ClientAccess; worker: ClientAccess }> {
  const secret = await waitFor('the app’s ZooKeeper credentials', () =>
    getJson<V1Secret>('secret', `${ref.app}-zookeeper-auth`, ref.namespace),
  );
  const credentials = credentialsOf(secret);
  if (credentials === undefined) throw new Error(`Secret ${ref.app}-zookeeper-auth holds no credentials`);
  const operatorId = digestId(OPERATOR_USER, credentials.operatorPassword);
  return {
    operator: operatorAccess(credentials),
    worker: workerAccess(credentials.workerPassword, operatorId),
  };
}

/** The app's assignment, or undefined while there is none. */
export async function readAssignment(
  client: ZooKeeperClient,
  ref: AppRef,
): Promise<AssignmentRecord | undefined> {
  const stat = await client.exists(assignmentPath(ref));
  return stat === undefined ? undefined : decodeAssignment((await client.get(assignmentPath(ref))).data);
}

/** Partitions per owner. */
export function counts(record: AssignmentRecord): Map<string | undefined, number> {
  const result = new Map<string | undefined, number>();
  for (const entry of record.partitions) result.set(entry.owner, (result.get(entry.owner) ?? 0) + 1);
  return result;
}

/** Every one of `partitions` owned by one of `workers`, each of them owning some, max - min <= 1. */
export function balancedOver(
  record: AssignmentRecord | undefined,
  partitions: number,
  workers: readonly string[],
): boolean {
  if (record?.partitions.length !== partitions) return false;
  const perOwner = counts(record);
  if (![...perOwner.keys()].every((owner) => owner !== undefined && workers.includes(owner))) return false;
  const sizes = workers.map((w) => perOwner.get(w) ?? 0);
  return Math.min(...sizes) > 0 && Math.max(...sizes) - Math.min(...sizes) <= 1;
}

/** Client connections the (standalone) server holds now, from `mntr`. */
export async function aliveConnections(zk: ZooKeeperService): Promise<number> {
  const member = zk.members[0]!;
  const text = await tcpExchange(LOOPBACK, member.port, 'mntr');
  const match = /^zk_num_alive_connections\s+(\d+)$/m.exec(text);
  if (match === null) throw new Error(`mntr without zk_num_alive_connections: ${text.slice(0, 200)}`);
  return Number(match[1]);
}

/**
 * A worker session that registers and then does nothing more (a frozen or dead process whose session
 * lives on until `sessionTimeoutMs`); {@link claimAssigned} makes it hold what it was assigned.
 */
export async function startSilentWorker(
  zk: ZooKeeperService,
  ref: AppRef,
  id: string,
  sessionTimeoutMs: number,
): Promise<ZooKeeperClient> {
  const client = await connect({ connectString: zk.connectString, sessionTimeoutMs });
  await client.mkdirp(membersPath(ref));
  await client.create(memberPath(ref, id), JSON.stringify({ address: `${id}:80` }), 'ephemeral');
  return client;
}

/** Creates `owners/<p>` for every partition assigned to `id`, as a worker claiming them would; returns them. */
export async function claimAssigned(client: ZooKeeperClient, ref: AppRef, id: string): Promise<number[]> {
  const record = await readAssignment(client, ref);
  const mine = (record?.partitions ?? []).flatMap((e, p) => (e.owner === id ? [{ p, epoch: e.epoch }] : []));
  for (const { p, epoch } of mine) {
    await client.create(ownerPath(ref, p), JSON.stringify({ workerId: id, epoch }), 'ephemeral');
  }
  return mine.map(({ p }) => p);
}
