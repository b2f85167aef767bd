import type { V1PolicyRule } from '@kubernetes/client-node';

/**
 * Every permission the operator needs, in one place. The chart's ClusterRole, the generated
 * `config/rbac/role.yaml` and the tests that run the operator under a ServiceAccount all use
 * this list, so a missing permission fails a test instead of a user's install.
 */
export const OPERATOR_RULES: readonly V1PolicyRule[] = [
  {
    apiGroups: ['capstan.dev'],
    resources: ['distributedapps'],
    verbs: ['get', 'list', 'watch', 'update', 'patch'],
  },
  { apiGroups: ['capstan.dev'], resources: ['distributedapps/status'], verbs: ['get', 'update', 'patch'] },
  { apiGroups: ['capstan.dev'], resources: ['distributedapps/finalizers'], verbs: ['update'] },
  {
    apiGroups: ['apps'],
    resources: ['statefulsets', 'deployments'],
    verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
  },
  {
    apiGroups: [''],
    resources: ['services', 'configmaps', 'secrets'],
    verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
  },
  // Pods are read for readiness and crash loops, and deleted to remediate them.
  { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch', 'delete'] },
  { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: ['', 'events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
  // The dashboard lists an app's Events, and checks a reader's bearer token (TokenReview) and permission
  // (SubjectAccessReview) as kube-rbac-proxy does.
  { apiGroups: [''], resources: ['events'], verbs: ['list'] },
  { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
  { apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create'] },
  {
    apiGroups: ['policy'],
    resources: ['poddisruptionbudgets'],
    verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
  },
  {
    apiGroups: ['networking.k8s.io'],
    resources: ['networkpolicies'],
    verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
  },
];

/** Leader election needs only its Lease, in the operator's own namespace (a Role, not a ClusterRole). */
export const LEADER_ELECTION_RULES: readonly V1PolicyRule[] = [
  {
    apiGroups: ['coordination.k8s.io'],
    resources: ['leases'],
    verbs: ['get', 'list', 'watch', 'create', 'update', 'patch'],
  },
  { apiGroups: ['', 'events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
];
