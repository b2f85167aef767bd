import { describe, expect, it } from '@jest/globals';
import { summarizeOwnership, unowned } from '../../../../operator/src/coordination/ownership-summary.ts';

const record = (owners: (string | undefined)[]) => ({
  partitions: owners.map((owner, p) => ({ owner, epoch: p % 2 })),
});

describe('summarizeOwnership', () => {
  it('counts assigned per worker and owned (held by the assigned owner)', () => {
    const summary = summarizeOwnership({
      record: record(['w-b', 'w-a', 'w-b', 'w-a']),
      version: 5,
      holders: new Map([
        [0, 'w-b'],
        [1, 'w-a'],
        [2, 'w-b'],
        [3, 'w-a'],
      ]),
      members: new Set(['w-a', 'w-b']),
    });
    expect(summary).toEqual({
      count: 4,
      version: 5,
      byWorker: { 'w-a': 2, 'w-b': 2 },
      owned: 4,
      claiming: 0,
      waiting: 0,
      unassigned: 0,
    });
    expect(Object.keys(summary.byWorker)).toEqual(['w-a', 'w-b']);
    expect(unowned(summary)).toBe(0);
  });

  it('tells a handover in progress from partitions waiting for a departed worker and unassigned ones', () => {
    const summary = summarizeOwnership({
      // 0: held by its old owner w-c, assigned to live w-a; 1: unheld, assigned to live w-a;
      // 2: assigned to departed w-c; 3: owned; 4: unassigned.
      record: record(['w-a', 'w-a', 'w-c', 'w-b', undefined]),
      version: 2,
      holders: new Map([
        [0, 'w-c'],
        [3, 'w-b'],
      ]),
      members: new Set(['w-a', 'w-b']),
    });
    expect(summary).toMatchObject({ count: 5, owned: 1, claiming: 2, waiting: 1, unassigned: 1 });
    expect(summary.byWorker).toEqual({ 'w-a': 2, 'w-b': 1, 'w-c': 1 });
    expect(unowned(summary)).toBe(4);
  });

  it('is empty without an assignment', () => {
    expect(
      summarizeOwnership({ record: undefined, version: undefined, holders: new Map(), members: new Set() }),
    ).toEqual({ count: 0, byWorker: {}, owned: 0, claiming: 0, waiting: 0, unassigned: 0 });
  });
});
