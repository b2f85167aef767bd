import type { DistributedApp } from '../../../../operator/src/api/schema.ts';
import { kubectl, waitFor } from '../../../harness/kube.ts';

/** Reads a resource as JSON, or undefined when it does not exist. */
export async function getJson<T>(kind: string, name: string, namespace: string): Promise<T | undefined> {
  const result = await kubectl(['get', kind, name, '-n', namespace, '-o', 'json', '--ignore-not-found'], {
    allowFailure: true,
  });
  return result.code === 0 && result.stdout.trim() !== '' ? (JSON.parse(result.stdout) as T) : undefined;
}

/** Applies a DistributedApp with `spec` in `namespace`. */
export async function applyApp(namespace: string, name: string, spec: unknown): Promise<void> {
  const app = {
    apiVersion: 'capstan.dev/v1alpha1',
    kind: 'DistributedApp',
    metadata: { name, namespace },
    spec,
  };
  await kubectl(['apply', '-f', '-'], { input: JSON.stringify(app) });
}

/** The app's condition of `type`. */
export function condition(
  app: DistributedApp | undefined,
  type: string,
): { status: string; reason: string; message: string } | undefined {
  return app?.status?.conditions?.find((c) => c.type === type);
}

/** Waits until the app is Ready for its current generation and returns it. */
export async function waitForReady(
  namespace: string,
  name: string,
  timeoutMs = 120_000,
): Promise<DistributedApp> {
  return waitFor(
    `DistributedApp ${namespace}/${name} Ready at its generation`,
    async () => {
      const app = await getJson<DistributedApp>('distributedapp', name, namespace);
      const ready = condition(app, 'Ready')?.status === 'True';
      return ready && app?.status?.observedGeneration === app?.metadata.generation ? app : undefined;
    },
    timeoutMs,
  );
}

/** Kind/name of every object labelled as part of the app (PersistentVolumeClaims excluded: retained). */
/**
 * Objects the operator makes for an app with in-cluster Redis and ZooKeeper: 6 of ZooKeeper, 5 of Redis,
 * 3 of the workers, 4 of HAProxy and the ZooKeeper credentials Secret.
 */
export const OBJECTS_PER_APP = 19;

export async function appObjects(namespace: string, app: string): Promise<string[]> {
  const { stdout } = await kubectl([
    'get',
    'statefulsets,deployments,services,configmaps,secrets,poddisruptionbudgets,networkpolicies',
    '-n',
    namespace,
    '-l',
    `app.kubernetes.io/instance=${app},app.kubernetes.io/managed-by=capstan`,
    '-o',
    'name',
  ]);
  return stdout
    .split('\n')
    .filter((line) => line !== '')
    .sort();
}
