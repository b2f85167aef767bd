/**
 * The control plane of the local cluster: etcd, kube-apiserver, kube-controller-manager,
 * kube-scheduler and kwok, as command lines (ComponentSpec) and health checks. cluster.ts starts them.
 *
 * Node-controller timings are short so that tests see a failed node within seconds: a node whose
 * lease is not renewed for 16 s is NotReady (--node-monitor-grace-period), and pods tolerate a
 * NotReady or unreachable node for 10 s before taint eviction (--default-*-toleration-seconds).
 */
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { HOST_ADDRESS, KWOK_POD_CIDR, SERVICE_CIDR } from './addresses.ts';
import { type ComponentSpec, isAlive, logTail, sleep } from './detached.ts';
import type { ClientCert, Pki } from './pki.ts';

const here = dirname(fileURLToPath(import.meta.url));

/** Node lease duration of kwok's fake nodes and of the real kubelets; both renew a quarter of it. */
export const NODE_LEASE_SECONDS = 12;

/**
 * Controllers of kube-controller-manager the local cluster does without: nothing here uses their objects
 * (no Jobs, CronJobs, DaemonSets, ReplicationControllers, HPAs, ResourceQuotas, CSRs, DRA claims), its
 * volumes are hostPath and emptyDir (nothing to attach, expand or make ephemeral claims for), and the
 * nodes get their addresses and certificates from cluster.ts. Each controller's loops wake the process
 * even when idle: the attach-detach reconciler every 100 ms, the CronJob and HPA controllers every 10
 * and 15 s. Without them the idle controller-manager took 1.2 to 2.0 % of a core instead of 2.3 %.
 */
const UNUSED_CONTROLLERS = [
  'node-ipam-controller',
  'persistentvolume-attach-detach-controller',
  'persistentvolume-expander-controller',
  'ephemeral-volume-controller',
  'volumeattributesclass-protection-controller',
  'job-controller',
  'cronjob-controller',
  'ttl-after-finished-controller',
  'daemonset-controller',
  'replicationcontroller-controller',
  'horizontal-pod-autoscaler-controller',
  'resourcequota-controller',
  'ttl-controller',
  'certificatesigningrequest-approving-controller',
  'certificatesigningrequest-cleaner-controller',
  'certificatesigningrequest-signing-controller',
  'podcertificaterequest-cleaner-controller',
  'kube-apiserver-serving-clustertrustbundle-publisher-controller',
  'storage-version-migrator-controller',
  'storageversion-garbage-collector-controller',
  'validatingadmissionpolicy-status-controller',
  'legacy-serviceaccount-token-cleaner-controller',
  'endpointslice-mirroring-controller',
  'resourceclaim-controller',
  'resourcepoolstatusrequest-controller',
  'device-taint-eviction-controller',
  'podgroup-protection-controller',
];

/** The control-plane binaries, in start order. */
export const CONTROL_PLANE = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kwok',
] as const;
export type ControlPlaneComponent = (typeof CONTROL_PLANE)[number];

/** Loopback ports chosen at start. */
export interface Ports {
  etcdClient: number;
  etcdPeer: number;
  apiserver: number;
  controllerManager: number;
  scheduler: number;
  kwok: number;
}

/** What the control plane's command lines are made from. */
export interface ControlPlaneConfig {
  dir: string;
  bin: string;
  pki: Pki;
  ports: Ports;
  /** Real nodes follow: the apiserver serves on the host bridge so pods reach it, kwok nodes stay aside. */
  realNodes: boolean;
}

/** The address the apiserver serves on: the host bridge when real nodes need it, else loopback. */
export function apiserverAddress(realNodes: boolean): string {
  return realNodes ? HOST_ADDRESS : '127.0.0.1';
}

function apiserverArgs(config: ControlPlaneConfig, etcdUrl: string): string[] {
  const { dir, pki, ports, realNodes } = config;
  const address = apiserverAddress(realNodes);
  return [
    `--etcd-servers=${etcdUrl}`,
    `--bind-address=${address}`,
    `--advertise-address=${address}`,
    // With only fake nodes no pod can reach the apiserver, and the endpoint reconciler refuses loopback.
    ...(realNodes ? [] : ['--endpoint-reconciler-type=none']),
    `--secure-port=${ports.apiserver}`,
    `--cert-dir=${join(dir, 'pki')}`,
    `--tls-cert-file=${pki.apiserverCert}`,
    `--tls-private-key-file=${pki.apiserverKey}`,
    `--client-ca-file=${pki.caCert}`,
    `--kubelet-client-certificate=${pki.adminCert}`,
    `--kubelet-client-key=${pki.adminKey}`,
    // Node names resolve to 127.0.0.1 in /etc/hosts; the kubelets listen on their InternalIP.
    '--kubelet-preferred-address-types=InternalIP,Hostname',
    `--service-account-key-file=${pki.serviceAccountPub}`,
    `--service-account-signing-key-file=${pki.serviceAccountKey}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    '--authorization-mode=Node,RBAC',
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    '--default-not-ready-toleration-seconds=10',
    '--default-unreachable-toleration-seconds=10',
    '--allow-privileged=true',
    '--enable-priority-and-fairness=false',
    '--max-requests-inflight=2000',
    '--max-mutating-requests-inflight=1000',
    '--v=1',
  ];
}

function kwokArgs(config: ControlPlaneConfig, kubeconfig: string): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--config=${join(here, 'kwok', 'stages.yaml')}`,
    // Only the fake nodes: the real ones have kubelets.
    '--manage-all-nodes=false',
    '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
    `--cidr=${KWOK_POD_CIDR}`,
    // The apiserver dials a node's InternalIP for logs: keep it on an address of this machine.
    `--node-ip=${config.realNodes ? HOST_ADDRESS : '127.0.0.1'}`,
    `--node-lease-duration-seconds=${NODE_LEASE_SECONDS}`,
    `--server-address=127.0.0.1:${config.ports.kwok}`,
  ];
}

/** The command lines of the control plane, in start order. */
export function controlPlaneSpecs(config: ControlPlaneConfig): ComponentSpec[] {
  const { dir, bin, pki, ports } = config;
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
      args: apiserverArgs(config, etcdUrl),
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
        `--controllers=${['*', ...UNUSED_CONTROLLERS.map((c) => `-${c}`)].join(',')}`,
        `--service-account-private-key-file=${pki.serviceAccountKey}`,
        `--root-ca-file=${pki.caCert}`,
        `--cluster-signing-cert-file=${pki.caCert}`,
        `--cluster-signing-key-file=${pki.caKey}`,
        '--use-service-account-credentials=true',
        `--node-monitor-grace-period=${NODE_LEASE_SECONDS + 4}s`,
        '--node-monitor-period=1s',
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
      args: kwokArgs(config, kubeconfig),
      log: log('kwok'),
    },
  ];
}

/** A kubeconfig for `server` authenticating with a client certificate signed by the local CA. */
export async function kubeconfigFor(pki: Pki, server: string, client: ClientCert): Promise<string> {
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
          'client-certificate-data': await b64(client.cert),
          'client-key-data': await b64(client.key),
        },
      },
    ],
    contexts: [{ name: 'capstan-local', context: { cluster: 'capstan-local', user: 'admin' } }],
    'current-context': 'capstan-local',
  });
}

/** GET `path` on the apiserver with the admin certificate. */
export async function apiserverGet(
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

/** Polls `check` until it holds, failing early when the component's process exits. */
export async function waitUntil(
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

/** The health check of one control-plane component. */
export function healthCheck(name: string, server: string, pki: Pki, ports: Ports): () => Promise<boolean> {
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
