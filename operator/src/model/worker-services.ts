import type { V1Service } from '@kubernetes/client-node';
import type { DistributedApp } from '../api/schema.ts';
import { selectorLabels } from './labels.ts';
import type { Desired } from './metadata.ts';
import { objectMeta } from './metadata.ts';
import { appNames } from './names.ts';
import { appIdentity } from './owner.ts';
import { PORTS } from './ports.ts';

/**
 * The workers' headless Service: each worker's stable DNS name for worker-to-worker RPC, and the records
 * HAProxy discovers workers from. Workers are published before they are ready so a restarting worker keeps
 * its name; HAProxy health-checks `/readyz` itself.
 */
export function workersHeadlessService(app: DistributedApp): Desired<V1Service> {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: objectMeta(
      app,
      'workers',
      appNames(appIdentity(app).name).workersHeadless,
      app.spec.workers.image,
    ),
    spec: {
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: selectorLabels(app, 'workers'),
      ports: [{ name: 'http', port: PORTS.worker, targetPort: 'http', protocol: 'TCP' }],
    },
  };
}
