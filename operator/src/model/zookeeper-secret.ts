import type { V1Secret } from '@kubernetes/client-node';
import { digestId, OPERATOR_USER } from '../../../common/src/zookeeper-acl.ts';
import type { DistributedApp } from '../api/schema.ts';
import type { Desired } from './metadata.ts';
import { objectMeta } from './metadata.ts';
import { ModelInputError } from './model-error.ts';
import { appNames } from './names.ts';
import type { Observed } from './observed.ts';
import { appIdentity } from './owner.ts';

/** Keys of the ZooKeeper Secret: both passwords, and the operator's digest id (which the workers put in their nodes' ACLs). */
export const ZOOKEEPER_SECRET_KEYS = {
  operatorPassword: 'operator-password',
  workerPassword: 'worker-password',
  operatorId: 'operator-id',
} as const;

function base64(value: string): string {
  return Buffer.from(value, 'utf8').toString('base64');
}

/**
 * The Secret with the app's ZooKeeper digest credentials (see common/src/zookeeper-acl.ts), for an
 * in-cluster or an external ensemble alike. The passwords are an input (`observed.zooKeeperCredentials`):
 * generated once by the reconciler and afterwards read back, so the Secret is never rewritten; it is
 * immutable. The workers get only the worker password and the operator's id. Throws
 * {@link ModelInputError} without credentials.
 */
export function zooKeeperSecret(app: DistributedApp, observed: Observed): Desired<V1Secret> {
  const credentials = observed.zooKeeperCredentials;
  if (credentials === undefined || credentials.operatorPassword === '' || credentials.workerPassword === '') {
    throw new ModelInputError(
      'observed.zooKeeperCredentials',
      'the app needs its generated ZooKeeper credentials',
    );
  }
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    // Versioned like the in-cluster ensemble, or like the workers that use an external one.
    metadata: objectMeta(
      app,
      'zookeeper',
      appNames(appIdentity(app).name).zookeeperAuth,
      app.spec.coordination.zookeeper?.image ?? app.spec.workers.image,
    ),
    type: 'Opaque',
    immutable: true,
    data: {
      [ZOOKEEPER_SECRET_KEYS.operatorPassword]: base64(credentials.operatorPassword),
      [ZOOKEEPER_SECRET_KEYS.workerPassword]: base64(credentials.workerPassword),
      [ZOOKEEPER_SECRET_KEYS.operatorId]: base64(digestId(OPERATOR_USER, credentials.operatorPassword)),
    },
  };
}
