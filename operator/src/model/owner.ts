import type { V1OwnerReference } from '@kubernetes/client-node';
import { API_VERSION, KIND } from '../api/schema.ts';
import type { DistributedApp } from '../api/schema.ts';
import { ModelInputError } from './model-error.ts';

/** The name, namespace and uid of an app as stored by the apiserver. */
export interface AppIdentity {
  name: string;
  namespace: string;
  uid: string;
}

/** The app's name, namespace and uid; throws {@link ModelInputError} when one is missing. */
export function appIdentity(app: DistributedApp): AppIdentity {
  const { name, namespace, uid } = app.metadata;
  if (!name) throw new ModelInputError('metadata.name', 'the app has no name');
  if (!namespace) throw new ModelInputError('metadata.namespace', 'the app has no namespace');
  if (!uid) throw new ModelInputError('metadata.uid', 'the app has no uid (read it from the apiserver)');
  return { name, namespace, uid };
}

/**
 * The controller owner reference to `app`: garbage collection deletes the object with the app, and
 * `blockOwnerDeletion` keeps a foreground deletion of the app waiting for it.
 */
export function controllerReference(app: DistributedApp): V1OwnerReference {
  const { name, uid } = appIdentity(app);
  return { apiVersion: API_VERSION, kind: KIND, name, uid, controller: true, blockOwnerDeletion: true };
}
