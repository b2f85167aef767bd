import type { V1ConfigMap } from '@kubernetes/client-node';
import { renderZooKeeperConfig, zooKeeperConnectString } from '../../../common/src/zookeeper-config.ts';
import type { DistributedApp, ZooKeeperSpec } from '../api/schema.ts';
import type { Desired } from './metadata.ts';
import { objectMeta } from './metadata.ts';
import { appNames, podDnsName, podName } from './names.ts';
import { clusterDomain } from './observed.ts';
import type { Observed } from './observed.ts';
import { appIdentity } from './owner.ts';
import { PORTS } from './ports.ts';

/** Where each member keeps its data (the volume claim) and `myid`. */
export const ZOOKEEPER_DATA_DIR = '/data';

/** Key of `zoo.cfg` in the ConfigMap. */
export const ZOOKEEPER_CONFIG_FILE = 'zoo.cfg';

/** Stable DNS names of the members of the app's in-cluster ensemble, ordinal 0 first. */
export function zooKeeperHosts(app: DistributedApp, zookeeper: ZooKeeperSpec, observed: Observed): string[] {
  const { name, namespace } = appIdentity(app);
  const names = appNames(name);
  return Array.from({ length: zookeeper.replicas }, (_, ordinal) =>
    podDnsName(
      podName(names.zookeeper, ordinal),
      names.zookeeperHeadless,
      namespace,
      clusterDomain(observed),
    ),
  );
}

/**
 * The ZooKeeper connect string the workers use: the members of the in-cluster ensemble, or the external
 * connect string passed through unchanged.
 */
export function zooKeeperConnect(app: DistributedApp, observed: Observed): string {
  const { zookeeper, external } = app.spec.coordination;
  if (zookeeper === undefined) return external?.connectString ?? '';
  return zooKeeperConnectString(zooKeeperHosts(app, zookeeper, observed), PORTS.zookeeperClient);
}

/**
 * The rendered config files of the in-cluster ensemble: `zoo.cfg` naming member `ordinal + 1` by its stable
 * DNS name, with `ruok`, `srvr` and `mntr` allowed. The same text for every member (each pod writes its
 * own `myid` from its ordinal).
 */
export function zooKeeperFiles(
  app: DistributedApp,
  zookeeper: ZooKeeperSpec,
  observed: Observed,
): Record<string, string> {
  const members = zooKeeperHosts(app, zookeeper, observed).map((host, ordinal) => ({
    id: ordinal + 1,
    host,
    quorumPort: PORTS.zookeeperQuorum,
    electionPort: PORTS.zookeeperElection,
  }));
  const config = renderZooKeeperConfig({
    dataDir: ZOOKEEPER_DATA_DIR,
    clientPort: PORTS.zookeeperClient,
    members,
    fourLetterWords: ['ruok', 'srvr', 'mntr'],
    quorumListenOnAllIPs: true,
  });
  return { [ZOOKEEPER_CONFIG_FILE]: config };
}

/** The ConfigMap holding `zoo.cfg` of the in-cluster ensemble. */
export function zooKeeperConfigMap(
  app: DistributedApp,
  zookeeper: ZooKeeperSpec,
  observed: Observed,
): Desired<V1ConfigMap> {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: objectMeta(app, 'zookeeper', appNames(appIdentity(app).name).zookeeperConfig, zookeeper.image),
    data: zooKeeperFiles(app, zookeeper, observed),
  };
}
