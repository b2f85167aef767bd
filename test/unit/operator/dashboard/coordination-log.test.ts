import { describe, expect, it } from '@jest/globals';
import { CoordinationLog, RECENT_REBALANCES } from '../../../../operator/src/dashboard/coordination-log.ts';

const ref = { namespace: 'a', app: 'shop' };
const reading = {
  record: { partitions: [{ owner: 'w-0', epoch: 1 }] },
  version: 1,
  holders: new Map([[0, 'w-0']]),
  members: new Set(['w-0']),
};

function rebalance(second: number) {
  return {
    time: second * 1000,
    reason: `r${second}`,
    moved: [{ partition: 0, from: undefined, to: 'w-0' }],
    record: reading.record,
  };
}

describe('CoordinationLog', () => {
  it('keeps the last reading per app and forgets it when coordination stops', () => {
    const log = new CoordinationLog();
    expect(log.reading('a', 'shop')).toBeUndefined();
    log.observed(ref, reading);
    expect(log.reading('a', 'shop')).toBe(reading);
    expect(log.reading('a', 'other')).toBeUndefined();
    log.forget(ref);
    expect(log.reading('a', 'shop')).toBeUndefined();
  });

  it('keeps the recent rebalances, newest first and bounded, past a forget', () => {
    const log = new CoordinationLog();
    for (let t = 1; t <= RECENT_REBALANCES + 5; t++) log.rebalanced(ref, rebalance(t));
    log.forget(ref);
    const recent = log.rebalances('a', 'shop');
    expect(recent).toHaveLength(RECENT_REBALANCES);
    expect(recent[0]).toEqual({
      time: new Date((RECENT_REBALANCES + 5) * 1000).toISOString(),
      reason: `r${RECENT_REBALANCES + 5}`,
      moved: 1,
      moves: [{ partition: 0, from: null, to: 'w-0' }],
    });
    expect(recent.at(-1)?.reason).toBe('r6');
  });
});
