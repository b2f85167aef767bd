/**
 * The chart's Grafana dashboards against a real Prometheus: it scrapes a running operator (against the
 * test API server, coordinating an app whose ZooKeeper is the fleet's), a LocalFleet of cache-gateway
 * workers and its HAProxy, with the labels the chart's ServiceMonitor and PodMonitors give them (job,
 * namespace, app, pod). After some traffic every panel query, with the dashboard variables set to all
 * (`.*`), must return at least one series, and every metric a panel names must exist: a panel naming a
 * metric nobody exports fails. The chart's alerts are loaded too and must evaluate without errors.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { freePort, spawnManaged, waitUntil, type ManagedProcess } from '../../../workload/src/local/index.ts';
import { LocalFleet } from '../../../workload/src/local-fleet.ts';
import { toolsBin, waitFor } from '../../harness/kube.ts';
import { applyApp } from '../operator/controller/helpers.ts';
import {
  metricsText,
  operatorSandbox,
  startLeader,
  type OperatorProcess,
  type OperatorSandbox,
} from '../operator/controller/operator-process.ts';
import { appAccess, startWorker, type FakeWorker } from '../operator/coordination/helpers.ts';

const root = resolve(import.meta.dirname, '../../..');
const DASHBOARDS = join(root, 'charts/capstan/files/dashboards');
const ALERTS = join(root, 'charts/capstan/files/prometheus/alerts.yaml');
/** What Grafana would put for the variables: every namespace and app, a rate window of a few scrapes. */
const VARIABLES: Record<string, string> = { namespace: '.*', app: '.*', __rate_interval: '15s' };

interface Target {
  expr: string;
  refId: string;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { uid: string };
  targets?: Target[];
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: string | { query: string } }[] };
}

interface PanelQuery {
  where: string;
  expr: string;
}

function substitute(expr: string): string {
  return expr.replace(/\$\{?(\w+)\}?/g, (whole, name: string) => VARIABLES[name] ?? whole);
}

/** The metric names a query selects (every selector in the dashboards is written `name{...}`). */
function metricNames(expr: string): string[] {
  const withoutStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  return [...withoutStrings.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{/g)].map((m) => m[1]!);
}

async function loadDashboards(): Promise<Dashboard[]> {
  const files = (await readdir(DASHBOARDS)).filter((f) => f.endsWith('.json')).sort();
  return Promise.all(
    files.map(async (f) => JSON.parse(await readFile(join(DASHBOARDS, f), 'utf8')) as Dashboard),
  );
}

function panelQueries(dashboards: Dashboard[]): PanelQuery[] {
  return dashboards.flatMap((d) =>
    d.panels.flatMap((p) =>
      (p.targets ?? []).map((t) => ({ where: `${d.title} / ${p.title} / ${t.refId}`, expr: t.expr })),
    ),
  );
}

/** A Prometheus of hack/tools/prometheus on loopback, with its own data directory. */
class TestPrometheus {
  readonly url: string;
  readonly process: ManagedProcess;
  constructor(url: string, process: ManagedProcess) {
    this.url = url;
    this.process = process;
  }

  static async start(dir: string, config: unknown): Promise<TestPrometheus> {
    const port = await freePort();
    await writeFile(join(dir, 'prometheus.yml'), stringify(config));
    const process = spawnManaged({
      name: 'prometheus',
      command: join(toolsBin(), 'prometheus'),
      args: [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      dir,
    });
    const prometheus = new TestPrometheus(`http://127.0.0.1:${port}`, process);
    await waitUntil(async () => (await fetch(`${prometheus.url}/-/ready`)).ok, {
      what: 'Prometheus ready',
      timeoutMs: 60_000,
      abortReason: () => process.describeExit(),
      details: () => process.logTail(),
    });
    return prometheus;
  }

  async api<T>(path: string, params: Record<string, string> = {}): Promise<T> {
    const response = await fetch(`${this.url}/api/v1/${path}?${new URLSearchParams(params).toString()}`);
    const body = (await response.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`${path} ${JSON.stringify(params)}: ${body.error}`);
    return body.data;
  }

  /** The number of series an instant query returns now. */
  async seriesCount(query: string): Promise<number> {
    return (await this.api<{ result: unknown[] }>('query', { query })).result.length;
  }
}

/**
 * The queries (as `where: query`, with the last error if any) that still return no series after polling
 * them all for `timeoutMs`.
 */
async function unanswered(
  prometheus: TestPrometheus,
  queries: PanelQuery[],
  timeoutMs: number,
): Promise<string[]> {
  const missing = new Map(queries.map((q) => [q.where, { query: substitute(q.expr), error: '' }]));
  const answered = async (entry: { query: string; error: string }): Promise<boolean> => {
    try {
      return (await prometheus.seriesCount(entry.query)) > 0;
    } catch (error) {
      entry.error = error instanceof Error ? error.message : String(error);
      return false;
    }
  };
  const deadline = Date.now() + timeoutMs;
  while (missing.size > 0 && Date.now() < deadline) {
    for (const [where, entry] of missing) if (await answered(entry)) missing.delete(where);
    if (missing.size > 0) await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  return [...missing].map(([where, { query, error }]) => `${where}: ${query}${error ? ` (${error})` : ''}`);
}

describe('the chart’s dashboards on a real Prometheus', () => {
  const fleet = new LocalFleet({
    namespace: 'shop',
    name: 'cart',
    app: 'cache-gateway',
    workers: 2,
    partitions: 8,
    haproxy: { checkIntervalMs: 300 },
    workerEnv: { LOG_LEVEL: 'warn' },
  });
  let sandbox: OperatorSandbox | undefined;
  let operator: OperatorProcess | undefined;
  let fakeWorker: FakeWorker | undefined;
  let prometheus: TestPrometheus | undefined;
  let dir = '';
  let dashboards: Dashboard[];

  beforeAll(async () => {
    if (!existsSync(join(toolsBin(), 'prometheus')))
      throw new Error(`no prometheus in ${toolsBin()}: run make tools (hack/build-tools.sh prometheus)`);
    dashboards = await loadDashboards();
    dir = await mkdtemp(join(tmpdir(), 'capstan-prometheus-'));
    [, sandbox] = await Promise.all([fleet.start(), operatorSandbox('monitor', 1)]);
    // An app the operator coordinates, in the fleet's ZooKeeper (its own path), served by one worker
    // session, so the coordination metrics (rebalances, unowned partitions, ...) exist.
    const ref = { namespace: sandbox.namespace, app: 'orders' };
    await applyApp(ref.namespace, ref.app, {
      workers: { upstream: 'http://backend.default.svc:8080', replicas: 1, partitions: 4 },
      coordination: { external: { connectString: fleet.zookeeper.connectString } },
      failurePolicy: { rebalanceDelaySeconds: 0 },
    });
    operator = await startLeader(sandbox, 'monitor', { extraArgs: ['--coordinate=true'] });
    const access = await appAccess(ref);
    fakeWorker = await startWorker(fleet.zookeeper, ref, 'orders-workers-0', access.worker);
    const rebalanced = `capstan_rebalances_total{namespace="${ref.namespace}",app="orders"`;
    await waitFor('the operator’s first rebalance', async () =>
      (await metricsText(operator!))?.includes(rebalanced) ? true : undefined,
    );
    prometheus = await TestPrometheus.start(dir, scrapeConfig(sandbox.namespace, operator));
  }, 240_000);

  afterAll(async () => {
    await prometheus?.process.stop();
    await operator?.stop();
    await fakeWorker?.client.close();
    await fleet.stop();
    await sandbox?.cleanup();
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  }, 90_000);

  function scrapeConfig(operatorNamespace: string, op: OperatorProcess): unknown {
    const workers = [...fleet.workers.values()];
    const app = { namespace: 'shop', app: 'cart' };
    return {
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
      rule_files: [ALERTS],
      scrape_configs: [
        {
          // As the ServiceMonitor: job from the Service's app.kubernetes.io/name, the apps' labels kept.
          job_name: 'capstan-operator',
          honor_labels: true,
          static_configs: [
            {
              targets: [new URL(op.healthUrl).host],
              labels: { namespace: operatorNamespace, pod: 'capstan-operator-0' },
            },
          ],
        },
        {
          job_name: 'capstan-worker',
          static_configs: workers.map((w) => ({
            targets: [`127.0.0.1:${w.port}`],
            labels: { ...app, pod: w.id },
          })),
        },
        {
          job_name: 'capstan-haproxy',
          static_configs: [
            {
              targets: [`127.0.0.1:${fleet.haproxy.statsPort}`],
              labels: { ...app, pod: 'cart-haproxy-0' },
            },
          ],
        },
      ],
    };
  }

  /** Reads through HAProxy (misses, then hits, one key read at once by many) and straight at each worker. */
  async function traffic(): Promise<void> {
    const get = async (url: string) => (await fetch(url)).arrayBuffer();
    const keys = Array.from({ length: 24 }, (_, i) => `key-${i}`);
    for (let round = 0; round < 2; round++)
      await Promise.all(keys.map((k) => get(`${fleet.url}/v1/cache/${k}`)));
    await Promise.all(Array.from({ length: 8 }, () => get(`${fleet.url}/v1/cache/popular`)));
    // Any worker accepts any key and forwards it to the owner.
    for (const worker of fleet.workers.values())
      await Promise.all(keys.map((k) => get(`${worker.url}/v1/cache/other-${k}`)));
    await get(`${fleet.url}/v1/nothing-here`);
  }

  it('every panel query returns data and names only metrics that exist', async () => {
    await waitFor(
      'Prometheus scraping every target',
      async () => {
        const targets = await prometheus!.api<{ activeTargets: { health: string }[] }>('targets');
        return targets.activeTargets.length === fleet.workers.size + 2 &&
          targets.activeTargets.every((t) => t.health === 'up')
          ? true
          : undefined;
      },
      60_000,
    );
    await traffic();
    const queries = panelQueries(dashboards);
    expect(queries.length).toBeGreaterThan(30);
    // Counters need two scrapes after the traffic within the rate window; poll each query until then.
    const missing = await unanswered(prometheus!, queries, 60_000);
    expect(missing).toEqual([]);

    const names = new Set(await prometheus!.api<string[]>('label/__name__/values'));
    const unknown = queries.flatMap((q) =>
      metricNames(q.expr)
        .filter((name) => !names.has(name))
        .map((name) => `${q.where}: ${name}`),
    );
    expect(unknown).toEqual([]);
  });

  it('every dashboard variable finds values', async () => {
    for (const dashboard of dashboards) {
      for (const variable of dashboard.templating.list.filter((v) => v.type === 'query')) {
        const query = typeof variable.query === 'string' ? variable.query : variable.query.query;
        const match = /^label_values\((.+),\s*(\w+)\)$/.exec(query);
        expect({ variable: variable.name, query, parsed: match !== null }).toEqual({
          variable: variable.name,
          query,
          parsed: true,
        });
        const values = await prometheus!.api<string[]>(`label/${match![2]}/values`, {
          'match[]': substitute(match![1]!),
        });
        expect({ variable: variable.name, found: values.length > 0 }).toEqual({
          variable: variable.name,
          found: true,
        });
      }
    }
  });

  it('has well-formed dashboards: unique ids, a data source variable, queries on every panel', () => {
    for (const dashboard of dashboards) {
      const ids = dashboard.panels.map((p) => p.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(dashboard.templating.list.some((v) => v.type === 'datasource')).toBe(true);
      for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) {
        expect({ panel: panel.title, uid: panel.datasource?.uid }).toEqual({
          panel: panel.title,
          uid: '${datasource}',
        });
        expect({ panel: panel.title, targets: (panel.targets ?? []).length > 0 }).toEqual({
          panel: panel.title,
          targets: true,
        });
      }
    }
  });

  it('evaluates the chart’s alerts on the scraped series without errors', async () => {
    await waitFor(
      'every alerting rule evaluated',
      async () => {
        const data = await prometheus!.api<{
          groups: { rules: { name: string; health: string; lastError?: string }[] }[];
        }>('rules');
        const rules = data.groups.flatMap((g) => g.rules);
        return rules.length > 0 && rules.every((r) => r.health !== 'unknown') ? rules : undefined;
      },
      30_000,
    ).then((rules) => {
      expect(rules.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.lastError}`)).toEqual([]);
    });
  });
});
