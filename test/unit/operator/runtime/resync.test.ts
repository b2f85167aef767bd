import { describe, it, expect } from '@jest/globals';
import { ManualClock } from '../../../../operator/src/runtime/clock.ts';
import type { Request } from '../../../../operator/src/runtime/reconciler.ts';
import { periodicResync } from '../../../../operator/src/runtime/resync.ts';

describe('periodicResync', () => {
  it('queues every listed request once per period until stopped', async () => {
    const clock = new ManualClock();
    const queued: Request[] = [];
    let objects = [{ namespace: 'a', name: 'one' }];
    const abort = new AbortController();
    const running = periodicResync({
      periodMs: 600_000,
      list: () => objects,
      enqueue: (request) => queued.push(request),
      clock,
    }).start(abort.signal);

    clock.advance(599_999);
    expect(queued).toEqual([]);
    clock.advance(1);
    expect(queued).toEqual([{ namespace: 'a', name: 'one' }]);
    objects = [...objects, { namespace: 'b', name: 'two' }];
    clock.advance(600_000);
    expect(queued.map((r) => r.name)).toEqual(['one', 'one', 'two']);

    abort.abort();
    await running;
    expect(clock.pendingTimers()).toBe(0);
    clock.advance(600_000);
    expect(queued).toHaveLength(3);
  });

  it('does nothing with a period of zero', async () => {
    const clock = new ManualClock();
    const queued: Request[] = [];
    await periodicResync({
      periodMs: 0,
      list: () => [{ namespace: '', name: 'x' }],
      enqueue: (request) => queued.push(request),
      clock,
    }).start(new AbortController().signal);
    expect(clock.pendingTimers()).toBe(0);
    expect(queued).toEqual([]);
  });
});
