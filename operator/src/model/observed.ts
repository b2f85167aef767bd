/**
 * What the reconciler observed or knows about the world, passed to every builder. Builders read nothing
 * else: no clock, environment or randomness.
 */

import type { AppCredentials } from '../../../common/src/zookeeper-acl.ts';

/** Pods of the operator, which may reach Redis and ZooKeeper through the NetworkPolicies. */
export interface OperatorPeer {
  /** Namespace the operator runs in (matched by its `kubernetes.io/metadata.name` label). */
  namespace: string;
  /** Labels of the operator pods. */
  podLabels: Record<string, string>;
}

/** The operator pods as the Helm chart labels them, used when `Observed.operator` is not given. */
export const DEFAULT_OPERATOR_PEER: OperatorPeer = {
  namespace: 'capstan-system',
  podLabels: { 'app.kubernetes.io/name': 'capstan-operator' },
};

/** Cluster DNS domain used when `Observed.clusterDomain` is not given. */
export const DEFAULT_CLUSTER_DOMAIN = 'cluster.local';

/** Inputs of the builders besides the app. */
export interface Observed {
  /**
   * The Redis password: generated once by the reconciler and afterwards read back from the existing Secret.
   * Required when the app runs an in-cluster Redis.
   */
  redisPassword?: string;
  /**
   * The app's ZooKeeper digest passwords (operator and workers): generated once by the reconciler and
   * afterwards read back from the existing Secret. Required.
   */
  zooKeeperCredentials?: AppCredentials;
  /**
   * Whether the Secret named by `spec.errorReporting.sentry.dsnSecretRef` exists. When false the workers get
   * no SENTRY_DSN (they start and report errors only to their logs); unknown (undefined) counts as present.
   */
  sentryDsnSecretExists?: boolean;
  /** The cluster's DNS domain; default `cluster.local`. HAProxy resolves fully qualified names only. */
  clusterDomain?: string;
  /** The operator's pods for the NetworkPolicies; default {@link DEFAULT_OPERATOR_PEER}. */
  operator?: OperatorPeer;
  /** The worker StatefulSet's size while a scale-down drains (see scale-down.ts); default `spec.workers.replicas`. */
  workerReplicas?: number;
}

/** The cluster DNS domain to use: `observed.clusterDomain` or {@link DEFAULT_CLUSTER_DOMAIN}. */
export function clusterDomain(observed: Observed): string {
  return observed.clusterDomain ?? DEFAULT_CLUSTER_DOMAIN;
}
