import type { V1Container, V1StatefulSet } from '@kubernetes/client-node';
import type { DistributedApp } from '../api/schema.ts';
import { RESTARTED_AT_ANNOTATION } from './checksum.ts';
import { selectorLabels, standardLabels } from './labels.ts';
import type { Desired } from './metadata.ts';
import { objectMeta } from './metadata.ts';
import { appNames } from './names.ts';
import type { Observed } from './observed.ts';
import { appIdentity } from './owner.ts';
import { basePodSpec, containerResources } from './pod-spec.ts';
import { PORTS } from './ports.ts';
import { containerSecurityContext, tmpMount, tmpVolume } from './security.ts';
import { workerEnv } from './worker-env.ts';

/** Seconds a worker has to drain after SIGTERM (the worker's own drain timeout is 25 s). */
const TERMINATION_GRACE_SECONDS = 30;

function workerContainer(app: DistributedApp, observed: Observed): V1Container {
  const workers = app.spec.workers;
  return {
    name: 'worker',
    image: workers.image,
    command: ['node', 'workload/src/main.js'],
    env: workerEnv(app, observed),
    ports: [{ name: 'http', containerPort: PORTS.worker, protocol: 'TCP' }],
    startupProbe: {
      httpGet: { path: '/healthz', port: 'http' },
      periodSeconds: 2,
      failureThreshold: 30,
    },
    livenessProbe: {
      httpGet: { path: '/healthz', port: 'http' },
      periodSeconds: 10,
      timeoutSeconds: 3,
      failureThreshold: 3,
    },
    readinessProbe: {
      httpGet: { path: '/readyz', port: 'http' },
      periodSeconds: 2,
      timeoutSeconds: 2,
      failureThreshold: 2,
    },
    resources: containerResources(workers.resources),
    securityContext: containerSecurityContext(),
    volumeMounts: [tmpMount()],
  };
}

/** Pod-template annotations of the workers: `capstan.dev/restartedAt` copied from the app, when set. */
function workerPodAnnotations(app: DistributedApp): Record<string, string> | undefined {
  const restartedAt = app.metadata.annotations?.[RESTARTED_AT_ANNOTATION];
  return restartedAt === undefined ? undefined : { [RESTARTED_AT_ANNOTATION]: restartedAt };
}

/**
 * The workers: a StatefulSet, so each worker has a stable identity (the pod name) that owns partitions in
 * ZooKeeper across restarts. Pods start and stop in parallel (the operator rebalances; ordering buys
 * nothing) and roll one at a time. Setting `capstan.dev/restartedAt` on the app rolls them.
 */
export function workerStatefulSet(app: DistributedApp, observed: Observed): Desired<V1StatefulSet> {
  const names = appNames(appIdentity(app).name);
  const workers = app.spec.workers;
  const annotations = workerPodAnnotations(app);
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: objectMeta(app, 'workers', names.workers, workers.image),
    spec: {
      replicas: observed.workerReplicas ?? workers.replicas,
      serviceName: names.workersHeadless,
      podManagementPolicy: 'Parallel',
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } },
      selector: { matchLabels: selectorLabels(app, 'workers') },
      template: {
        metadata: {
          labels: standardLabels(app, 'workers', workers.image),
          ...(annotations === undefined ? {} : { annotations }),
        },
        spec: {
          ...basePodSpec(app, 'workers'),
          terminationGracePeriodSeconds: TERMINATION_GRACE_SECONDS,
          containers: [workerContainer(app, observed)],
          volumes: [tmpVolume()],
        },
      },
    },
  };
}
