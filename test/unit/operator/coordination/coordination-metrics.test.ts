import { describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import {
  CoordinationMetrics,
  rebalanceReason,
} from '../../../../operator/src/coordination/coordination-metrics.ts';
import { rebalanceEvent } from '../../../../operator/src/coordination/rebalance-event.ts';

const APP = { namespace: 'demo', app: 'shop' };

function series(text: string, metric: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(`${metric}{`));
}

describe('coordination metrics', () => {
  it('maps the rebalancer reasons to a bounded label set', () => {
    expect(rebalanceReason('members changed (joined: w-a,w-b)')).toBe('members_changed');
    expect(rebalanceReason('departure delay elapsed')).toBe('departure_delay');
    expect(rebalanceReason('left on purpose: w-c')).toBe('left_on_purpose');
    expect(rebalanceReason('retry: members changed (left: w-a)')).toBe('retry');
    expect(rebalanceReason('operator asked')).toBe('other');
  });

  it('counts rebalances and moved partitions, tracks the session and forgets a deleted app', async () => {
    const registry = new Registry();
    const metrics = new CoordinationMetrics(registry);
    metrics.started(APP);
    expect(series(await registry.metrics(), 'capstan_coordinator_connected')).toEqual([
      'capstan_coordinator_connected{namespace="demo",app="shop"} 0',
    ]);
    expect(series(await registry.metrics(), 'capstan_coordinator_connection_attempts_total')).toEqual([
      'capstan_coordinator_connection_attempts_total{namespace="demo",app="shop"} 0',
    ]);
    metrics.attempted(APP);
    metrics.attempted(APP);
    metrics.connected(APP, true);
    const move = { partition: 0, from: undefined, to: 'w-a' };
    metrics.rebalanced(APP, { reason: 'members changed (joined: w-a)', moved: [move, move, move] });
    metrics.rebalanced(APP, { reason: 'departure delay elapsed', moved: [move] });
    const text = await registry.metrics();
    expect(series(text, 'capstan_coordinator_connected')).toEqual([
      'capstan_coordinator_connected{namespace="demo",app="shop"} 1',
    ]);
    expect(series(text, 'capstan_coordinator_connection_attempts_total')).toEqual([
      'capstan_coordinator_connection_attempts_total{namespace="demo",app="shop"} 2',
    ]);
    expect(series(text, 'capstan_partitions_moved_total')).toEqual([
      'capstan_partitions_moved_total{namespace="demo",app="shop"} 4',
    ]);
    expect(series(text, 'capstan_rebalances_total').sort()).toEqual([
      'capstan_rebalances_total{namespace="demo",app="shop",reason="departure_delay"} 1',
      'capstan_rebalances_total{namespace="demo",app="shop",reason="members_changed"} 1',
    ]);
    metrics.forget(APP);
    const after = await registry.metrics();
    for (const metric of [
      'capstan_coordinator_connected',
      'capstan_coordinator_connection_attempts_total',
      'capstan_partitions_moved_total',
      'capstan_rebalances_total',
    ])
      expect(series(after, metric)).toEqual([]);
  });

  it('refuses a second set on the same registry', () => {
    const registry = new Registry();
    new CoordinationMetrics(registry);
    expect(() => new CoordinationMetrics(registry)).toThrow(/already been registered/);
  });
});

describe('rebalanceEvent', () => {
  it('is a Normal Rebalanced event with the counts and the reason', () => {
    const record = {
      partitions: [
        { owner: 'w-a', epoch: 2 },
        { owner: 'w-b', epoch: 1 },
        { owner: 'w-a', epoch: 1 },
        { owner: undefined, epoch: 0 },
      ],
    };
    const moved = [{ partition: 0, from: 'w-c', to: 'w-a' }];
    expect(rebalanceEvent({ reason: 'departure delay elapsed', moved, record })).toEqual({
      type: 'Normal',
      reason: 'Rebalanced',
      message: 'Moved 1 of 4 partitions; 2 workers own partitions, 1 unassigned (departure delay elapsed)',
    });
    const single = { partitions: [{ owner: 'w-a', epoch: 1 }] };
    expect(rebalanceEvent({ reason: 'x', moved, record: single }).message).toContain('1 worker owns');
  });
});
