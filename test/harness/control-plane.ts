import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { type ComponentSpec, isAlive, logTail, sleep, startDetached, stopGroup } from './detached.ts';
import { createPki, type Pki, pkiPaths } from './pki.ts';
import { freePort } from '../../workload/src/local/ports.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Options for {@link startControlPlane}. */
export interface ControlPlaneOptions {
  /** State directory: PKI, etcd data, logs, kubeconfig and state.json. Wiped on start. */
  dir: string;
  /** Where the binaries are; default `$CAPSTAN_TOOLS_BIN` or the repository's bin/. */
  binDir?: string;
  /** Fake kwok nodes to register; default 3. */
  nodes?: number;
}

/** What a running control plane left in its state file. */
export interface ControlPlaneState {
  dir: string;
  kubeconfig: string;
  server: string;
  ports: Ports;
  components: (ComponentSpec & { pid: number })[];
}

const ORDER = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok'] as const;

function stateFile(dir: string): string {
  return join(dir, 'state.json');
}

/** Reads the state file of a control plane started by {@link startControlPlane}. */
export async function readControlPlaneState(dir: string): Promise<ControlPlaneState> {
  return JSON.parse(await readFile(stateFile(dir), 'utf8')) as ControlPlaneState;
}

async function writeState(state: ControlPlaneState): Promise<void> {
  await writeFile(stateFile(state.dir), JSON.stringify(state, null, 2));
}

/** Loopback ports chosen at start. */
export interface Ports {
  etcdClient: number;
  etcdPeer: number;
  apiserver: number;
  controllerManager: number;
  scheduler: number;
  kwok: number;
}

function componentSpecs(dir: string, bin: string, pki: Pki, ports: Ports): ComponentSpec[] {
  const log = (name: string): string => join(dir, 'logs', `${name}.log`);
  const kubeconfig = join(dir, 'kubeconfig');
  const etcdUrl = `http://127.0.0.1:${ports.etcdClient}`;
  return [
    {
      name: 'etcd',
      command: join(bin, 'etcd'),
      args: [
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=http://127.0.0.1:${ports.etcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${ports.etcdPeer}`,
        `--initial-cluster=default=http://127.0.0.1:${ports.etcdPeer}`,
        '--unsafe-no-fsync',
        '--quota-backend-bytes=4294967296',
        '--log-level=warn',
      ],
      log: log('etcd'),
    },
    {
      name: 'kube-apiserver',
      command: join(bin, 'kube-apiserver'),
      args: [
        `--etcd-servers=${etcdUrl}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        // No real Service endpoints here: loopback is refused by the endpoint reconciler.
        '--endpoint-reconciler-type=none',
        `--secure-port=${ports.apiserver}`,
        `--cert-dir=${join(dir, 'pki')}`,
        `--tls-cert-file=${pki.apiserverCert}`,
        `--tls-private-key-file=${pki.apiserverKey}`,
        `--client-ca-file=${pki.caCert}`,
        `--service-account-key-file=${pki.serviceAccountPub}`,
        `--service-account-signing-key-file=${pki.serviceAccountKey}`,
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        '--authorization-mode=Node,RBAC',
        '--service-cluster-ip-range=10.96.0.0/16',
        '--allow-privileged=true',
        '--enable-priority-and-fairness=false',
        '--max-requests-inflight=2000',
        '--max-mutating-requests-inflight=1000',
        '--v=1',
      ],
      log: log('kube-apiserver'),
    },
    {
      name: 'kube-controller-manager',
      command: join(bin, 'kube-controller-manager'),
      args: [
        `--kubeconfig=${kubeconfig}`,
        `--authentication-kubeconfig=${kubeconfig}`,
        `--authorization-kubeconfig=${kubeconfig}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${ports.controllerManager}`,
        `--cert-dir=${join(dir, 'pki', 'kube-controller-manager')}`,
        '--leader-elect=false',
        '--controllers=*,-node-ipam-controller',
        `--service-account-private-key-file=${pki.serviceAccountKey}`,
        `--root-ca-file=${pki.caCert}`,
        `--cluster-signing-cert-file=${pki.caCert}`,
        `--cluster-signing-key-file=${pki.caKey}`,
        '--use-service-account-credentials=true',
        '--node-monitor-grace-period=20s',
        '--concurrent-deployment-syncs=10',
        '--concurrent-statefulset-syncs=10',
        '--concurrent-replicaset-syncs=10',
        '--concurrent-gc-syncs=40',
        '--kube-api-qps=500',
        '--kube-api-burst=1000',
        '--v=1',
      ],
      log: log('kube-controller-manager'),
    },
    {
      name: 'kube-scheduler',
      command: join(bin, 'kube-scheduler'),
      args: [
        `--kubeconfig=${kubeconfig}`,
        `--authentication-kubeconfig=${kubeconfig}`,
        `--authorization-kubeconfig=${kubeconfig}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${ports.scheduler}`,
        `--cert-dir=${join(dir, 'pki', 'kube-scheduler')}`,
        '--leader-elect=false',
        '--kube-api-qps=500',
        '--kube-api-burst=1000',
        '--v=1',
      ],
      log: log('kube-scheduler'),
    },
    {
      name: 'kwok',
      command: join(bin, 'kwok'),
      args: [
        `--kubeconfig=${kubeconfig}`,
        `--config=${join(repoRoot, 'test/harness/kwok/stages.yaml')}`,
        '--manage-all-nodes=true',
        '--cidr=10.244.0.0/16',
        '--node-ip=10.0.0.1',
        '--node-lease-duration-seconds=40',
        `--server-address=127.0.0.1:${ports.kwok}`,
      ],
      log: log('kwok'),
    },
  ];
}

async function adminKubeconfig(pki: Pki, server: string): Promise<string> {
  const b64 = async (path: string): Promise<string> => (await readFile(path)).toString('base64');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: 'capstan-local', cluster: { server, 'certificate-authority-data': await b64(pki.caCert) } },
    ],
    users: [
      {
        name: 'admin',
        user: {
          'client-certificate-data': await b64(pki.adminCert),
          'client-key-data': await b64(pki.adminKey),
        },
      },
    ],
    contexts: [{ name: 'capstan-local', context: { cluster: 'capstan-local', user: 'admin' } }],
    'current-context': 'capstan-local',
  });
}

/** Resolves once GET `path` on the apiserver answers 200 with the admin certificate. */
async function apiserverGet(
  server: string,
  pki: Pki,
  path: string,
): Promise<{ status: number; body: string }> {
  const [ca, cert, key] = await Promise.all([
    readFile(pki.caCert),
    readFile(pki.adminCert),
    readFile(pki.adminKey),
  ]);
  return new Promise((resolveGet, reject) => {
    const req = request(`${server}${path}`, { ca, cert, key, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolveGet({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/** Error raised when a component does not become healthy; carries the tail of its log. */
export class ControlPlaneError extends Error {
  readonly code = 'CAPSTAN_CONTROL_PLANE';
}

async function waitUntil(
  spec: ComponentSpec & { pid: number },
  check: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(spec.pid)) break;
    if (await check().catch(() => false)) return;
    await sleep(200);
  }
  const why = isAlive(spec.pid) ? `not healthy after ${timeoutMs} ms` : 'exited';
  throw new ControlPlaneError(`${spec.name} ${why}; last lines of ${spec.log}:\n${logTail(spec.log)}`);
}

/** GET https://127.0.0.1:port/healthz of a component serving a self-signed certificate. */
function selfSignedHealthz(port: number): Promise<boolean> {
  return new Promise((resolveGet) => {
    const req = request(
      `https://127.0.0.1:${port}/healthz`,
      { rejectUnauthorized: false, timeout: 5000 },
      (res) => {
        res.resume();
        resolveGet(res.statusCode === 200);
      },
    );
    req.on('error', () => resolveGet(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

function healthCheck(name: string, server: string, pki: Pki, ports: Ports): () => Promise<boolean> {
  switch (name) {
    case 'etcd':
      return async () => (await fetch(`http://127.0.0.1:${ports.etcdClient}/health`)).ok;
    case 'kube-apiserver':
      return async () => (await apiserverGet(server, pki, '/readyz')).status === 200;
    case 'kube-controller-manager':
      return () => selfSignedHealthz(ports.controllerManager);
    case 'kube-scheduler':
      return () => selfSignedHealthz(ports.scheduler);
    default:
      return async () => (await fetch(`http://127.0.0.1:${ports.kwok}/healthz`)).ok;
  }
}

async function registerNodes(bin: string, kubeconfig: string, count: number): Promise<void> {
  const nodes = Array.from({ length: count }, (_, i) => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: `kwok-node-${i}`,
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: { type: 'kwok', 'kubernetes.io/hostname': `kwok-node-${i}`, 'kubernetes.io/os': 'linux' },
    },
  }));
  const input = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: nodes });
  await new Promise<void>((resolveApply, reject) => {
    const child = execFile(join(bin, 'kubectl'), ['--kubeconfig', kubeconfig, 'apply', '-f', '-'], (err) =>
      err ? reject(new ControlPlaneError(`registering nodes failed: ${err.message}`)) : resolveApply(),
    );
    child.stdin?.end(input);
  });
}

/**
 * Starts a real local control plane: etcd, kube-apiserver (TLS, RBAC, service-account keys,
 * client-certificate admin), kube-controller-manager, kube-scheduler and kwok with the stages in
 * test/harness/kwok/stages.yaml, registers fake nodes and writes an admin kubeconfig to
 * `<dir>/kubeconfig`. Ports are chosen free at run time. Components run detached, so the
 * returned state (also in `<dir>/state.json`) is all that is needed to stop or restart them.
 * On failure everything started so far is stopped and the error carries the failing log's tail.
 */
export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlaneState> {
  const dir = resolve(options.dir);
  const bin = options.binDir ?? process.env.CAPSTAN_TOOLS_BIN ?? join(repoRoot, 'bin');
  for (const b of [...ORDER, 'kubectl']) {
    if (!existsSync(join(bin, b)))
      throw new ControlPlaneError(`${join(bin, b)} is missing: run \`make tools\``);
  }
  if (existsSync(stateFile(dir))) await stopControlPlane(dir);
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'logs'), { recursive: true });
  const pki = await createPki(join(dir, 'pki'));
  const ports: Ports = {
    etcdClient: await freePort(),
    etcdPeer: await freePort(),
    apiserver: await freePort(),
    controllerManager: await freePort(),
    scheduler: await freePort(),
    kwok: await freePort(),
  };
  const server = `https://127.0.0.1:${ports.apiserver}`;
  const kubeconfig = join(dir, 'kubeconfig');
  await writeFile(kubeconfig, await adminKubeconfig(pki, server), { mode: 0o600 });
  const state: ControlPlaneState = { dir, kubeconfig, server, ports, components: [] };
  try {
    for (const spec of componentSpecs(dir, bin, pki, ports)) {
      const started = { ...spec, pid: startDetached(spec) };
      state.components.push(started);
      await writeState(state);
      await waitUntil(started, healthCheck(spec.name, server, pki, ports), 90_000);
    }
    await registerNodes(bin, kubeconfig, options.nodes ?? 3);
  } catch (err) {
    await stopControlPlane(dir);
    throw err;
  }
  return state;
}

/** Stops every component recorded in `<dir>/state.json`, in reverse start order. */
export async function stopControlPlane(dir: string): Promise<void> {
  let state: ControlPlaneState;
  try {
    state = await readControlPlaneState(dir);
  } catch {
    return;
  }
  for (const c of [...state.components].reverse()) await stopGroup(c.pid);
  await rm(stateFile(dir), { force: true });
}

/**
 * Restarts one component (for example `kube-apiserver`) with the same arguments, waiting until
 * it is healthy again. Works from any process that can read the state directory.
 */
export async function restartComponent(dir: string, name: (typeof ORDER)[number]): Promise<void> {
  const state = await readControlPlaneState(dir);
  const c = state.components.find((x) => x.name === name);
  if (!c) throw new ControlPlaneError(`no component ${name} in ${stateFile(dir)}`);
  await stopGroup(c.pid);
  c.pid = startDetached(c);
  await writeState(state);
  const pki = pkiPaths(join(dir, 'pki'));
  await waitUntil(c, healthCheck(name, state.server, pki, state.ports), 90_000);
}
