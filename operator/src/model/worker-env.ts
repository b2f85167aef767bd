import type { V1EnvVar } from '@kubernetes/client-node';
import type { DistributedApp, EnvVar } from '../api/schema.ts';
import { appNames, serviceDnsName } from './names.ts';
import { clusterDomain } from './observed.ts';
import type { Observed } from './observed.ts';
import { appIdentity } from './owner.ts';
import { PORTS } from './ports.ts';
import { REDIS_PASSWORD_KEY } from './redis-secret.ts';
import { redisUrl } from './redis-service.ts';
import { zooKeeperConnect } from './zookeeper-config-map.ts';
import { ZOOKEEPER_SECRET_KEYS } from './zookeeper-secret.ts';

/** The Redis password variable: from the generated Secret, from the external one, or none. */
function redisPasswordEnv(app: DistributedApp): V1EnvVar[] {
  const { redis, external } = app.spec.cache;
  const ref =
    redis !== undefined
      ? { name: appNames(appIdentity(app).name).redisAuth, key: REDIS_PASSWORD_KEY }
      : external?.passwordSecretRef;
  return ref === undefined
    ? []
    : [{ name: 'CAPSTAN_REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: ref.name, key: ref.key } } }];
}

/** The workers' ZooKeeper identity: their password and the operator's digest id, from the app's Secret. */
function zooKeeperAccessEnv(app: DistributedApp): V1EnvVar[] {
  const name = appNames(appIdentity(app).name).zookeeperAuth;
  const fromSecret = (key: string): V1EnvVar['valueFrom'] => ({ secretKeyRef: { name, key } });
  return [
    { name: 'CAPSTAN_ZOOKEEPER_PASSWORD', valueFrom: fromSecret(ZOOKEEPER_SECRET_KEYS.workerPassword) },
    { name: 'CAPSTAN_ZOOKEEPER_OPERATOR_ID', valueFrom: fromSecret(ZOOKEEPER_SECRET_KEYS.operatorId) },
  ];
}

/** Where the app's ZooKeeper is and the workers' identity there (also used by HAProxy's owner-map process). */
export function zooKeeperClientEnv(app: DistributedApp, observed: Observed): V1EnvVar[] {
  return [
    { name: 'CAPSTAN_ZOOKEEPER_CONNECT', value: zooKeeperConnect(app, observed) },
    ...zooKeeperAccessEnv(app),
  ];
}

/** Sentry settings; the DSN only while its Secret exists (see `Observed.sentryDsnSecretExists`). */
function sentryEnv(app: DistributedApp, observed: Observed): V1EnvVar[] {
  const sentry = app.spec.errorReporting?.sentry;
  if (sentry === undefined || observed.sentryDsnSecretExists === false) return [];
  const { name, key } = sentry.dsnSecretRef;
  return [
    { name: 'SENTRY_DSN', valueFrom: { secretKeyRef: { name, key } } },
    { name: 'SENTRY_ENVIRONMENT', value: sentry.environment },
    { name: 'SENTRY_SAMPLE_RATE', value: String(sentry.sampleRate) },
  ];
}

/** The user's extra variables, in the shape of a container's env. */
function userEnv(env: readonly EnvVar[] | undefined): V1EnvVar[] {
  return (env ?? []).map((variable) => {
    const ref = variable.valueFrom?.secretKeyRef;
    if (ref !== undefined) {
      return { name: variable.name, valueFrom: { secretKeyRef: { name: ref.name, key: ref.key } } };
    }
    return { name: variable.name, value: variable.value ?? '' };
  });
}

/**
 * The worker container's environment, in the variable names the worker reads: its identity (the pod name,
 * also in its advertised address on the headless Service), the app, partitions, port, the ZooKeeper
 * connect string and the workers' ZooKeeper credentials (from the app's Secret), the Redis URL and password (from a Secret), the upstream, Sentry (DSN from the
 * referenced Secret), then the user's own variables (which cannot use the reserved CAPSTAN_ prefix).
 */
export function workerEnv(app: DistributedApp, observed: Observed): V1EnvVar[] {
  const { name, namespace } = appIdentity(app);
  const workers = app.spec.workers;
  const headless = serviceDnsName(appNames(name).workersHeadless, namespace, clusterDomain(observed));
  return [
    { name: 'CAPSTAN_WORKER_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    // With a count kept on the pod's /tmp emptyDir, a restarted worker proves its previous life dead.
    { name: 'CAPSTAN_POD_UID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
    { name: 'CAPSTAN_INCARNATION_FILE', value: '/tmp/capstan-incarnation' },
    // Node's compiled-code cache on the same emptyDir: a restarted container skips recompiling its modules.
    { name: 'NODE_COMPILE_CACHE', value: '/tmp/node-compile-cache' },
    { name: 'CAPSTAN_NAMESPACE', value: namespace },
    { name: 'CAPSTAN_APP_NAME', value: name },
    { name: 'CAPSTAN_APP', value: workers.app },
    { name: 'CAPSTAN_PARTITIONS', value: String(workers.partitions) },
    { name: 'CAPSTAN_PORT', value: String(PORTS.worker) },
    // $(CAPSTAN_WORKER_ID) is expanded by the kubelet from the variable above.
    { name: 'CAPSTAN_ADVERTISE_ADDRESS', value: `http://$(CAPSTAN_WORKER_ID).${headless}:${PORTS.worker}` },
    ...zooKeeperClientEnv(app, observed),
    { name: 'CAPSTAN_REDIS_URL', value: redisUrl(app, observed) },
    ...redisPasswordEnv(app),
    ...(workers.upstream === undefined ? [] : [{ name: 'CAPSTAN_UPSTREAM', value: workers.upstream }]),
    ...sentryEnv(app, observed),
    ...userEnv(workers.env),
  ];
}
