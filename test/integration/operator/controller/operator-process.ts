/**
 * Runs `capstan-operator` as a real child process for the integration tests, authenticated with a
 * ServiceAccount token bound to exactly OPERATOR_RULES (ClusterRole) and LEADER_ELECTION_RULES (Role in
 * the lease namespace), never as cluster-admin.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { LEADER_ELECTION_RULES, OPERATOR_RULES } from '../../../../operator/src/rbac/rules.ts';
import {
  createNamespace,
  kubectl,
  loadKubeConfig,
  waitFor,
  waitCrdEstablished,
} from '../../../harness/kube.ts';
import { freePort } from '../../../../workload/src/local/ports.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

/** Applies the DistributedApp CRD server-side and waits until it is Established. */
export async function installCrd(): Promise<void> {
  await kubectl(['apply', '--server-side', '--force-conflicts', '-f', join(repoRoot, 'crds')]);
  await waitCrdEstablished('distributedapps.capstan.dev');
}

/**
 * Creates a ServiceAccount in `namespace` bound to the operator's rules (cluster-wide) and the leader
 * election rules (in `namespace`), and writes a kubeconfig that authenticates with its token.
 * Returns the kubeconfig's path.
 */
export async function operatorKubeconfig(namespace: string, name: string): Promise<string> {
  const rbac = [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name },
      rules: OPERATOR_RULES,
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name, namespace },
      rules: LEADER_ELECTION_RULES,
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name, namespace },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace }],
    },
  ];
  await kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: rbac }),
  });
  const token = (await kubectl(['create', 'token', name, '-n', namespace, '--duration=2h'])).stdout.trim();
  const admin = loadKubeConfig();
  const cluster = admin.getCurrentCluster();
  if (cluster === null) throw new Error('admin kubeconfig has no cluster');
  const ca = cluster.caData ?? readFileSync(cluster.caFile ?? '').toString('base64');
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'test', cluster: { server: cluster.server, 'certificate-authority-data': ca } }],
    users: [{ name, user: { token } }],
    contexts: [{ name: 'operator', context: { cluster: 'test', user: name } }],
    'current-context': 'operator',
  };
  const path = join(await mkdtemp(join(tmpdir(), 'capstan-operator-')), 'kubeconfig');
  await writeFile(path, stringify(config), { mode: 0o600 });
  return path;
}

/** Deletes the cluster-scoped RBAC objects made by `operatorKubeconfig`. */
export async function deleteOperatorRbac(name: string): Promise<void> {
  await kubectl(['delete', 'clusterrole,clusterrolebinding', name, '--ignore-not-found'], {
    allowFailure: true,
  });
}

/** Options of `startOperator`. */
export interface OperatorOptions {
  kubeconfig: string;
  /** Watched namespaces. */
  namespaces: string[];
  leaseNamespace: string;
  leaseId: string;
  /** Lease duration in seconds; renew deadline and retry period follow. Default 6. */
  leaseSeconds?: number;
  /** Further flags, after the others (a repeated flag wins). */
  extraArgs?: string[];
  /**
   * Let the process reach loopback addresses only (test/harness/loopback-only.ts): for an operator that
   * coordinates apps whose ZooKeeper is not the test's loopback one. Default false.
   */
  loopbackOnly?: boolean;
}

/** A running operator process. */
export interface OperatorProcess {
  readonly child: ChildProcess;
  readonly healthUrl: string;
  readonly logFile: string;
  /** Resolves with the exit code (or signal) once the process ended. */
  readonly exited: Promise<number | string>;
  /** Sends `signal` and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

/** Starts `node operator/src/main.ts` with the given identity and a short lease. */
export async function startOperator(options: OperatorOptions): Promise<OperatorProcess> {
  const port = await freePort();
  const lease = options.leaseSeconds ?? 6;
  const logFile = join(dirname(options.kubeconfig), `operator-${port}.log`);
  const log = createWriteStream(logFile);
  const child = spawn(
    process.execPath,
    [
      ...(options.loopbackOnly ? [`--import=${join(repoRoot, 'test/harness/loopback-only.ts')}`] : []),
      join(repoRoot, 'operator/src/main.ts'),
      `--kubeconfig=${options.kubeconfig}`,
      `--namespaces=${options.namespaces.join(',')}`,
      '--metrics-bind-address=0',
      // Tests run operators side by side: none takes the default :8082 unless it asks (extraArgs).
      '--dashboard-bind-address=0',
      `--health-probe-bind-address=127.0.0.1:${port}`,
      `--leader-election-namespace=${options.leaseNamespace}`,
      `--leader-election-id=${options.leaseId}`,
      `--leader-elect-lease-duration=${lease}s`,
      `--leader-elect-renew-deadline=${Math.max(2, lease - 2)}s`,
      '--leader-elect-retry-period=1s',
      '--max-concurrent-reconciles=2',
      // Off unless a test asks for it: from this host an app's in-cluster ZooKeeper names would be
      // looked up through the machine's own resolver, which is not the cluster's and must not be asked.
      ...(options.extraArgs?.some((a) => a.startsWith('--coordinate')) ? [] : ['--coordinate=false']),
      ...(options.extraArgs ?? []),
    ],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '' } },
  );
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const exited = new Promise<number | string>((resolveExit) =>
    child.once('exit', (code, signal) => resolveExit(code ?? signal ?? -1)),
  );
  return {
    child,
    healthUrl: `http://127.0.0.1:${port}`,
    logFile,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** The operator's `/metrics` text, or undefined while it does not answer. */
export async function metricsText(operator: OperatorProcess): Promise<string | undefined> {
  try {
    const response = await fetch(`${operator.healthUrl}/metrics`);
    return response.ok ? await response.text() : undefined;
  } catch {
    return undefined;
  }
}

function sum(text: string, metric: string, filter: (labels: string) => boolean): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const match = new RegExp(`^${metric}\\{([^}]*)\\} (\\S+)$`).exec(line);
    if (match !== null && filter(match[1] ?? '')) total += Number(match[2]);
  }
  return total;
}

/** Write requests (POST, PUT, PATCH, DELETE) the operator made, lease renewals excluded. */
export function writeRequests(text: string): number {
  const writes = sum(text, 'rest_client_requests_total', (labels) =>
    /method="(POST|PUT|PATCH|DELETE)"/.test(labels),
  );
  return writes - sum(text, 'leader_election_lease_writes_total', () => true);
}

/** Whether the operator leads (its `leader_election_master_status` is 1). */
export async function isLeading(operator: OperatorProcess, leaseId: string): Promise<boolean> {
  const text = await metricsText(operator);
  return text?.includes(`leader_election_master_status{name="${leaseId}"} 1`) ?? false;
}

/** Waits until `operator` leads. */
export async function waitForLeader(
  operator: OperatorProcess,
  leaseId: string,
  timeoutMs = 60_000,
): Promise<void> {
  await waitFor(
    `operator ${operator.healthUrl} to lead`,
    async () => ((await isLeading(operator, leaseId)) ? true : undefined),
    timeoutMs,
  );
}

/** Creates `count` PersistentVolumes without a StorageClass (the local cluster has no provisioner). */
export async function createVolumes(prefix: string, count: number): Promise<void> {
  const items = Array.from({ length: count }, (_, i) => ({
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name: `${prefix}-${i}`, labels: { 'capstan.dev/test-volume': prefix } },
    spec: {
      capacity: { storage: '10Gi' },
      accessModes: ['ReadWriteOnce'],
      persistentVolumeReclaimPolicy: 'Delete',
      hostPath: { path: `/tmp/${prefix}-${i}` },
    },
  }));
  await kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }) });
}

/** Removes every finalizer from the DistributedApps in `namespace`. */
async function releaseFinalizers(namespace: string): Promise<void> {
  const { stdout } = await kubectl(['get', 'dapp', '-n', namespace, '-o', 'name'], { allowFailure: true });
  for (const name of stdout.split('\n').filter((line) => line !== '')) {
    const patch = ['patch', name, '-n', namespace, '--type=merge', '-p', '{"metadata":{"finalizers":null}}'];
    await kubectl(patch, { allowFailure: true });
  }
}

/** A namespace prepared for an operator under test, and how to remove it again. */
export interface OperatorSandbox {
  readonly namespace: string;
  /** A kubeconfig for the operator's ServiceAccount, bound to exactly the operator's RBAC rules. */
  readonly kubeconfig: string;
  cleanup(): Promise<void>;
}

/**
 * Installs the CRD, creates a fresh namespace `<prefix>-xxxxxx` with `volumes` PersistentVolumes for
 * ZooKeeper members, and the operator's least-privilege ServiceAccount kubeconfig.
 */
export async function operatorSandbox(prefix: string, volumes: number): Promise<OperatorSandbox> {
  await installCrd();
  const namespace = await createNamespace(prefix);
  const rbacName = `capstan-operator-${namespace}`;
  await createVolumes(namespace, volumes);
  const kubeconfig = await operatorKubeconfig(namespace, rbacName);
  return {
    namespace,
    kubeconfig,
    cleanup: async () => {
      // An app left with the ZooKeeper finalizer by a stopped operator would keep the namespace terminating.
      await releaseFinalizers(namespace);
      await kubectl(['delete', 'namespace', namespace, '--wait=false'], { allowFailure: true });
      await deleteOperatorRbac(rbacName);
    },
  };
}

/** Starts an operator that watches the sandbox's namespace, with its Lease there, and waits until it leads. */
export async function startLeader(
  sandbox: OperatorSandbox,
  leaseId: string,
  options: Pick<OperatorOptions, 'leaseSeconds' | 'extraArgs' | 'loopbackOnly'> = {},
): Promise<OperatorProcess> {
  const operator = await startOperator({
    kubeconfig: sandbox.kubeconfig,
    namespaces: [sandbox.namespace],
    leaseNamespace: sandbox.namespace,
    leaseId,
    ...options,
  });
  await waitForLeader(operator, leaseId);
  return operator;
}
