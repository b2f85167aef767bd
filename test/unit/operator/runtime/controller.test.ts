import { describe, it, expect } from '@jest/globals';
import { Registry } from 'prom-client';
import { ManualClock } from '../../../../operator/src/runtime/clock.ts';
import { Controller } from '../../../../operator/src/runtime/controller.ts';
import { RuntimeMetrics } from '../../../../operator/src/runtime/metrics.ts';
import {
  TerminalError,
  done,
  reconcilerFunc,
  requeueAfter,
  retry,
  terminal,
  type Request,
  type Result,
} from '../../../../operator/src/runtime/reconciler.ts';

/** Resolves once `check` holds, flushing microtasks in between; fails after many rounds. */
async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !check(); i++) await new Promise((r) => setImmediate(r));
  expect(check()).toBe(true);
}

function deferred(): { promise: Promise<Result>; resolve: (r: Result) => void } {
  let resolve!: (r: Result) => void;
  const promise = new Promise<Result>((r) => (resolve = r));
  return { promise, resolve };
}

async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const metric = await registry.getSingleMetric(name)!.get();
  const match = metric.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return match?.value ?? 0;
}

describe('Controller', () => {
  it('bounds concurrency across keys and runs one reconcile per key at a time', async () => {
    const running = new Map<string, ReturnType<typeof deferred>>();
    let maxSeen = 0;
    const calls: string[] = [];
    const reconciler = reconcilerFunc((req: Request) => {
      calls.push(req.name);
      const d = deferred();
      expect(running.has(req.name)).toBe(false);
      running.set(req.name, d);
      maxSeen = Math.max(maxSeen, running.size);
      return d.promise.finally(() => running.delete(req.name));
    });
    const controller = new Controller({
      name: 'c',
      reconciler,
      maxConcurrentReconciles: 2,
      clock: new ManualClock(),
    });
    controller.start();
    for (const name of ['a', 'b', 'c', 'a']) controller.enqueue({ namespace: 'ns', name });
    await until(() => running.size === 2);
    controller.enqueue({ namespace: 'ns', name: 'a' });
    running.get('a')!.resolve(done());
    await until(() => running.has('c') && running.size === 2);
    running.get('b')!.resolve(done());
    await until(() => running.has('a'));
    running.get('c')!.resolve(done());
    running.get('a')!.resolve(done());
    await until(() => running.size === 0 && controller.queue.len() === 0);
    expect(maxSeen).toBe(2);
    expect(calls).toEqual(['a', 'b', 'c', 'a']);
    await controller.stop();
  });

  it('retries errors and exceptions with backoff, forgets on success, honours requeueAfter and terminal', async () => {
    const clock = new ManualClock();
    const registry = new Registry();
    const metrics = new RuntimeMetrics(registry);
    const script: Array<() => Result> = [
      () => retry(new Error('first')),
      () => {
        throw new Error('second');
      },
      () => requeueAfter(60_000),
      () => terminal(new Error('bad input')),
    ];
    let calls = 0;
    const reconciler = reconcilerFunc(() => Promise.resolve().then(() => script[calls++]!()));
    const controller = new Controller({ name: 'retry', reconciler, metrics, clock });
    controller.start();
    controller.enqueue({ namespace: '', name: 'x' });
    await until(() => calls === 1);
    await until(() => controller.queue.numRequeues('x') === 1);
    clock.advance(5);
    await until(() => calls === 2);
    await until(() => controller.queue.numRequeues('x') === 2);
    clock.advance(9);
    await new Promise((r) => setImmediate(r));
    expect(calls).toBe(2);
    clock.advance(1);
    await until(() => calls === 3);
    await until(() => controller.queue.numRequeues('x') === 0 && clock.pendingTimers() === 1);
    clock.advance(60_000);
    await until(() => calls === 4);
    await until(() => controller.activeReconciles() === 0);
    clock.advance(10_000_000);
    await new Promise((r) => setImmediate(r));
    expect(calls).toBe(4);
    expect(
      await metricValue(registry, 'controller_runtime_reconcile_total', {
        controller: 'retry',
        result: 'error',
      }),
    ).toBe(3);
    expect(
      await metricValue(registry, 'controller_runtime_reconcile_total', { result: 'requeue_after' }),
    ).toBe(1);
    expect(
      await metricValue(registry, 'controller_runtime_reconcile_errors_total', { controller: 'retry' }),
    ).toBe(3);
    expect(await metricValue(registry, 'controller_runtime_terminal_reconcile_errors_total', {})).toBe(1);
    expect(await metricValue(registry, 'workqueue_retries_total', { name: 'retry' })).toBe(2);
    await controller.stop();
  });

  it('treats a thrown TerminalError as terminal', async () => {
    let calls = 0;
    const clock = new ManualClock();
    const reconciler = reconcilerFunc(() => {
      calls++;
      return Promise.reject(new TerminalError('never works'));
    });
    const controller = new Controller({ name: 't', reconciler, clock });
    controller.start();
    controller.enqueue({ namespace: 'a', name: 'b' });
    await until(() => calls === 1 && controller.activeReconciles() === 0);
    clock.advance(1_000_000);
    expect(clock.pendingTimers()).toBe(0);
    await controller.stop();
  });

  it('stop() stops taking work and waits for the reconcile in flight', async () => {
    const d = deferred();
    let calls = 0;
    const reconciler = reconcilerFunc(() => {
      calls++;
      return d.promise;
    });
    const controller = new Controller({ name: 's', reconciler, clock: new ManualClock() });
    controller.start();
    controller.enqueue({ namespace: '', name: 'one' });
    await until(() => calls === 1);
    controller.enqueue({ namespace: '', name: 'two' });
    let stopped = false;
    const stopping = controller.stop().then(() => (stopped = true));
    await new Promise((r) => setImmediate(r));
    expect(stopped).toBe(false);
    d.resolve(done());
    await stopping;
    expect(calls).toBe(1);
  });
});
