import type { V1ClusterRole, V1Role } from '@kubernetes/client-node';
import { LEADER_ELECTION_RULES, OPERATOR_RULES } from './rules.ts';

/** Names of the RBAC objects; the chart passes its release-derived names. */
export interface RbacNames {
  /** ClusterRole with `OPERATOR_RULES`. Default `capstan-operator`. */
  clusterRole?: string;
  /** Role with `LEADER_ELECTION_RULES`. Default `capstan-operator-leader-election`. */
  leaderElectionRole?: string;
  /** Namespace of the Role (the operator's). Unset: left for the installer to fill in. */
  namespace?: string;
}

/** The ClusterRole and the leader-election Role the operator needs, built from the one list of rules. */
export function rbacManifests(names: RbacNames = {}): [V1ClusterRole, V1Role] {
  const labels = { 'app.kubernetes.io/name': 'capstan-operator', 'app.kubernetes.io/part-of': 'capstan' };
  return [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: names.clusterRole ?? 'capstan-operator', labels },
      rules: OPERATOR_RULES.map((rule) => ({ ...rule })),
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: {
        name: names.leaderElectionRole ?? 'capstan-operator-leader-election',
        ...(names.namespace === undefined ? {} : { namespace: names.namespace }),
        labels,
      },
      rules: LEADER_ELECTION_RULES.map((rule) => ({ ...rule })),
    },
  ];
}
