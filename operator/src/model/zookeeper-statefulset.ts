import type { V1Container, V1Probe, V1StatefulSet } from '@kubernetes/client-node';
import type { DistributedApp, ZooKeeperSpec } from '../api/schema.ts';
import { configChecksumAnnotation } from './checksum.ts';
import { selectorLabels, standardLabels } from './labels.ts';
import type { Desired } from './metadata.ts';
import { objectMeta } from './metadata.ts';
import { appNames, ZOOKEEPER_DATA_VOLUME } from './names.ts';
import type { Observed } from './observed.ts';
import { appIdentity } from './owner.ts';
import { basePodSpec, containerResources } from './pod-spec.ts';
import { PORTS } from './ports.ts';
import { containerSecurityContext, tmpMount, tmpVolume } from './security.ts';
import { ZOOKEEPER_CONFIG_FILE, ZOOKEEPER_DATA_DIR, zooKeeperFiles } from './zookeeper-config-map.ts';

const CONFIG_DIR = '/etc/zookeeper';
const LOG_DIR = '/logs';

/**
 * The member's start script: `myid` is the pod ordinal + 1 (from the StatefulSet host name `<set>-<ordinal>`),
 * then ZooKeeper runs in the foreground with the mounted `zoo.cfg`.
 */
const START_SCRIPT = [
  'set -e',
  'ordinal="${HOSTNAME##*-}"',
  `echo "$((ordinal + 1))" > ${ZOOKEEPER_DATA_DIR}/myid`,
  `exec zkServer.sh start-foreground ${CONFIG_DIR}/${ZOOKEEPER_CONFIG_FILE}`,
].join('\n');

/** `ruok` on the client port answers `imok` while the server runs without error. */
function ruokProbe(periodSeconds: number, failureThreshold: number): V1Probe {
  return {
    exec: {
      command: ['sh', '-c', `echo ruok | nc -w 2 127.0.0.1 ${PORTS.zookeeperClient} | grep -q imok`],
    },
    initialDelaySeconds: 5,
    periodSeconds,
    timeoutSeconds: 5,
    failureThreshold,
  };
}

function zooKeeperContainer(zookeeper: ZooKeeperSpec): V1Container {
  return {
    name: 'zookeeper',
    image: zookeeper.image,
    command: ['sh', '-c', START_SCRIPT],
    env: [
      { name: 'ZOO_LOG_DIR', value: LOG_DIR },
      // Leave the JVM room below the container memory limit, if any.
      { name: 'JVMFLAGS', value: '-XX:MaxRAMPercentage=60.0' },
    ],
    ports: [
      { name: 'client', containerPort: PORTS.zookeeperClient, protocol: 'TCP' },
      { name: 'quorum', containerPort: PORTS.zookeeperQuorum, protocol: 'TCP' },
      { name: 'election', containerPort: PORTS.zookeeperElection, protocol: 'TCP' },
    ],
    readinessProbe: ruokProbe(10, 3),
    // Exec probes start processes in the container: liveness checks rarely, giving up after 90 s as before.
    livenessProbe: ruokProbe(30, 3),
    resources: containerResources(zookeeper.resources),
    securityContext: containerSecurityContext(),
    volumeMounts: [
      { name: ZOOKEEPER_DATA_VOLUME, mountPath: ZOOKEEPER_DATA_DIR },
      { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
      { name: 'logs', mountPath: LOG_DIR },
      tmpMount(),
    ],
  };
}

/**
 * The ZooKeeper ensemble: one member per replica, each with a data volume claim, pods created in parallel
 * (members must see each other to form a quorum) and published in DNS before they are ready. Updates use
 * `OnDelete`: the reconciler restarts members itself (controller/zookeeper-roll.ts), one at a time, only while
 * every member is Ready: followers first and the leader last while their `srvr` answers show a quorum, highest
 * ordinal first when no member answers. The pod template carries the checksum of `zoo.cfg`.
 */
export function zooKeeperStatefulSet(
  app: DistributedApp,
  zookeeper: ZooKeeperSpec,
  observed: Observed,
): Desired<V1StatefulSet> {
  const names = appNames(appIdentity(app).name);
  const { storageClassName, size } = zookeeper.storage;
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: objectMeta(app, 'zookeeper', names.zookeeper, zookeeper.image),
    spec: {
      replicas: zookeeper.replicas,
      serviceName: names.zookeeperHeadless,
      podManagementPolicy: 'Parallel',
      updateStrategy: { type: 'OnDelete' },
      selector: { matchLabels: selectorLabels(app, 'zookeeper') },
      template: {
        metadata: {
          labels: standardLabels(app, 'zookeeper', zookeeper.image),
          annotations: configChecksumAnnotation(zooKeeperFiles(app, zookeeper, observed)),
        },
        spec: {
          ...basePodSpec(app, 'zookeeper'),
          terminationGracePeriodSeconds: 30,
          containers: [zooKeeperContainer(zookeeper)],
          volumes: [
            { name: 'config', configMap: { name: names.zookeeperConfig } },
            { name: 'logs', emptyDir: {} },
            tmpVolume(),
          ],
        },
      },
      volumeClaimTemplates: [
        {
          // Claim templates are immutable: only labels that never change (no version).
          metadata: { name: ZOOKEEPER_DATA_VOLUME, labels: selectorLabels(app, 'zookeeper') },
          spec: {
            accessModes: ['ReadWriteOnce'],
            ...(storageClassName === undefined ? {} : { storageClassName }),
            resources: { requests: { storage: String(size) } },
          },
        },
      ],
      persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
    },
  };
}
