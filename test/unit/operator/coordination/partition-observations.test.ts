import { describe, expect, it } from '@jest/globals';
import type { AppRef } from '../../../../common/src/zk-paths.ts';
import {
  PartitionObservations,
  partitionInput,
} from '../../../../operator/src/coordination/partition-observations.ts';
import type { OwnershipSummary } from '../../../../operator/src/model/status-partitions.ts';

const REF = { namespace: 'demo', app: 'shop' };
const SUMMARY: OwnershipSummary = {
  count: 2,
  version: 1,
  byWorker: { 'w-a': 2 },
  owned: 2,
  claiming: 0,
  waiting: 0,
  unassigned: 0,
};
const LAST = { time: '2030-01-01T00:00:00.000Z', reason: 'members changed (joined: w-a)', moved: 2 };

function store(): { store: PartitionObservations; announced: AppRef[] } {
  const s = new PartitionObservations();
  const announced: AppRef[] = [];
  s.subscribe((ref) => announced.push(ref));
  return { store: s, announced };
}

describe('PartitionObservations', () => {
  it('announces a change of an app’s entry once, and an equal entry not at all', () => {
    const { store: s, announced } = store();
    s.observed(REF, SUMMARY);
    s.observed(REF, { ...SUMMARY, byWorker: { 'w-a': 2 } });
    expect(announced).toEqual([REF]);
    s.observed(REF, { ...SUMMARY, owned: 1, claiming: 1 });
    expect(announced).toHaveLength(2);
    expect(s.get('demo', 'shop')?.ownership?.owned).toBe(1);
    expect(s.get('demo', 'other')).toBeUndefined();
  });

  it('keeps the last rebalance across unreachable and observed', () => {
    const { store: s, announced } = store();
    s.rebalanced(REF, LAST);
    s.unreachable(REF);
    s.unreachable(REF);
    expect(s.get('demo', 'shop')).toEqual({ coordinator: 'unreachable', lastRebalance: LAST });
    s.observed(REF, SUMMARY);
    expect(s.get('demo', 'shop')).toEqual({
      coordinator: 'observing',
      ownership: SUMMARY,
      lastRebalance: LAST,
    });
    expect(announced).toHaveLength(3);
  });

  it('forgets an app and clears everything without announcing', () => {
    const { store: s, announced } = store();
    s.observed(REF, SUMMARY);
    s.forget(REF);
    expect(s.get('demo', 'shop')).toBeUndefined();
    s.observed(REF, SUMMARY);
    s.clear();
    expect(s.get('demo', 'shop')).toBeUndefined();
    expect(announced).toHaveLength(2);
  });

  it('maps an entry to the status builder’s input', () => {
    expect(partitionInput(undefined)).toEqual({ state: 'pending' });
    expect(partitionInput({ coordinator: 'observing', lastRebalance: LAST })).toEqual({ state: 'pending' });
    expect(partitionInput({ coordinator: 'unreachable', lastRebalance: LAST })).toEqual({
      state: 'unreachable',
      lastRebalance: LAST,
    });
    expect(partitionInput({ coordinator: 'observing', ownership: SUMMARY })).toEqual({
      state: 'observed',
      ownership: SUMMARY,
    });
  });
});
