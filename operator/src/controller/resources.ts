import { GROUP, PLURAL, VERSION } from '../api/schema.ts';
import type { ResourceRef } from '../runtime/index.ts';
import { ControllerError } from './errors.ts';

/** The DistributedApp resource. */
export const DISTRIBUTED_APPS: ResourceRef = { group: GROUP, version: VERSION, plural: PLURAL };

/** The resource of each kind the operator creates, keyed by kind. */
export const OWNED_RESOURCES = {
  Secret: { group: '', version: 'v1', plural: 'secrets' },
  ConfigMap: { group: '', version: 'v1', plural: 'configmaps' },
  Service: { group: '', version: 'v1', plural: 'services' },
  NetworkPolicy: { group: 'networking.k8s.io', version: 'v1', plural: 'networkpolicies' },
  StatefulSet: { group: 'apps', version: 'v1', plural: 'statefulsets' },
  Deployment: { group: 'apps', version: 'v1', plural: 'deployments' },
  PodDisruptionBudget: { group: 'policy', version: 'v1', plural: 'poddisruptionbudgets' },
} as const satisfies Record<string, ResourceRef>;

/** A kind the operator creates. */
export type OwnedKind = keyof typeof OWNED_RESOURCES;

/** The resource of `kind`; throws `ERR_UNKNOWN_KIND` for a kind the operator does not manage. */
export function resourceOf(kind: string): ResourceRef {
  if (!Object.hasOwn(OWNED_RESOURCES, kind)) {
    throw new ControllerError('ERR_UNKNOWN_KIND', `the operator does not manage objects of kind ${kind}`);
  }
  return OWNED_RESOURCES[kind as OwnedKind];
}

/** The path of one namespaced object, e.g. `/apis/apps/v1/namespaces/ns/statefulsets/name`. */
export function objectPath(resource: ResourceRef, namespace: string, name: string): string {
  const base =
    resource.group === '' ? `/api/${resource.version}` : `/apis/${resource.group}/${resource.version}`;
  return `${base}/namespaces/${namespace}/${resource.plural}/${name}`;
}
