/** The `capstan_app_*` gauges say what the cached apps' status says, at each scrape. */
import { describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import type { DistributedApp } from '../../../../operator/src/api/schema.ts';
import { registerAppMetrics } from '../../../../operator/src/controller/app-metrics.ts';
import { minimalApp, productionApp } from '../model/fixtures.ts';

function condition(type: string, status: 'True' | 'False' | 'Unknown') {
  return { type, status, reason: 'Test', message: '', lastTransitionTime: '2026-01-01T00:00:00Z' };
}

function withStatus(app: DistributedApp, status: DistributedApp['status']): DistributedApp {
  return { ...app, status };
}

describe('registerAppMetrics', () => {
  it('exports each condition as 1 for its status and 0 for the others', async () => {
    const registry = new Registry();
    const apps: DistributedApp[] = [
      withStatus(minimalApp(), {
        conditions: [condition('Degraded', 'True'), condition('CacheAvailable', 'False')],
      }),
    ];
    registerAppMetrics(registry, { list: () => apps });
    const text = await registry.metrics();
    const series = (type: string, status: string) =>
      `capstan_app_condition{namespace="demo",app="hello",type="${type}",status="${status}"}`;
    expect(text).toContain(`${series('Degraded', 'True')} 1`);
    expect(text).toContain(`${series('Degraded', 'False')} 0`);
    expect(text).toContain(`${series('Degraded', 'Unknown')} 0`);
    expect(text).toContain(`${series('CacheAvailable', 'False')} 1`);

    apps[0] = withStatus(minimalApp(), { conditions: [condition('Degraded', 'False')] });
    const later = await registry.metrics();
    expect(later).toContain(`${series('Degraded', 'False')} 1`);
    expect(later).not.toContain(series('CacheAvailable', 'False'));
  });

  it('exports ready and desired pods of the components the operator runs', async () => {
    const registry = new Registry();
    const shop = withStatus(productionApp(), {
      workers: { desired: 6, current: 6, ready: 5 },
      components: {
        zookeeper: { ready: false, readyReplicas: 1, message: 'ZooKeeper 1/3 ready' },
        redis: { ready: true, readyReplicas: 1, message: 'Redis 1/1 ready' },
        haproxy: { ready: true, readyReplicas: 2, message: 'HAProxy 2/2 ready' },
      },
    });
    const apps = [shop, minimalApp()];
    registerAppMetrics(registry, { list: () => apps });
    const text = await registry.metrics();
    const labels = (app: string, component: string) =>
      `{namespace="demo",app="${app}",component="${component}"}`;
    expect(text).toContain(`capstan_app_component_ready_replicas${labels('shop', 'zookeeper')} 1`);
    expect(text).toContain(`capstan_app_component_desired_replicas${labels('shop', 'zookeeper')} 3`);
    expect(text).toContain(`capstan_app_component_ready_replicas${labels('shop', 'workers')} 5`);
    expect(text).toContain(`capstan_app_component_desired_replicas${labels('shop', 'haproxy')} 2`);
    // No status yet: 0 ready of what the spec asks.
    expect(text).toContain(`capstan_app_component_ready_replicas${labels('hello', 'workers')} 0`);
    expect(text).toContain(`capstan_app_component_desired_replicas${labels('hello', 'workers')} 3`);
  });

  it('has no series for an external ZooKeeper or Redis', async () => {
    const registry = new Registry();
    const base = minimalApp();
    const external: DistributedApp = {
      ...base,
      spec: {
        ...base.spec,
        cache: { external: { url: 'redis://redis.example:6379' } },
        coordination: { external: { connectString: 'zk.example:2181' } },
      },
    };
    registerAppMetrics(registry, { list: () => [external] });
    const text = await registry.metrics();
    expect(text).not.toMatch(/component="(zookeeper|redis)"/);
    expect(text).toMatch(/capstan_app_component_desired_replicas\{[^}]*component="workers"\} 3/);
  });
});
