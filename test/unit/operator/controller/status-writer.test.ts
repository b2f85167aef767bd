import { describe, expect, it } from '@jest/globals';
import { mergePatch } from '../../../../operator/src/controller/status-writer.ts';

describe('mergePatch', () => {
  it('sends removed fields as null, recursing into objects and replacing arrays', () => {
    const before = {
      phase: 'Running',
      partitions: { count: 4, owned: 4, byWorker: { a: 4 } },
      conditions: [1],
    };
    const after = { phase: 'Running', partitions: { count: 4, byWorker: { b: 4 } }, conditions: [2] };
    expect(mergePatch(before, after)).toEqual({
      phase: 'Running',
      partitions: { count: 4, owned: null, byWorker: { a: null, b: 4 } },
      conditions: [2],
    });
  });

  it('is the new value itself where there was no object before', () => {
    expect(mergePatch({}, { lastRebalance: { moved: 1 } })).toEqual({ lastRebalance: { moved: 1 } });
    expect(mergePatch(undefined, { a: 1 })).toEqual({ a: 1 });
  });
});
