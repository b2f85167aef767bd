import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { CRD_NAME } from '../../../operator/src/api/crd.ts';
import {
  createNamespace,
  kubectl,
  runTool,
  testKubeconfig,
  waitFor,
  waitCrdEstablished,
} from '../../harness/kube.ts';

const root = resolve(import.meta.dirname, '../../..');
const chart = join(root, 'charts/capstan');
const CHART_CRD = 'files/crds/capstan.dev_distributedapps.yaml';

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  nonResourceURLs?: string[];
  verbs: string[];
}
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  rules?: Rule[];
  spec?: Record<string, unknown>;
}
interface PodTemplate {
  metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
  spec: {
    serviceAccountName: string;
    imagePullSecrets?: { name: string }[];
    priorityClassName?: string;
    securityContext: { runAsNonRoot?: boolean; seccompProfile?: { type: string } };
    topologySpreadConstraints?: {
      topologyKey: string;
      whenUnsatisfiable: string;
      labelSelector?: { matchLabels: Record<string, string> };
    }[];
    containers: {
      args: string[];
      securityContext: {
        readOnlyRootFilesystem?: boolean;
        allowPrivilegeEscalation?: boolean;
        capabilities?: { drop?: string[] };
      };
    }[];
  };
}
interface Deployment {
  status?: { readyReplicas?: number };
  spec: { template: PodTemplate };
}
interface Crd {
  metadata: { uid: string; annotations?: Record<string, string> };
  spec: { versions: { additionalPrinterColumns?: { name: string }[] }[] };
}

const helm = (args: string[], options: { allowFailure?: boolean } = {}) =>
  runTool('helm', ['--kubeconfig', testKubeconfig(), ...args], options);

/** `helm template` of the chart with `--set` values, as parsed documents. */
async function render(
  set: string[],
  namespace = 'capstan-system',
  extra: string[] = [],
): Promise<Manifest[]> {
  const out = await helm([
    'template',
    'cap',
    chart,
    '-n',
    namespace,
    ...set.flatMap((s) => ['--set', s]),
    ...extra,
  ]);
  return parseAllDocuments(out.stdout)
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

const getJson = async <T>(args: string[]): Promise<T> =>
  JSON.parse((await kubectl(['get', ...args, '-o', 'json'])).stdout) as T;

/** The cluster-scoped resources the API server serves, as `plural` (core) or `plural.group`. */
async function clusterScopedResources(): Promise<Set<string>> {
  const out = await kubectl(['api-resources', '--namespaced=false', '-o', 'name']);
  return new Set(out.stdout.split('\n').filter((line) => line !== ''));
}

function isClusterScoped(rule: Rule, resource: string, scoped: Set<string>): boolean {
  const plural = resource.split('/')[0]!;
  return (rule.apiGroups ?? ['']).some((g) => scoped.has(g === '' ? plural : `${plural}.${g}`));
}

/** Every (group, resource, verb) a list of rules grants, as sorted strings. */
function grants(rules: Rule[]): string[] {
  return rules
    .flatMap((r) =>
      (r.apiGroups ?? ['']).flatMap((g) =>
        (r.resources ?? []).flatMap((res) => r.verbs.map((v) => `${g}/${res}:${v}`)),
      ),
    )
    .sort();
}

/**
 * The operator's rules as the chart holds them: every files/*-rules.yaml but the leader election's.
 * `make lint` (hack/manifests.ts --check) keeps these files equal to operator/src/rbac/rules.ts.
 */
async function chartRules(): Promise<Rule[]> {
  const files = (await readdir(join(chart, 'files')))
    .filter((f) => f.endsWith('-rules.yaml') && f !== 'leader-election-rules.yaml')
    .sort();
  const lists = await Promise.all(
    files.map(async (f) => parse(await readFile(join(chart, 'files', f), 'utf8')) as Rule[]),
  );
  return lists.flat();
}

const ALL_FEATURES = [
  'monitoring.serviceMonitor.enabled=true',
  'monitoring.podMonitors.enabled=true',
  'monitoring.grafanaDashboards.enabled=true',
  'monitoring.prometheusRule.enabled=true',
  'dashboard.enabled=true',
  'podDisruptionBudget.enabled=true',
  'podLabels.team=platform',
  'podAnnotations.example\\.com/owner=platform',
  'imagePullSecrets[0].name=regcred',
];

describe('the capstan Helm chart: lint, schema and rendering', () => {
  it('passes helm lint --strict', async () => {
    const out = await helm(['lint', '--strict', chart]);
    expect(out.stdout).toContain('0 chart(s) failed');
    const withAll = await helm(['lint', '--strict', chart, ...ALL_FEATURES.flatMap((s) => ['--set', s])]);
    expect(withAll.stdout).toContain('0 chart(s) failed');
  });

  it('rejects a misspelt value with a message naming the key', async () => {
    const top = await helm(['template', 'cap', chart, '--set', 'replicaCont=3'], { allowFailure: true });
    expect(top.code).not.toBe(0);
    expect(top.stderr).toContain("additional properties 'replicaCont' not allowed");
    const nested = await helm(['template', 'cap', chart, '--set', 'monitoring.serviceMonitor.intervall=1m'], {
      allowFailure: true,
    });
    expect(nested.code).not.toBe(0);
    expect(nested.stderr).toContain(
      "at '/monitoring/serviceMonitor': additional properties 'intervall' not allowed",
    );
    const dir = await mkdtemp(join(tmpdir(), 'capstan-values-'));
    try {
      await writeFile(join(dir, 'values.yaml'), 'securityContext:\n  readOnlyRootFileSystem: true\n');
      const file = await helm(['template', 'cap', chart, '-f', join(dir, 'values.yaml')], {
        allowFailure: true,
      });
      expect(file.code).not.toBe(0);
      expect(file.stderr).toContain("additional properties 'readOnlyRootFileSystem' not allowed");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const wrongType = await helm(['template', 'cap', chart, '--set', 'replicaCount=two'], {
      allowFailure: true,
    });
    expect(wrongType.stderr).toContain("at '/replicaCount'");
    // Every documented value and the optional features' blocks pass.
    await render(ALL_FEATURES);
  });

  it('renders the defaults: restricted pods, a PDB, spread over nodes, the CRD kept on uninstall', async () => {
    const docs = await render([]);
    const deployment = docs.find((d) => d.kind === 'Deployment')!;
    const pod = (deployment.spec as unknown as Deployment['spec']).template.spec;
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod.containers[0]!.securityContext).toEqual({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(pod.topologySpreadConstraints).toEqual([
      expect.objectContaining({
        topologyKey: 'kubernetes.io/hostname',
        whenUnsatisfiable: 'ScheduleAnyway',
        labelSelector: {
          matchLabels: { 'app.kubernetes.io/name': 'capstan-operator', 'app.kubernetes.io/instance': 'cap' },
        },
      }),
    ]);
    expect(pod.imagePullSecrets).toBeUndefined();
    const pdb = docs.find((d) => d.kind === 'PodDisruptionBudget')!;
    expect(pdb.spec).toMatchObject({ maxUnavailable: 1 });
    const crd = docs.find((d) => d.kind === 'CustomResourceDefinition')!;
    expect(crd.metadata.name).toBe(CRD_NAME);
    expect(crd.metadata.annotations?.['helm.sh/resource-policy']).toBe('keep');
    // The template's CRD is the generated one (make manifests keeps the chart's copy in sync with crds/).
    const generated = parse(
      await readFile(join(root, 'crds/capstan.dev_distributedapps.yaml'), 'utf8'),
    ) as Manifest;
    expect(crd.spec).toEqual(generated.spec);
    expect((await render(['crds.install=false'])).some((d) => d.kind === 'CustomResourceDefinition')).toBe(
      false,
    );

    const custom = await render([
      'podLabels.team=platform',
      'podLabels.app\\.kubernetes\\.io/name=other',
      'podAnnotations.a=b',
      'priorityClassName=high',
      'imagePullSecrets[0].name=regcred',
      'podDisruptionBudget.minAvailable=1',
    ]);
    const tpl = (custom.find((d) => d.kind === 'Deployment')!.spec as unknown as Deployment['spec']).template;
    // The chart's own labels win: the apps' NetworkPolicies admit the operator by them.
    expect(tpl.metadata.labels).toMatchObject({
      team: 'platform',
      'app.kubernetes.io/name': 'capstan-operator',
    });
    expect(tpl.metadata.annotations).toEqual({ a: 'b' });
    expect(tpl.spec.priorityClassName).toBe('high');
    expect(tpl.spec.imagePullSecrets).toEqual([{ name: 'regcred' }]);
    expect(custom.find((d) => d.kind === 'PodDisruptionBudget')!.spec).toMatchObject({ minAvailable: 1 });
    expect(custom.find((d) => d.kind === 'PodDisruptionBudget')!.spec).not.toHaveProperty('maxUnavailable');
  });

  it("sets the operator process's runtime from values.runtime: NODE_OPTIONS and MALLOC_ARENA_MAX", async () => {
    const envOf = async (set: string[]): Promise<unknown> => {
      const deployment = (await render(set)).find((d) => d.kind === 'Deployment')!;
      const container = (deployment.spec as unknown as Deployment['spec']).template.spec.containers[0] as {
        env?: unknown;
      };
      return container.env;
    };
    expect(await envOf([])).toEqual([
      { name: 'NODE_OPTIONS', value: '--max-semi-space-size=2' },
      { name: 'MALLOC_ARENA_MAX', value: '2' },
    ]);
    expect(await envOf(['runtime.nodeOptions=--max-old-space-size=200', 'runtime.mallocArenaMax=4'])).toEqual(
      [
        { name: 'NODE_OPTIONS', value: '--max-old-space-size=200' },
        { name: 'MALLOC_ARENA_MAX', value: '4' },
      ],
    );
    const zero = await helm(['template', 'cap', chart, '--set', 'runtime.mallocArenaMax=0'], {
      allowFailure: true,
    });
    expect(zero.code).not.toBe(0);
    expect(zero.stderr).toContain("at '/runtime/mallocArenaMax': minimum: got 0, want 1");
  });

  it('renders a helm test pod of the operator image that reads the metrics through the Service', async () => {
    const docs = await render([]);
    const test = docs.find((d) => d.metadata.annotations?.['helm.sh/hook'] === 'test')!;
    expect(test.kind).toBe('Pod');
    const spec = test.spec as { containers: { image: string; command: string[] }[] };
    expect(spec.containers[0]!.image).toBe('ghcr.io/capstan-dev/capstan:0.1.0');
    expect(spec.containers[0]!.command.join(' ')).toContain(
      'http://cap-operator-metrics.capstan-system.svc:8080/metrics',
    );
    // Not selected by the operator's Service or PodDisruptionBudget.
    expect(test.metadata.labels?.['app.kubernetes.io/name']).not.toBe('capstan-operator');
    const off = await render(['metrics.service.enabled=false']);
    expect(off.some((d) => d.metadata.annotations?.['helm.sh/hook'] === 'test')).toBe(false);
  });

  it('in namespaced mode grants namespaced rules by a Role in each listed namespace only, the rest by a small ClusterRole', async () => {
    const docs = await render(['watchNamespaces={team-a,team-b}']);
    const scoped = await clusterScopedResources();
    const roles = docs.filter((d) => d.kind === 'Role' && !d.metadata.name.endsWith('-leader-election'));
    expect(roles.map((r) => r.metadata.namespace).sort()).toEqual(['team-a', 'team-b']);
    const bindings = docs.filter(
      (d) => d.kind === 'RoleBinding' && !d.metadata.name.endsWith('-leader-election'),
    );
    expect(bindings.map((r) => r.metadata.namespace).sort()).toEqual(['team-a', 'team-b']);
    const leader = docs.filter((d) => d.metadata.name.endsWith('-leader-election'));
    expect(leader.map((d) => `${d.kind}/${d.metadata.namespace}`).sort()).toEqual([
      'Role/capstan-system',
      'RoleBinding/capstan-system',
    ]);
    const clusterRoles = docs.filter((d) => d.kind === 'ClusterRole');
    expect(clusterRoles).toHaveLength(1);
    const clusterRules = clusterRoles[0]!.rules!;
    for (const rule of clusterRules) {
      for (const res of rule.resources ?? [])
        expect([res, isClusterScoped(rule, res, scoped)]).toEqual([res, true]);
    }
    for (const rule of roles[0]!.rules!) {
      for (const res of rule.resources ?? [])
        expect([res, isClusterScoped(rule, res, scoped)]).toEqual([res, false]);
    }
    // Together they grant exactly the operator's rules; Nodes (failed-node handling) stay cluster-wide.
    const all = await render([]);
    const fullRules = all.find((d) => d.kind === 'ClusterRole')!.rules!;
    expect(fullRules).toEqual(await chartRules());
    expect(grants([...clusterRules, ...roles[0]!.rules!])).toEqual(grants(fullRules));
    expect(grants(clusterRules)).toContain('/nodes:watch');
    const args = (docs.find((d) => d.kind === 'Deployment')!.spec as unknown as Deployment['spec']).template
      .spec.containers[0]!.args;
    expect(args).toContain('--namespaces=team-a,team-b');
  });
});

// Against the integration harness's API server: kwok nodes make the operator's pods Ready without
// running them, so `helm install --wait` works; the helm test pod would never finish there (no
// container runs), so `helm test` itself runs only on real nodes.
describe('the capstan Helm chart on the API server', () => {
  let ns: string;
  let appNs: string;
  let workDir: string;
  const release = 'cap';
  const sa = () => `--as=system:serviceaccount:${ns}:${release}-operator`;
  const can = async (args: string[]) =>
    (await kubectl(['auth', 'can-i', ...args, sa()], { allowFailure: true })).stdout.trim();

  beforeAll(async () => {
    ns = await createNamespace('chart');
    appNs = await createNamespace('chart-apps');
    for (const n of [ns, appNs]) {
      await kubectl(['label', 'namespace', n, 'pod-security.kubernetes.io/enforce=restricted']);
    }
    workDir = await mkdtemp(join(tmpdir(), 'capstan-chart-'));
  });
  afterAll(async () => {
    await helm(['uninstall', release, '-n', ns, '--wait'], { allowFailure: true });
    // Put back the generated CRD in case a test stopped while the changed one was served.
    await kubectl(['apply', '--server-side', '--force-conflicts', '-f', join(root, 'crds')], {
      allowFailure: true,
    });
    await kubectl(['delete', 'namespace', ns, appNs, '--wait=false'], { allowFailure: true });
    await rm(workDir, { recursive: true, force: true });
  });

  it('server-side dry-runs everything it renders with all features on (monitoring CRDs aside)', async () => {
    const docs = await render([...ALL_FEATURES, `watchNamespaces={${ns},${appNs}}`], ns);
    const monitoring = docs.filter((d) => d.apiVersion.startsWith('monitoring.coreos.com/'));
    const rest = docs.filter((d) => !d.apiVersion.startsWith('monitoring.coreos.com/'));
    // The Prometheus operator's CRDs are not installed here; those objects are only rendered.
    for (const m of monitoring) expect(['ServiceMonitor', 'PodMonitor', 'PrometheusRule']).toContain(m.kind);
    const input = rest.map((d) => `---\n${stringify(d)}`).join('');
    const out = await kubectl(['apply', '--dry-run=server', '-f', '-'], { input });
    expect(out.stderr).not.toMatch(/PodSecurity|would violate/);
    const kinds = new Set(rest.map((d) => d.kind));
    for (const kind of [
      'Deployment',
      'PodDisruptionBudget',
      'Role',
      'ClusterRole',
      'CustomResourceDefinition',
      'Pod',
    ]) {
      expect(kinds).toContain(kind);
    }
    // Nothing was created.
    const listed = await kubectl(['get', 'deployment,pdb', '-n', ns, '-o', 'name']);
    expect(listed.stdout.trim()).toBe('');
  });

  it('installs in namespaced mode: Ready, locked down, Roles in the watched namespaces only', async () => {
    // The CRD exists already, without Helm's ownership metadata, as after `make install` or an install
    // of the chart from before the CRD was a template (and as other suites on this API server apply it):
    // --take-ownership adopts it into the release, as installOperator (hack/demo/kube-steps.ts) does.
    await kubectl(['apply', '--server-side', '--force-conflicts', '-f', join(root, 'crds')]);
    await waitCrdEstablished(CRD_NAME);
    const refused = await helm(['install', release, chart, '-n', ns, '--dry-run=server'], {
      allowFailure: true,
    });
    expect(refused.stderr).toContain('invalid ownership metadata');
    await helm([
      'upgrade',
      '--install',
      release,
      chart,
      '-n',
      ns,
      '--set',
      `watchNamespaces={${ns},${appNs}}`,
      '--take-ownership',
      '--wait',
      '--timeout',
      '2m',
    ]);
    await waitCrdEstablished(CRD_NAME);
    const deployment = await waitFor('the operator Deployment to be ready', async () => {
      const d = await getJson<Deployment>(['-n', ns, 'deployment', `${release}-operator`]);
      return d.status?.readyReplicas === 2 ? d : undefined;
    });
    const pod = deployment.spec.template.spec;
    expect(deployment.spec.template.metadata.labels['app.kubernetes.io/name']).toBe('capstan-operator');
    expect(pod.serviceAccountName).toBe(`${release}-operator`);
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.securityContext.seccompProfile?.type).toBe('RuntimeDefault');
    expect(pod.containers[0]!.securityContext).toEqual({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(pod.containers[0]!.args).toContain(`--namespaces=${ns},${appNs}`);
    expect(pod.containers[0]!.args).toContain(`--leader-election-namespace=${ns}`);
    await getJson(['-n', ns, 'pdb', `${release}-operator`]);

    expect(await can(['list', 'distributedapps.capstan.dev', '-n', appNs])).toBe('yes');
    expect(await can(['delete', 'pods', '-n', appNs])).toBe('yes');
    expect(await can(['list', 'distributedapps.capstan.dev', '-n', 'default'])).toBe('no');
    expect(await can(['list', 'secrets', '-n', 'default'])).toBe('no');
    expect(await can(['list', 'distributedapps.capstan.dev', '--all-namespaces'])).toBe('no');
    expect(await can(['watch', 'nodes'])).toBe('yes');
    expect(await can(['create', 'leases.coordination.k8s.io', '-n', ns])).toBe('yes');
    expect(await can(['create', 'leases.coordination.k8s.io', '-n', 'default'])).toBe('no');

    // helm test's pod is part of the release (run on real nodes: `helm test cap -n <ns>`).
    const hooks = await helm(['get', 'hooks', release, '-n', ns]);
    expect(hooks.stdout).toContain(`name: ${release}-operator-test`);
    const notes = await helm(['get', 'notes', release, '-n', ns]);
    expect(notes.stdout).toContain(`kubectl apply -n ${ns} -f examples/minimal.yaml`);
    expect(notes.stdout).toContain(`port-forward service/${release}-operator-metrics 8080:8080`);
  });

  it('helm upgrade to a chart with a changed CRD serves the new CRD; the DistributedApps stay', async () => {
    await kubectl(['apply', '-n', appNs, '-f', join(root, 'examples/minimal.yaml')]);
    const app = await getJson<{ metadata: { uid: string } }>(['-n', appNs, 'dapp', 'hello']);

    // The next chart version: one more printer column in its CRD, and cluster-wide mode.
    const next = join(workDir, 'capstan');
    await cp(chart, next, { recursive: true });
    const crdPath = join(next, CHART_CRD);
    const crdText = await readFile(crdPath, 'utf8');
    const changed = crdText.replace(
      'additionalPrinterColumns:\n',
      'additionalPrinterColumns:\n        - name: Upgraded\n          type: string\n          jsonPath: .metadata.name\n          priority: 1\n',
    );
    expect(changed).not.toBe(crdText);
    await writeFile(crdPath, changed);
    const chartYaml = await readFile(join(next, 'Chart.yaml'), 'utf8');
    await writeFile(join(next, 'Chart.yaml'), chartYaml.replace(/^version: .*$/m, 'version: 0.1.1-upgrade'));

    await helm(['upgrade', release, next, '-n', ns, '--reset-values', '--wait', '--timeout', '2m']);
    const columns = async () =>
      (await getJson<Crd>(['crd', CRD_NAME])).spec.versions[0]!.additionalPrinterColumns?.map(
        (c) => c.name,
      ) ?? [];
    expect(await columns()).toContain('Upgraded');
    const wide = await kubectl(['get', 'dapp', 'hello', '-n', appNs, '-o', 'wide']);
    expect(wide.stdout.split('\n')[0]).toContain('UPGRADED');
    expect((await getJson<{ metadata: { uid: string } }>(['-n', appNs, 'dapp', 'hello'])).metadata.uid).toBe(
      app.metadata.uid,
    );
    // Cluster-wide now: the per-namespace Roles went, the ClusterRole has every rule.
    expect(await can(['list', 'distributedapps.capstan.dev', '--all-namespaces'])).toBe('yes');
    const roles = await kubectl(['get', 'role', `${release}-operator`, '-n', appNs], { allowFailure: true });
    expect(roles.code).not.toBe(0);

    // And back to this chart: its CRD is served again.
    await helm(['upgrade', release, chart, '-n', ns, '--reset-values', '--wait', '--timeout', '2m']);
    expect(await columns()).not.toContain('Upgraded');
  });

  it('helm uninstall leaves the CRD and the DistributedApps', async () => {
    const crdBefore = await getJson<Crd>(['crd', CRD_NAME]);
    const app = await getJson<{ metadata: { uid: string } }>(['-n', appNs, 'dapp', 'hello']);
    const out = await helm(['uninstall', release, '-n', ns, '--wait']);
    expect(out.stdout).toMatch(
      /kept due to the resource policy:\s+\[CustomResourceDefinition\] distributedapps\.capstan\.dev/,
    );
    const deployments = await kubectl(['get', 'deployment', '-n', ns, '-o', 'name']);
    expect(deployments.stdout.trim()).toBe('');
    const clusterRole = await kubectl(['get', 'clusterrole', `${release}-operator`], { allowFailure: true });
    expect(clusterRole.code).not.toBe(0);
    const crdAfter = await getJson<Crd>(['crd', CRD_NAME]);
    expect(crdAfter.metadata.uid).toBe(crdBefore.metadata.uid);
    expect((await getJson<{ metadata: { uid: string } }>(['-n', appNs, 'dapp', 'hello'])).metadata.uid).toBe(
      app.metadata.uid,
    );
  });
});
