/**
 * Prometheus gauges of every cached DistributedApp, read from the apps' status at each scrape (so they say
 * what `kubectl get dapp -o yaml` says, and cost nothing between scrapes):
 * - `capstan_app_condition{namespace,app,type,status}`: 1 for each condition's current status (`True`,
 *   `False` or `Unknown`), 0 for the other two, as kube-state-metrics reports pod conditions;
 * - `capstan_app_component_ready_replicas{namespace,app,component}` and
 *   `capstan_app_component_desired_replicas{namespace,app,component}`: ready and wanted pods of each
 *   component the operator runs (`workers`, `zookeeper`, `redis`, `haproxy`; external ones have no
 *   series). A ZooKeeper ensemble has quorum while ready > desired / 2.
 * Every replica that caches the apps exports them (the status is the same in all), so queries aggregate
 * with `max by (namespace, app, ...)`. A deleted app's series disappear with it from the cache.
 */
import { Gauge, type Registry } from 'prom-client';
import type { DistributedApp } from '../api/schema.ts';
import type { Component } from '../model/labels.ts';
import { desiredReplicas } from '../model/status-components.ts';
import type { Store } from '../runtime/index.ts';

const STATUSES = ['True', 'False', 'Unknown'] as const;
const COMPONENTS: readonly Component[] = ['workers', 'zookeeper', 'redis', 'haproxy'];

type AppLabels = { namespace: string; app: string };

function appLabels(app: DistributedApp): AppLabels {
  return { namespace: app.metadata.namespace ?? '', app: app.metadata.name ?? '' };
}

/** Ready pods of `component` as the app's status reports them. */
function readyReplicas(app: DistributedApp, component: Component): number {
  if (component === 'workers') return app.status?.workers?.ready ?? 0;
  return app.status?.components?.[component]?.readyReplicas ?? 0;
}

/** Registers the gauges on `registry`, reading `apps` at each scrape. Throws when registered twice. */
export function registerAppMetrics(registry: Registry, apps: Pick<Store<DistributedApp>, 'list'>): void {
  const registers = [registry];
  new Gauge({
    name: 'capstan_app_condition',
    help: "1 for the current status of each condition of a DistributedApp's status, 0 for the others",
    labelNames: ['namespace', 'app', 'type', 'status'],
    registers,
    collect() {
      this.reset();
      for (const app of apps.list()) {
        for (const condition of app.status?.conditions ?? []) {
          for (const status of STATUSES) {
            const labels = { ...appLabels(app), type: condition.type, status };
            this.set(labels, condition.status === status ? 1 : 0);
          }
        }
      }
    },
  });
  const components = (name: string, help: string, value: (app: DistributedApp, c: Component) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['namespace', 'app', 'component'],
      registers,
      collect() {
        this.reset();
        for (const app of apps.list()) {
          const desired = desiredReplicas(app);
          for (const component of COMPONENTS) {
            if (desired[component] > 0) this.set({ ...appLabels(app), component }, value(app, component));
          }
        }
      },
    });
  components(
    'capstan_app_component_ready_replicas',
    "Ready pods of each component the operator runs for a DistributedApp, from the app's status",
    readyReplicas,
  );
  components(
    'capstan_app_component_desired_replicas',
    'Pods the DistributedApp asks of each component the operator runs',
    (app, component) => desiredReplicas(app)[component],
  );
}
