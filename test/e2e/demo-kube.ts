/**
 * The Kubernetes half of the demo flow, shared by `make demo` (hack/demo.ts) and the e2e test
 * (test/e2e/demo.test.ts): reuse or start the local control plane, install the CRD, run the operator
 * as a child process, apply an example DistributedApp (with the PersistentVolumes its ZooKeeper needs,
 * since the local control plane has no storage provisioner) and wait until it is Ready.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DistributedApp } from '../../operator/src/api/schema.ts';
import { readAppFile } from '../../workload/src/dev-runner.ts';
import {
  readControlPlaneState,
  startControlPlane,
  type ControlPlaneState,
} from '../harness/control-plane.ts';
import { isAlive, logTail } from '../harness/detached.ts';
import { runTool, waitFor, type CommandResult } from '../harness/kube.ts';
import { freePort } from '../../workload/src/local/ports.ts';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Runs kubectl against the cluster of `kubeconfig`; rejects on a non-zero exit unless `allowFailure`. */
export function kubectlAt(
  kubeconfig: string,
  args: string[],
  options: { input?: string; allowFailure?: boolean } = {},
): Promise<CommandResult> {
  return runTool('kubectl', ['--kubeconfig', kubeconfig, ...args], options);
}

/** The control plane recorded in `<dir>/state.json` when every component runs and the apiserver is ready. */
export async function runningControlPlane(dir: string): Promise<ControlPlaneState | undefined> {
  let state: ControlPlaneState;
  try {
    state = await readControlPlaneState(dir);
  } catch {
    return undefined;
  }
  if (!state.components.every((c) => isAlive(c.pid))) return undefined;
  const ready = await kubectlAt(state.kubeconfig, ['get', '--raw=/readyz'], { allowFailure: true });
  return ready.code === 0 ? state : undefined;
}

/** Reuses the control plane in `dir` when it runs, or starts a fresh one there. */
export async function ensureControlPlane(
  dir: string,
): Promise<{ state: ControlPlaneState; reused: boolean }> {
  const running = await runningControlPlane(dir);
  if (running) return { state: running, reused: true };
  return { state: await startControlPlane({ dir }), reused: false };
}

/** Applies the DistributedApp CRD server-side and waits until it is Established. */
export async function installCrd(kubeconfig: string): Promise<string> {
  const applied = await kubectlAt(kubeconfig, [
    'apply',
    '--server-side',
    '--force-conflicts',
    '-f',
    join(repoRoot, 'crds'),
  ]);
  await kubectlAt(kubeconfig, [
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    'crd/distributedapps.capstan.dev',
  ]);
  return applied.stdout.trim();
}

/** A running operator child process. */
export interface DemoOperator {
  pid: number;
  logFile: string;
  metricsUrl: string;
  healthUrl: string;
  /** Resolves with the exit code (or signal name) once it ended. */
  exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it ended. */
  stop(graceMs?: number): Promise<number | string>;
}

/** Options of {@link startOperator}. */
export interface OperatorOptions {
  kubeconfig: string;
  /** Watched namespaces; empty watches all. */
  namespaces: string[];
  /** The operator's stdout and stderr go here (truncated first). */
  logFile: string;
}

async function answersReady(url: string): Promise<boolean> {
  try {
    return (await fetch(url)).ok;
  } catch {
    return false;
  }
}

/** Polls /readyz until it answers 200; fails at once when the process exits, else after `timeoutMs`. */
async function waitOperatorReady(
  operator: DemoOperator,
  exitedEarly: () => boolean,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exitedEarly()) throw new OperatorStartError(operator, 'it exited');
    if (await answersReady(`${operator.healthUrl}/readyz`)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new OperatorStartError(operator, `no ready answer within ${timeoutMs} ms`);
}

/** The operator did not become ready; the message carries the tail of its log. */
export class OperatorStartError extends Error {
  readonly code = 'CAPSTAN_DEMO_OPERATOR';
  constructor(operator: DemoOperator, why: string) {
    super(
      `the operator did not become ready (${why}); last lines of ${operator.logFile}:\n${logTail(operator.logFile)}`,
    );
    this.name = 'OperatorStartError';
  }
}

/**
 * Starts `node operator/src/main.ts` as a child process without leader election, with /metrics and
 * /healthz on free loopback ports, and resolves once /readyz answers.
 */
export async function startOperator(options: OperatorOptions): Promise<DemoOperator> {
  const [metricsPort, healthPort] = [await freePort(), await freePort()];
  await mkdir(dirname(options.logFile), { recursive: true });
  const fd = openSync(options.logFile, 'w');
  const child = spawn(
    process.execPath,
    [
      join(repoRoot, 'operator/src/main.ts'),
      `--kubeconfig=${options.kubeconfig}`,
      `--namespaces=${options.namespaces.join(',')}`,
      '--leader-elect=false',
      `--metrics-bind-address=127.0.0.1:${metricsPort}`,
      `--health-probe-bind-address=127.0.0.1:${healthPort}`,
    ],
    { cwd: repoRoot, stdio: ['ignore', fd, fd], env: { PATH: process.env.PATH ?? '' } },
  );
  closeSync(fd);
  let done = false;
  const exited = new Promise<number | string>((resolveExit) =>
    child.once('exit', (code, signal) => {
      done = true;
      resolveExit(code ?? signal ?? -1);
    }),
  );
  const operator: DemoOperator = {
    pid: child.pid ?? -1,
    logFile: options.logFile,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    healthUrl: `http://127.0.0.1:${healthPort}`,
    exited,
    async stop(graceMs = 10_000) {
      if (done) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
  try {
    await waitOperatorReady(operator, () => done);
  } catch (error) {
    await operator.stop();
    throw error;
  }
  return operator;
}

/** Lines of the operator's /metrics text whose metric name is one of `names`. */
export async function operatorMetricLines(operator: DemoOperator, names: string[]): Promise<string[]> {
  const text = await (await fetch(operator.metricsUrl)).text();
  return text
    .split('\n')
    .filter((line) => names.some((n) => line.startsWith(`${n}{`) || line.startsWith(`${n} `)));
}

/** Reads a resource as JSON, or undefined when it does not exist. */
async function getJson<T>(kubeconfig: string, args: string[]): Promise<T | undefined> {
  const result = await kubectlAt(kubeconfig, ['get', ...args, '-o', 'json', '--ignore-not-found'], {
    allowFailure: true,
  });
  return result.code === 0 && result.stdout.trim() !== '' ? (JSON.parse(result.stdout) as T) : undefined;
}

interface PersistentVolume {
  status?: { phase?: string };
}

/**
 * Creates one PersistentVolume per ZooKeeper member, pre-bound to the claim the ZooKeeper StatefulSet
 * will make (`data-<app>-zookeeper-<i>`). A volume left Released or Failed by an earlier run (its
 * claim deleted) is replaced so the new claim can bind.
 */
export async function ensureZooKeeperVolumes(
  kubeconfig: string,
  namespace: string,
  app: string,
  members: number,
): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < members; i++) {
    const name = `${namespace}-${app}-zookeeper-${i}`;
    const existing = await getJson<PersistentVolume>(kubeconfig, ['persistentvolume', name]);
    const phase = existing?.status?.phase;
    if (phase === 'Released' || phase === 'Failed')
      await kubectlAt(kubeconfig, ['delete', 'persistentvolume', name, '--wait=true']);
    const volume = {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name, labels: { 'capstan.dev/demo-volume': namespace } },
      spec: {
        capacity: { storage: '10Gi' },
        accessModes: ['ReadWriteOnce'],
        persistentVolumeReclaimPolicy: 'Retain',
        hostPath: { path: `/tmp/capstan-${name}` },
        claimRef: { namespace, name: `data-${app}-zookeeper-${i}` },
      },
    };
    await kubectlAt(kubeconfig, ['apply', '-f', '-'], { input: JSON.stringify(volume) });
    names.push(name);
  }
  return names;
}

/** What {@link deployExample} applied. */
export interface DeployedApp {
  namespace: string;
  name: string;
  volumes: string[];
}

/**
 * Applies the first DistributedApp of `file` into `namespace` (created when missing) together with the
 * PersistentVolumes of its ZooKeeper members.
 */
export async function deployExample(
  kubeconfig: string,
  file: string,
  namespace: string,
): Promise<DeployedApp> {
  const app = (await readAppFile(file)) as DistributedApp;
  const name = app.metadata.name ?? '';
  if (name === '') throw new Error(`${file}: the DistributedApp has no metadata.name`);
  await kubectlAt(kubeconfig, ['apply', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } }),
  });
  const coordination = app.spec.coordination as
    { zookeeper?: { replicas?: number }; external?: unknown } | undefined;
  const members = coordination?.zookeeper?.replicas ?? 1;
  const external = coordination?.external !== undefined;
  const volumes = external ? [] : await ensureZooKeeperVolumes(kubeconfig, namespace, name, members);
  const object = { ...app, metadata: { ...app.metadata, namespace } };
  await kubectlAt(kubeconfig, ['apply', '-f', '-'], { input: JSON.stringify(object) });
  return { namespace, name, volumes };
}

/** Ready=True for the app's current generation. */
export function readyAtGeneration(app: DistributedApp | undefined): boolean {
  const ready = app?.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
  return ready && app?.status?.observedGeneration === app?.metadata.generation;
}

/** Waits until the app is Ready at its current generation and returns it. */
export async function waitAppReady(
  kubeconfig: string,
  app: DeployedApp,
  timeoutMs = 150_000,
): Promise<DistributedApp> {
  return waitFor(
    `DistributedApp ${app.namespace}/${app.name} Ready at its generation`,
    async () => {
      const live = await getJson<DistributedApp>(kubeconfig, [
        'distributedapp',
        app.name,
        '-n',
        app.namespace,
      ]);
      return readyAtGeneration(live) ? live : undefined;
    },
    timeoutMs,
  );
}

/** `kubectl get dapp,statefulsets,deployments,services,pods -n <namespace>` output. */
export async function overview(kubeconfig: string, namespace: string): Promise<string> {
  const args = ['get', 'dapp,statefulsets,deployments,services,pods', '-n', namespace];
  return (await kubectlAt(kubeconfig, args)).stdout.trimEnd();
}
