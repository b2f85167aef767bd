import type { V1Service } from '@kubernetes/client-node';
import type { DistributedApp, ZooKeeperSpec } from '../api/schema.ts';
import { selectorLabels } from './labels.ts';
import type { Desired } from './metadata.ts';
import { objectMeta } from './metadata.ts';
import { appNames } from './names.ts';
import { appIdentity } from './owner.ts';
import { PORTS } from './ports.ts';

/**
 * The headless Service that gives each member its stable DNS name. Members are published before they are
 * ready: they must reach each other to form the quorum that makes them ready.
 */
export function zooKeeperHeadlessService(app: DistributedApp, zookeeper: ZooKeeperSpec): Desired<V1Service> {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: objectMeta(
      app,
      'zookeeper',
      appNames(appIdentity(app).name).zookeeperHeadless,
      zookeeper.image,
    ),
    spec: {
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: selectorLabels(app, 'zookeeper'),
      ports: [
        { name: 'client', port: PORTS.zookeeperClient, targetPort: 'client', protocol: 'TCP' },
        { name: 'quorum', port: PORTS.zookeeperQuorum, targetPort: 'quorum', protocol: 'TCP' },
        { name: 'election', port: PORTS.zookeeperElection, targetPort: 'election', protocol: 'TCP' },
      ],
    },
  };
}

/** The client Service: one stable address for the ready members' client port. */
export function zooKeeperClientService(app: DistributedApp, zookeeper: ZooKeeperSpec): Desired<V1Service> {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: objectMeta(app, 'zookeeper', appNames(appIdentity(app).name).zookeeper, zookeeper.image),
    spec: {
      type: 'ClusterIP',
      selector: selectorLabels(app, 'zookeeper'),
      ports: [{ name: 'client', port: PORTS.zookeeperClient, targetPort: 'client', protocol: 'TCP' }],
    },
  };
}
