/**
 * The application steps of the demo on the real cluster: an example DistributedApp applied with
 * kubectl, requests through its HAProxy Service from this machine, the upstream's fetch counts,
 * and real failures (kill -9 of a worker container's process, deletion of the Redis pod).
 * Each returns what it saw, so the demo prints it and the end-to-end tests assert on it.
 */
import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import { killContainer } from '../local-cluster/containers.ts';
import { runLoad, type LoadResult } from '../../workload/src/local/load.ts';
import { FETCHES_PATH } from '../../workload/src/tiny-upstream.ts';
import { applyObjects, getJson, serviceUrl, step, waitFor, type Steps } from './kube-steps.ts';

/** The parts of a DistributedApp the demo reads. */
export interface AppObject {
  metadata: { name: string; namespace?: string; generation?: number };
  spec: Record<string, unknown>;
  status?: {
    observedGeneration?: number;
    phase?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}

/** The first DistributedApp of a YAML file. */
export async function readApp(file: string): Promise<AppObject> {
  const docs = parseAllDocuments(await readFile(file, 'utf8')).map((d) => d.toJS() as { kind?: string });
  const app = docs.find((d) => d.kind === 'DistributedApp');
  if (app === undefined) throw new Error(`${file} holds no DistributedApp`);
  return app as unknown as AppObject;
}

/** `kubectl apply -n <namespace> -f <file>`. */
export async function applyApp(steps: Steps, file: string, namespace: string): Promise<AppObject> {
  const app = await readApp(file);
  await step(steps, 'kubectl', ['apply', '-n', namespace, '-f', file]);
  return app;
}

function readyAtGeneration(app: AppObject | undefined): boolean {
  const ready = app?.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
  return ready && app?.status?.observedGeneration === app?.metadata.generation;
}

/** `kubectl wait --for=condition=Ready dapp/<name>`, then the app as it is now. */
export async function waitAppReady(
  steps: Steps,
  namespace: string,
  name: string,
  timeoutMs = 300_000,
): Promise<AppObject> {
  const seconds = Math.round(timeoutMs / 1000);
  await step(steps, 'kubectl', [
    'wait',
    '-n',
    namespace,
    '--for=condition=Ready',
    `dapp/${name}`,
    `--timeout=${seconds}s`,
  ]);
  return waitFor(`${namespace}/${name} Ready at its generation`, async () => {
    const app = await getJson<AppObject>(steps, ['dapp', name, '-n', namespace]);
    return readyAtGeneration(app) ? app : undefined;
  });
}

/** A pod as the demo reads it. */
export interface PodJson {
  metadata: { name: string; uid: string; labels?: Record<string, string>; deletionTimestamp?: string };
  spec: { nodeName?: string };
  status: {
    phase?: string;
    podIP?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: {
      name: string;
      ready: boolean;
      restartCount: number;
      containerID?: string;
      lastState?: { terminated?: { exitCode: number; reason?: string } };
    }[];
  };
}

/** Whether the pod's Ready condition is True (false for a pod that does not exist). */
export function podReady(pod: PodJson | undefined): boolean {
  return pod?.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** The pods of `component` (workers, redis, zookeeper, haproxy label values) of an app. */
export async function appPods(
  steps: Steps,
  namespace: string,
  app: string,
  component?: string,
): Promise<PodJson[]> {
  const selector = [
    `app.kubernetes.io/instance=${app}`,
    ...(component ? [`app.kubernetes.io/component=${component}`] : []),
  ];
  const list = await getJson<{ items: PodJson[] }>(steps, [
    'pods',
    '-n',
    namespace,
    '-l',
    selector.join(','),
  ]);
  return list?.items ?? [];
}

/** Requests of one burst and what the upstream saw for them. */
export interface BurstReport {
  load: LoadResult;
  keys: string[];
  /** Upstream fetches of this burst's keys: the most for one key, and in all. */
  maxFetchesPerKey: number;
  upstreamFetches: number;
}

/** The upstream's fetch counts per key (`GET /_fetches`). */
export async function upstreamFetches(upstreamUrl: string): Promise<Map<string, number>> {
  const response = await fetch(`${upstreamUrl}${FETCHES_PATH}`);
  return new Map(Object.entries((await response.json()) as Record<string, number>));
}

/**
 * GET /v1/cache/<prefix>-<i % keys> through HAProxy, `requests` times, `concurrency` at a time,
 * bounded by `maxMs`; then the upstream's fetch counts of those keys.
 */
export async function burst(
  urls: { haproxy: string; upstream: string },
  options: { prefix: string; requests: number; keys: number; concurrency?: number; maxMs?: number },
): Promise<BurstReport> {
  const keys = Array.from({ length: options.keys }, (_, i) => `${options.prefix}-${i}`);
  const load = await runLoad({
    url: (i) => `${urls.haproxy}/v1/cache/${keys[i % keys.length]}`,
    concurrency: options.concurrency ?? 16,
    total: options.requests,
    maxMs: options.maxMs ?? 30_000,
  });
  const fetches = await upstreamFetches(urls.upstream);
  const counts = keys.map((k) => fetches.get(k) ?? 0);
  return {
    load,
    keys,
    maxFetchesPerKey: Math.max(...counts),
    upstreamFetches: counts.reduce((a, b) => a + b, 0),
  };
}

/** The URLs of an app's HAProxy Service and of the demo's upstream Service, both reached by ClusterIP. */
export async function appUrls(
  steps: Steps,
  namespace: string,
  app: string,
  upstreamNamespace: string,
): Promise<{ haproxy: string; upstream: string }> {
  return {
    haproxy: await serviceUrl(steps, namespace, `${app}-haproxy`, 'http'),
    upstream: await serviceUrl(steps, upstreamNamespace, 'backend', 'http'),
  };
}

/** What happened when a worker container was killed. */
export interface ContainerKill {
  pod: string;
  node: string;
  pid: number;
  restartsBefore: number;
  restartsAfter: number;
  exitCode: number | undefined;
}

/**
 * `kill -9` of a worker container's main process on its node, then waits until the kubelet has
 * restarted it (restartCount + 1) and the pod is Ready again.
 */
export async function killWorkerContainer(
  steps: Steps,
  namespace: string,
  pod: string,
  timeoutMs = 120_000,
): Promise<ContainerKill> {
  const before = await getJson<PodJson>(steps, ['pod', pod, '-n', namespace]);
  const status = before?.status.containerStatuses?.find((c) => c.name === 'worker');
  if (status?.containerID === undefined)
    throw new Error(`pod ${namespace}/${pod} has no running worker container`);
  const pid = await killContainer(status.containerID);
  steps.print(
    `$ kill -9 ${pid}   # the worker container's main process in pod ${pod} on ${before?.spec.nodeName}`,
  );
  const after = await waitFor(
    `${pod} restarted by the kubelet and Ready`,
    async () => {
      const now = await getJson<PodJson>(steps, ['pod', pod, '-n', namespace]);
      const c = now?.status.containerStatuses?.find((x) => x.name === 'worker');
      return c && c.restartCount > status.restartCount && c.ready ? c : undefined;
    },
    timeoutMs,
  );
  return {
    pod,
    node: before?.spec.nodeName ?? '',
    pid,
    restartsBefore: status.restartCount,
    restartsAfter: after.restartCount,
    exitCode: after.lastState?.terminated?.exitCode,
  };
}

/** Applies the demo's upstream (Deployment + Service `backend`) and waits until it is available. */
export async function deployUpstream(steps: Steps, objects: object[], namespace: string): Promise<void> {
  await applyObjects(steps, objects, 'upstream.yaml   # Deployment + Service "backend": the tiny upstream');
  await step(steps, 'kubectl', [
    'rollout',
    'status',
    '-n',
    namespace,
    'deployment/backend',
    '--timeout=180s',
  ]);
}

/**
 * Deletes the pods of `namespace` (those matching `selector`, if given) that run on `node`, without
 * waiting, so that their controllers recreate them elsewhere once the node is cordoned.
 */
export async function deletePodsOn(
  steps: Steps,
  namespace: string,
  node: string,
  selector?: string,
): Promise<void> {
  const list = await getJson<{ items: PodJson[] }>(steps, [
    'pods',
    '-n',
    namespace,
    ...(selector === undefined ? [] : ['-l', selector]),
  ]);
  // A pod may go between the list and its delete (one already terminating, from a rollout): gone is
  // what the delete asks for.
  for (const p of list?.items ?? [])
    if (p.spec.nodeName === node)
      await step(steps, 'kubectl', [
        'delete',
        'pod',
        p.metadata.name,
        '-n',
        namespace,
        '--wait=false',
        '--ignore-not-found',
      ]);
}
