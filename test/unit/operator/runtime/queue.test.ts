import { describe, it, expect } from '@jest/globals';
import { ManualClock } from '../../../../operator/src/runtime/clock.ts';
import { ExponentialBackoff, WorkQueue, type QueueObserver } from '../../../../operator/src/runtime/queue.ts';

function recorder(): QueueObserver & { counts: Record<string, number>; depths: number[] } {
  const counts: Record<string, number> = { added: 0, retried: 0, queued: 0, worked: 0 };
  const depths: number[] = [];
  return {
    counts,
    depths,
    added: () => void counts.added!++,
    retried: () => void counts.retried!++,
    queued: () => void counts.queued!++,
    worked: () => void counts.worked!++,
    depth: (d) => void depths.push(d),
  };
}

describe('WorkQueue', () => {
  it('deduplicates keys while they are queued and keeps FIFO order', async () => {
    const observer = recorder();
    const q = new WorkQueue({ clock: new ManualClock(), observer });
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.len()).toBe(2);
    expect(observer.counts.added).toBe(3);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
    expect(q.len()).toBe(0);
  });

  it('does not hand out a key being processed; a re-add is queued again after done', async () => {
    const q = new WorkQueue({ clock: new ManualClock() });
    q.add('a');
    const first = await q.get();
    expect(first).toBe('a');
    q.add('a');
    q.add('a');
    expect(q.len()).toBe(0);
    q.add('b');
    expect(await q.get()).toBe('b');
    q.done('a');
    expect(q.len()).toBe(1);
    expect(await q.get()).toBe('a');
    q.done('a');
    expect(q.len()).toBe(0);
  });

  it('wakes a waiting get() when a key arrives', async () => {
    const q = new WorkQueue({ clock: new ManualClock() });
    const pending = q.get();
    q.add('x');
    expect(await pending).toBe('x');
  });

  it('addAfter delivers at the due time and keeps the earliest time per key', async () => {
    const clock = new ManualClock();
    const q = new WorkQueue({ clock });
    q.addAfter('a', 100);
    q.addAfter('a', 50);
    q.addAfter('a', 500);
    clock.advance(49);
    expect(q.len()).toBe(0);
    clock.advance(1);
    expect(q.len()).toBe(1);
    expect(await q.get()).toBe('a');
    clock.advance(1000);
    expect(q.len()).toBe(0);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('backs off failures exponentially per key, up to the cap, and forget resets', async () => {
    const clock = new ManualClock();
    const observer = recorder();
    const q = new WorkQueue({
      clock,
      observer,
      rateLimiter: new ExponentialBackoff({ baseMs: 5, capMs: 100 }),
    });
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      const start = clock.now();
      q.addRateLimited('k');
      for (let waited = 0; q.len() === 0 && waited < 1000; waited++) clock.advance(1);
      delays.push(clock.now() - start);
      q.done((await q.get())!);
    }
    expect(delays).toEqual([5, 10, 20, 40, 80, 100, 100]);
    expect(q.numRequeues('k')).toBe(7);
    expect(observer.counts.retried).toBe(7);
    q.forget('k');
    expect(q.numRequeues('k')).toBe(0);
  });

  it('uses controller-runtime defaults: 5 ms base, 1000 s cap', () => {
    const backoff = new ExponentialBackoff();
    expect(backoff.when('k')).toBe(5);
    expect(backoff.when('k')).toBe(10);
    for (let i = 0; i < 100; i++) backoff.when('k');
    expect(backoff.when('k')).toBe(1_000_000);
    expect(backoff.when('other')).toBe(5);
  });

  it('shutdown releases waiters, ignores adds and resolves once in-flight work is done', async () => {
    const clock = new ManualClock();
    const q = new WorkQueue({ clock });
    q.add('busy');
    expect(await q.get()).toBe('busy');
    const waiter = q.get();
    q.addAfter('later', 10);
    let drained = false;
    const shut = q.shutdown().then(() => {
      drained = true;
    });
    expect(await waiter).toBeUndefined();
    q.add('new');
    expect(q.len()).toBe(0);
    expect(await q.get()).toBeUndefined();
    await Promise.resolve();
    expect(drained).toBe(false);
    q.done('busy');
    await shut;
    expect(drained).toBe(true);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('reports queue and work durations from the injected clock', async () => {
    const clock = new ManualClock(1000);
    const seen: number[] = [];
    const observer = {
      ...recorder(),
      queued: (s: number) => void seen.push(s),
      worked: (s: number) => void seen.push(s),
    };
    const q = new WorkQueue({ clock, observer });
    q.add('a');
    clock.advance(250);
    const key = await q.get();
    clock.advance(1500);
    q.done(key!);
    expect(seen).toEqual([0.25, 1.5]);
  });
});
