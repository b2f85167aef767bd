/**
 * The Kubernetes steps of the demo, as a user would type them: every command is printed before it
 * runs (`$ kubectl ...`), so the demo can be followed and repeated by hand. Shared by `make demo`
 * (hack/demo.ts) and the end-to-end tests, which assert on what these steps produce.
 */
import { join, resolve } from 'node:path';
import { runTool, type CommandResult } from '../local-cluster/tools.ts';

export const repoRoot = resolve(import.meta.dirname, '..', '..');

/** Where the steps print the commands they run; default: nowhere. */
export interface Steps {
  kubeconfig: string;
  print(line: string): void;
}

/** A steps context that prints nothing (tests). */
export function quietSteps(kubeconfig: string): Steps {
  return { kubeconfig, print: () => undefined };
}

function shown(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Runs a tool from bin/ against the cluster, printing the command first; rejects on failure. */
export async function step(
  steps: Steps,
  tool: 'kubectl' | 'helm',
  args: string[],
  options: { input?: string; allowFailure?: boolean; quiet?: boolean } = {},
): Promise<CommandResult> {
  if (!options.quiet) steps.print(`$ ${tool} ${args.map(shown).join(' ')}`);
  const env = { KUBECONFIG: steps.kubeconfig };
  return runTool(tool, args, {
    env,
    ...(options.input === undefined ? {} : { input: options.input }),
    ...(options.allowFailure ? { allowFailure: true } : {}),
  });
}

/** `kubectl get ... -o json`, quietly; undefined when the object does not exist. */
export async function getJson<T>(steps: Steps, args: string[]): Promise<T | undefined> {
  const result = await step(steps, 'kubectl', ['get', ...args, '-o', 'json', '--ignore-not-found'], {
    quiet: true,
    allowFailure: true,
  });
  return result.code === 0 && result.stdout.trim() !== '' ? (JSON.parse(result.stdout) as T) : undefined;
}

/** Polls `check` until it returns a value, or throws after `timeoutMs` naming `what` and the last error. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 120_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const why = last instanceof Error ? `; last error: ${last.message}` : '';
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
}

/** A namespace that enforces Pod Security `restricted`: every pod in it must pass the profile. */
export async function restrictedNamespace(steps: Steps, name: string): Promise<void> {
  await step(steps, 'kubectl', ['create', 'namespace', name, '--dry-run=client', '-o', 'yaml'], {
    quiet: true,
  }).then((created) => step(steps, 'kubectl', ['apply', '-f', '-'], { input: created.stdout, quiet: true }));
  await step(steps, 'kubectl', [
    'label',
    'namespace',
    name,
    '--overwrite',
    'pod-security.kubernetes.io/enforce=restricted',
    'pod-security.kubernetes.io/enforce-version=latest',
  ]);
}

/** The operator's image of this checkout, as built by `make images`. */
export const OPERATOR_IMAGE = { repository: 'ghcr.io/capstan-dev/capstan' };

/**
 * `helm upgrade --install` of charts/capstan into `namespace`, waiting until the operator is Ready.
 * `--take-ownership` adopts a DistributedApp CRD applied without Helm (`make install`, or an install of the
 * chart from before the CRD was a template) into the release.
 */
export async function installOperator(
  steps: Steps,
  namespace: string,
  set: string[] = [],
): Promise<CommandResult> {
  await restrictedNamespace(steps, namespace);
  return step(steps, 'helm', [
    'upgrade',
    '--install',
    'capstan',
    join(repoRoot, 'charts', 'capstan'),
    '--namespace',
    namespace,
    '--take-ownership',
    '--wait',
    '--timeout=5m',
    ...set.flatMap((s) => ['--set', s]),
  ]);
}

/** A pod security context that passes Pod Security `restricted` for the capstan image. */
export const RESTRICTED_POD = {
  runAsNonRoot: true,
  runAsUser: 65532,
  seccompProfile: { type: 'RuntimeDefault' },
};
/** A container security context that passes Pod Security `restricted`. */
export const RESTRICTED_CONTAINER = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
};

/** A one-replica Deployment whose pods carry `labels` and pass Pod Security `restricted`. */
export function restrictedDeployment(
  metadata: { name: string; namespace: string; labels: Record<string, string> },
  podSpec: { containers: object[] } & Record<string, unknown>,
): object {
  const { labels } = metadata;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata,
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { securityContext: RESTRICTED_POD, ...podSpec } },
    },
  };
}

/** The tiny upstream (`capstan upstream`) as a Deployment and Service `backend:8080` in `namespace`. */
export function upstreamObjects(namespace: string, image: string): object[] {
  const labels = { 'app.kubernetes.io/name': 'backend', 'app.kubernetes.io/part-of': 'capstan-demo' };
  const container = {
    name: 'backend',
    image,
    command: ['node', 'workload/src/cli.js', 'upstream', '--port', '8080'],
    ports: [{ name: 'http', containerPort: 8080 }],
    readinessProbe: { tcpSocket: { port: 'http' }, periodSeconds: 2 },
    securityContext: RESTRICTED_CONTAINER,
  };
  return [
    restrictedDeployment({ name: 'backend', namespace, labels }, { containers: [container] }),
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'backend', namespace, labels },
      spec: { selector: labels, ports: [{ name: 'http', port: 8080, targetPort: 'http' }] },
    },
  ];
}

/** Applies objects given as JavaScript values (a List), printing the command with the file it stands for. */
export async function applyObjects(steps: Steps, items: object[], shownAs: string): Promise<CommandResult> {
  steps.print(`$ kubectl apply -f ${shownAs}`);
  const input = JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
  return step(steps, 'kubectl', ['apply', '-f', '-'], { input, quiet: true });
}

interface ServiceJson {
  spec?: { clusterIP?: string; ports?: { name?: string; port: number }[] };
}

/** http://<ClusterIP>:<port> of a Service: kube-proxy makes ClusterIPs reachable from this machine too. */
export async function serviceUrl(
  steps: Steps,
  namespace: string,
  name: string,
  portName?: string,
): Promise<string> {
  const service = await waitFor(`Service ${namespace}/${name}`, () =>
    getJson<ServiceJson>(steps, ['service', name, '-n', namespace]),
  );
  const port = service.spec?.ports?.find((p) => portName === undefined || p.name === portName)?.port;
  const ip = service.spec?.clusterIP;
  if (ip === undefined || port === undefined)
    throw new Error(`Service ${namespace}/${name} has no ClusterIP port ${portName ?? ''}`);
  return `http://${ip}:${port}`;
}
