/**
 * The coordinator set's dialling of in-cluster ensembles, with the tunnel as the faked boundary: every
 * attempt to reach an in-cluster ensemble opens a tunnel first, so the tunnel's calls are the attempts.
 * (The rebalancing itself is tested against a real ZooKeeper in the integration suite.)
 */
import { describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import type { DistributedApp } from '../../../../operator/src/api/schema.ts';
import { IN_CLUSTER_BACKOFF } from '../../../../operator/src/coordination/backoff.ts';
import { CoordinationMetrics } from '../../../../operator/src/coordination/coordination-metrics.ts';
import { Coordinators } from '../../../../operator/src/coordination/coordinators.ts';
import { ManualClock, ObjectStore, silentLogger } from '../../../../operator/src/runtime/index.ts';
import { advance, manualTimers, settle, storedApp } from './helpers.ts';

function memberPod(ordinal: number, ready: boolean): V1Pod {
  return {
    metadata: { name: `shop-zookeeper-${ordinal}`, namespace: 'demo' },
    status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  };
}

function harness() {
  const clock = new ManualClock(0);
  const apps = new ObjectStore<DistributedApp>();
  const pods = new ObjectStore<V1Pod>();
  const attempts: number[] = [];
  const registry = new Registry();
  const coordinators = new Coordinators({
    apps,
    pods,
    metrics: new CoordinationMetrics(registry),
    logger: silentLogger(),
    timers: manualTimers(clock),
    random: () => 0,
    tunnel: {
      open: () => {
        attempts.push(clock.now());
        return Promise.reject(new Error('pods "shop-zookeeper-0" not reachable'));
      },
    },
  });
  apps.put(storedApp('shop', { coordination: { zookeeper: { replicas: 3 } } }));
  /** The app's `capstan_coordinator_connection_attempts_total`, or undefined without a series. */
  const counted = async (): Promise<number | undefined> => {
    const line = (await registry.metrics())
      .split('\n')
      .find((l) =>
        l.startsWith('capstan_coordinator_connection_attempts_total{namespace="demo",app="shop"}'),
      );
    return line === undefined ? undefined : Number(line.split(' ').pop());
  };
  return { clock, pods, attempts, coordinators, counted };
}

describe('Coordinators with the pod cache', () => {
  it('dials an in-cluster ensemble only once a quorum of its members is Ready, at the next sync', async () => {
    const { clock, pods, attempts, coordinators, counted } = harness();
    pods.put(memberPod(0, true));
    pods.put(memberPod(1, false));
    coordinators.sync();
    await advance(clock, 60_000, 1_000);
    expect(attempts).toEqual([]);
    expect(await counted()).toBe(0);
    pods.put(memberPod(1, true));
    coordinators.sync();
    await settle();
    expect(attempts).toEqual([60_000]);
    expect(await counted()).toBe(1);
    await coordinators.close();
  });

  it('backs off to minutes while nothing changes and tries again at once when readiness changes', async () => {
    const { clock, pods, attempts, coordinators, counted } = harness();
    for (const i of [0, 1, 2]) pods.put(memberPod(i, true));
    coordinators.sync();
    await settle();
    // 1 s doubling: attempts at 0, 1, 3, 7 ... s, then one per 5 minutes.
    for (let t = 0; t < 1_800_000; t += 2_000) {
      await advance(clock, 2_000, 2_000);
      coordinators.sync();
    }
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
    expect(Math.max(...gaps)).toBeGreaterThan(IN_CLUSTER_BACKOFF.maxMs - 2_000);
    expect(gaps.every((g) => g <= IN_CLUSTER_BACKOFF.maxMs + 2_000)).toBe(true);
    const before = attempts.length;
    // One member restarts: not Ready, then Ready again; each change is one attempt at most, now.
    pods.put(memberPod(2, false));
    coordinators.sync();
    await settle();
    pods.put(memberPod(2, true));
    coordinators.sync();
    await settle();
    expect(attempts.slice(before)).toEqual([clock.now(), clock.now()]);
    expect(await counted()).toBe(attempts.length);
    await coordinators.close();
  });
});
