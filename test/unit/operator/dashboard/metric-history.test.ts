import { describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import { RuntimeMetrics } from '../../../../operator/src/runtime/index.ts';
import { MetricHistory } from '../../../../operator/src/dashboard/metric-history.ts';
import { pointBetween, quantile, sampleOf } from '../../../../operator/src/dashboard/metrics-sample.ts';
import { RingBuffer } from '../../../../operator/src/dashboard/ring-buffer.ts';
import type { Timers } from '../../../../common/src/timers.ts';

describe('RingBuffer', () => {
  it('keeps the last `capacity` items, oldest first', () => {
    const ring = new RingBuffer<number>(3);
    expect(ring.toArray()).toEqual([]);
    for (let i = 1; i <= 7; i++) ring.push(i);
    expect(ring.toArray()).toEqual([5, 6, 7]);
    expect(ring.size).toBe(3);
  });

  it('refuses a capacity below 1', () => {
    expect(() => new RingBuffer(0)).toThrow(RangeError);
  });
});

describe('quantile', () => {
  it('interpolates inside the bucket as histogram_quantile does', () => {
    const buckets = [
      [0.1, 50],
      [0.5, 90],
      [1, 100],
      [Infinity, 100],
    ] as const;
    expect(quantile(buckets, 0.5)).toBeCloseTo(0.1);
    expect(quantile(buckets, 0.99)).toBeCloseTo(0.95);
    expect(quantile([[Infinity, 0]], 0.99)).toBeNull();
    expect(
      quantile(
        [
          [1, 0],
          [Infinity, 4],
        ],
        0.99,
      ),
    ).toBe(1);
  });
});

/** Timers whose one pending timeout runs when the test says. */
function manualTimers(): Timers & { fire(): void; now_: number } {
  let pending: (() => void) | undefined;
  const timers = {
    now_: 0,
    now: () => timers.now_,
    setTimeout: (fn: () => void) => ((pending = fn), 1),
    clearTimeout: () => (pending = undefined),
    fire: () => {
      const fn = pending;
      pending = undefined;
      fn?.();
    },
  };
  return timers;
}

describe('MetricHistory', () => {
  it('turns samples of the real runtime metrics into rates, depth and p99, bounded', async () => {
    const registry = new Registry();
    const metrics = new RuntimeMetrics(registry);
    const controller = metrics.controller('distributedapp', 1);
    const timers = manualTimers();
    const history = new MetricHistory({ registry, intervalMs: 10_000, capacity: 2, timers });
    await history.sample();
    for (let i = 0; i < 20; i++) controller.reconciled('success', 0.02);
    controller.reconcileError(false);
    metrics.request('GET', '200');
    metrics.request('PATCH', '500');
    timers.now_ = 10_000;
    await history.sample();
    const [point] = history.points();
    expect(point).toMatchObject({ time: 10_000, reconcileRate: 2, errorRate: 0.1, apiRequestRate: 0.2 });
    expect(point?.p99Seconds).toBeGreaterThan(0.01);
    expect(point?.p99Seconds).toBeLessThanOrEqual(0.025);
    expect(history.latest()).toMatchObject({
      reconciles: 20,
      reconcileErrors: 1,
      apiRequests: 2,
      apiErrors: 1,
    });
    for (let t = 2; t <= 4; t++) {
      timers.now_ = t * 10_000;
      await history.sample();
    }
    expect(history.points().map((p) => p.time)).toEqual([30_000, 40_000]);
    expect(history.points()[1]?.p99Seconds).toBeNull();
    history.stop();
  });

  it('counts a counter that went down from zero', () => {
    const sample = (reconciles: number, time: number) => ({
      ...sampleOf([], time),
      reconciles,
    });
    expect(pointBetween(sample(100, 0), sample(5, 1000)).reconcileRate).toBe(5);
  });
});
