/** Deletes one pod through the API with a uid precondition, so a successor of the same name is never hit. */
import type { KubeConfig } from '@kubernetes/client-node';
import { send, statusMessage } from './api-client.ts';
import { ControllerError } from './errors.ts';

/** A function deleting pod `namespace/name` if its uid is still `uid`; gone (404) or replaced (409) is success. */
export function deletePodFunc(
  kc: KubeConfig,
): (namespace: string, name: string, uid: string, options?: { force?: boolean }) => Promise<void> {
  return async (namespace, name, uid, options = {}) => {
    const response = await send(kc, {
      method: 'DELETE',
      path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`,
      body: {
        apiVersion: 'v1',
        kind: 'DeleteOptions',
        preconditions: { uid },
        // Forced: removed from the API at once, without the kubelet's confirmation (`--grace-period=0 --force`).
        ...(options.force ? { gracePeriodSeconds: 0 } : {}),
      },
    });
    if (response.status < 300 || response.status === 404 || response.status === 409) return;
    throw new ControllerError(
      'ERR_DELETE_POD',
      `deleting pod ${namespace}/${name}: ${statusMessage(response)}`,
    );
  };
}
