/**
 * What one app's coordinator runs with, derived from the DistributedApp (pure): the ZooKeeper
 * connect string the workers get, the partition count, the departure delay and the worker count, plus the
 * app's ZooKeeper credentials from its Secret. Two specs that are
 * {@link sameSpec} need no restart of the coordinator.
 */
import type { AppCredentials } from '../../../common/src/zookeeper-acl.ts';
import type { DistributedApp } from '../api/schema.ts';
import type { Observed } from '../model/observed.ts';
import { appNames, podName } from '../model/names.ts';
import { zooKeeperConnect } from '../model/zookeeper-config-map.ts';

/** One app's coordination settings; `namespace` and `app` name its ZooKeeper subtree. */
export interface CoordinatorSpec {
  readonly namespace: string;
  readonly app: string;
  /** As the workers get it (`CAPSTAN_ZOOKEEPER_CONNECT`): in-cluster members by DNS name, or the external one. */
  readonly connectString: string;
  /** The in-cluster ensemble's member pods, in member order (what a tunnel forwards to); none for an external one. */
  readonly members?: readonly string[];
  /** `spec.workers.partitions`. */
  readonly partitions: number;
  /** `spec.failurePolicy.rebalanceDelaySeconds` in milliseconds. */
  readonly departureDelayMs: number;
  /** `spec.workers.replicas`: workers of a higher ordinal are drained (own nothing) before they stop. */
  readonly replicas: number;
  /**
   * The app's ZooKeeper credentials (its Secret): the coordinator authenticates as the app's operator and
   * keeps the subtree's ACLs (common/src/zookeeper-acl.ts). Without them nodes are open to the world.
   */
  readonly credentials?: AppCredentials;
}

/** The app's ZooKeeper credentials, or undefined while its Secret does not hold them yet. */
export type CredentialSource = (ref: {
  readonly namespace: string;
  readonly app: string;
}) => AppCredentials | undefined;

/** `namespace/app`, the key of a coordinator. */
export function coordinatorKey(ref: { readonly namespace: string; readonly app: string }): string {
  return `${ref.namespace}/${ref.app}`;
}

/** The app's namespace and name while it is live (stored, not being deleted); else undefined. */
function liveRef(app: DistributedApp): { namespace: string; app: string } | undefined {
  const { name, namespace, uid, deletionTimestamp } = app.metadata;
  return name && namespace && uid && deletionTimestamp === undefined ? { namespace, app: name } : undefined;
}

/**
 * The coordinator `app` needs, or undefined when it needs none: being deleted, or without a name,
 * namespace, uid, connect string or partitions (an object the apiserver would not have stored).
 */
export function coordinatorSpec(app: DistributedApp, observed: Observed): CoordinatorSpec | undefined {
  const ref = liveRef(app);
  const partitions = app.spec?.workers?.partitions;
  if (ref === undefined || app.spec?.coordination === undefined || !(partitions >= 1)) return undefined;
  const connectString = zooKeeperConnect(app, observed);
  if (connectString === '') return undefined;
  const delaySeconds = app.spec.failurePolicy?.rebalanceDelaySeconds ?? 0;
  const replicas = app.spec.workers.replicas;
  const ensemble = app.spec.coordination.zookeeper;
  const set = appNames(ref.app).zookeeper;
  const members =
    ensemble === undefined
      ? {}
      : { members: Array.from({ length: ensemble.replicas }, (_, i) => podName(set, i)) };
  return { ...ref, connectString, ...members, partitions, departureDelayMs: delaySeconds * 1000, replicas };
}

/** True when a coordinator running `a` can keep running for `b`. */
export function sameSpec(a: CoordinatorSpec, b: CoordinatorSpec): boolean {
  return (
    a.namespace === b.namespace &&
    a.app === b.app &&
    a.connectString === b.connectString &&
    a.partitions === b.partitions &&
    a.departureDelayMs === b.departureDelayMs &&
    a.replicas === b.replicas &&
    a.credentials?.operatorPassword === b.credentials?.operatorPassword &&
    a.credentials?.workerPassword === b.credentials?.workerPassword
  );
}
