/**
 * The chart's monitoring: the alerts pass `promtool check rules` and `promtool test rules` (a case where
 * each alert fires and one where it does not), each alert has a severity and a runbook page, and
 * `helm template` with every monitoring value on renders the ServiceMonitor, the PodMonitors, the
 * PrometheusRule (the same rules, still valid) and one dashboard ConfigMap per dashboard. Needs no
 * cluster (CAPSTAN_TEST_KUBECONFIG=/nonexistent/not-used skips starting one); dashboards.test.ts runs the
 * dashboards' queries against a real Prometheus.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { runTool, toolsBin } from '../../harness/kube.ts';

const root = resolve(import.meta.dirname, '../../..');
const chart = join(root, 'charts/capstan');
const ALERTS = join(chart, 'files/prometheus/alerts.yaml');
const ALERT_TESTS = join(import.meta.dirname, 'prometheus-alerts.test.yaml');
const RUNBOOK_BASE = 'https://github.com/capstan-dev/capstan/blob/main/docs/runbooks/';

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: { name: string; rules: AlertRule[] }[];
}
interface RuleTests {
  rule_files: string[];
  tests: { name: string; alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
}
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

const promtool = (args: string[]) => runTool('promtool', args, { allowFailure: true });

async function render(set: string[]): Promise<Manifest[]> {
  const args = ['template', 'cap', chart, '-n', 'capstan-system', ...set.flatMap((s) => ['--set', s])];
  const out = await runTool('helm', args);
  return parseAllDocuments(out.stdout)
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

const MONITORING = [
  'monitoring.serviceMonitor.enabled=true',
  'monitoring.podMonitors.enabled=true',
  'monitoring.grafanaDashboards.enabled=true',
  'monitoring.prometheusRule.enabled=true',
];

describe('the alerts', () => {
  let rules: AlertRule[];
  beforeAll(async () => {
    if (!existsSync(join(toolsBin(), 'promtool')))
      throw new Error(`no promtool in ${toolsBin()}: run make tools (hack/build-tools.sh prometheus)`);
    rules = (parse(await readFile(ALERTS, 'utf8')) as RuleFile).groups.flatMap((g) => g.rules);
  });

  it('pass promtool check rules', async () => {
    const out = await promtool(['check', 'rules', ALERTS]);
    expect({ code: out.code, output: out.stdout + out.stderr }).toEqual({
      code: 0,
      output: expect.stringContaining(`SUCCESS: ${rules.length} rules found`),
    });
  });

  it('pass promtool test rules, with a case where each fires and one where it does not', async () => {
    const out = await promtool(['test', 'rules', ALERT_TESTS]);
    expect({ code: out.code, output: out.stdout + out.stderr }).toEqual({
      code: 0,
      output: expect.stringContaining('SUCCESS'),
    });
    const cases = (parse(await readFile(ALERT_TESTS, 'utf8')) as RuleTests).tests.flatMap(
      (t) => t.alert_rule_test ?? [],
    );
    for (const { alert } of rules) {
      const mine = cases.filter((c) => c.alertname === alert);
      expect({ alert, fires: mine.some((c) => c.exp_alerts.length > 0) }).toEqual({ alert, fires: true });
      expect({ alert, quiet: mine.some((c) => c.exp_alerts.length === 0) }).toEqual({ alert, quiet: true });
    }
  });

  it('fail promtool test rules when a case expects what does not happen', async () => {
    // The runner above would pass vacuously if promtool ignored the cases: break one on purpose.
    const dir = await mkdtemp(join(tmpdir(), 'capstan-alerts-'));
    try {
      const tests = parse(await readFile(ALERT_TESTS, 'utf8')) as RuleTests;
      tests.rule_files = [ALERTS];
      const first = tests.tests[0]!.alert_rule_test![0]!;
      first.exp_alerts = [{ exp_labels: { severity: 'warning' } }];
      await writeFile(join(dir, 'broken.test.yaml'), stringify(tests));
      const out = await promtool(['test', 'rules', join(dir, 'broken.test.yaml')]);
      expect(out.code).not.toBe(0);
      expect(out.stdout + out.stderr).toContain('FAILED');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('each have a severity, a summary and a runbook page that says what, how to check and what to do', async () => {
    const pages = new Set(await readdir(join(root, 'docs/runbooks')));
    const seen = new Set<string>();
    for (const rule of rules) {
      expect({ alert: rule.alert, severity: rule.labels?.severity }).toEqual({
        alert: rule.alert,
        severity: expect.stringMatching(/^(critical|warning|info)$/),
      });
      expect(rule.annotations?.summary).toBeTruthy();
      const url = rule.annotations?.runbook_url ?? '';
      expect(url.startsWith(RUNBOOK_BASE)).toBe(true);
      const page = url.slice(RUNBOOK_BASE.length);
      expect({ alert: rule.alert, page, exists: pages.has(page) }).toEqual({
        alert: rule.alert,
        page,
        exists: true,
      });
      seen.add(page);
      const text = await readFile(join(root, 'docs/runbooks', page), 'utf8');
      expect(text).toContain(`# ${rule.alert}`);
      for (const section of ['## What it means', '## How to check', '## What to do'])
        expect({ page, has: text.includes(section) }).toEqual({ page, has: true });
    }
    // One page per alert.
    expect(seen.size).toBe(rules.length);
    expect(existsSync(join(root, 'docs/runbooks/README.md'))).toBe(true);
  });
});

describe('helm template with the monitoring values', () => {
  let docs: Manifest[];
  let dir: string;
  beforeAll(async () => {
    docs = await render([...MONITORING, 'monitoring.podMonitors.labels.release=prom']);
    dir = await mkdtemp(join(tmpdir(), 'capstan-monitoring-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const ofKind = (kind: string) => docs.filter((d) => d.kind === kind);

  it('renders none of them by default', async () => {
    const plain = await render([]);
    expect(plain.filter((d) => d.apiVersion.startsWith('monitoring.coreos.com/'))).toEqual([]);
    expect(plain.filter((d) => d.metadata.labels?.grafana_dashboard !== undefined)).toEqual([]);
  });

  it('renders a ServiceMonitor of the operator metrics Service that keeps the apps’ labels', () => {
    const [monitor] = ofKind('ServiceMonitor');
    expect(monitor?.apiVersion).toBe('monitoring.coreos.com/v1');
    const service = ofKind('Service').find((s) => s.metadata.name === 'cap-operator-metrics')!;
    const selector = (monitor!.spec as { selector: { matchLabels: Record<string, string> } }).selector;
    expect(service.metadata.labels).toMatchObject(selector.matchLabels);
    expect(monitor!.spec).toMatchObject({
      jobLabel: 'app.kubernetes.io/name',
      namespaceSelector: { matchNames: ['capstan-system'] },
      endpoints: [{ port: 'metrics', path: '/metrics', interval: '30s', honorLabels: true }],
    });
    // job="capstan-operator" in the rules and dashboards comes from this label of the Service.
    expect(service.metadata.labels?.['app.kubernetes.io/name']).toBe('capstan-operator');
  });

  it('fails rather than render a ServiceMonitor without the metrics Service', async () => {
    const out = await runTool(
      'helm',
      ['template', 'cap', chart, '--set', MONITORING[0]!, '--set', 'metrics.service.enabled=false'],
      { allowFailure: true },
    );
    expect(out.code).not.toBe(0);
    expect(out.stderr).toContain('monitoring.serviceMonitor.enabled needs metrics.service.enabled');
  });

  it('renders PodMonitors of the workers’ http port and HAProxy’s stats port, with the labels asked for', async () => {
    const monitors = ofKind('PodMonitor');
    expect(monitors.map((m) => m.metadata.name).sort()).toEqual([
      'cap-operator-haproxy',
      'cap-operator-workers',
    ]);
    const byName = (suffix: string) => monitors.find((m) => m.metadata.name.endsWith(suffix))!;
    // The labels and port names of the pods the operator builds (operator/src/model/).
    expect(byName('workers').spec).toMatchObject({
      namespaceSelector: { any: true },
      selector: { matchLabels: { 'app.kubernetes.io/name': 'capstan-worker' } },
      podMetricsEndpoints: [{ port: 'http', path: '/metrics' }],
    });
    expect(byName('haproxy').spec).toMatchObject({
      selector: { matchLabels: { 'app.kubernetes.io/name': 'haproxy' } },
      podMetricsEndpoints: [{ port: 'stats', path: '/metrics' }],
    });
    for (const monitor of monitors) {
      expect(monitor.metadata.labels).toMatchObject({ release: 'prom', 'app.kubernetes.io/instance': 'cap' });
      const [endpoint] = (monitor.spec as { podMetricsEndpoints: { relabelings: unknown[] }[] })
        .podMetricsEndpoints;
      expect(endpoint!.relabelings).toContainEqual({
        sourceLabels: ['__meta_kubernetes_pod_label_app_kubernetes_io_instance'],
        targetLabel: 'app',
      });
    }
    const namespaced = await render([MONITORING[1]!, 'watchNamespaces={team-a,team-b}']);
    for (const monitor of namespaced.filter((d) => d.kind === 'PodMonitor'))
      expect(monitor.spec).toMatchObject({ namespaceSelector: { matchNames: ['team-a', 'team-b'] } });
  });

  it('renders a PrometheusRule of exactly the alerts file, which promtool still accepts', async () => {
    const [rule] = ofKind('PrometheusRule');
    const file = parse(await readFile(ALERTS, 'utf8')) as RuleFile;
    expect(rule?.spec).toEqual(file);
    const path = join(dir, 'rendered-rules.yaml');
    await writeFile(path, stringify(rule!.spec));
    const out = await promtool(['check', 'rules', path]);
    expect({ code: out.code, output: out.stdout + out.stderr }).toEqual({
      code: 0,
      output: expect.stringContaining('SUCCESS'),
    });
  });

  it('renders one ConfigMap per dashboard for Grafana’s sidecar', async () => {
    const files = (await readdir(join(chart, 'files/dashboards'))).filter((f) => f.endsWith('.json')).sort();
    expect(files.length).toBeGreaterThanOrEqual(2);
    const maps = ofKind('ConfigMap').filter((m) => m.metadata.labels?.grafana_dashboard === '1');
    expect(maps.flatMap((m) => Object.keys(m.data ?? {})).sort()).toEqual(files);
    for (const map of maps) {
      const [name, json] = Object.entries(map.data ?? {})[0]!;
      expect(JSON.parse(json)).toEqual(
        JSON.parse(await readFile(join(chart, 'files/dashboards', name), 'utf8')),
      );
      expect(map.metadata.name.length).toBeLessThanOrEqual(63);
    }
    const relabelled = await render([
      MONITORING[2]!,
      'monitoring.grafanaDashboards.labels.grafana_dashboard=yes',
    ]);
    expect(
      relabelled.filter((m) => m.kind === 'ConfigMap' && m.metadata.labels?.grafana_dashboard === 'yes'),
    ).toHaveLength(files.length);
  });
});
