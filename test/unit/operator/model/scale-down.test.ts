import { describe, expect, it } from '@jest/globals';
import { workerReplicas } from '../../../../operator/src/model/scale-down.ts';
import type { OwnershipSummary, PartitionInput } from '../../../../operator/src/model/status-partitions.ts';
import { storedApp } from '../coordination/helpers.ts';

// Scaled from 5 workers down to 3: shop-worker-3 and shop-worker-4 go.
const app = storedApp('shop', { workers: { upstream: 'http://backend.default.svc:8080', replicas: 3 } });

function observed(byWorker: Record<string, number>, claiming = 0): PartitionInput {
  const ownership: OwnershipSummary = {
    count: 12,
    version: 4,
    byWorker,
    owned: 12 - claiming,
    claiming,
    waiting: 0,
    unassigned: 0,
  };
  return { state: 'observed', ownership };
}

describe('workerReplicas', () => {
  it('keeps the StatefulSet at its size while a worker that goes is still assigned partitions', () => {
    const during = workerReplicas(
      app,
      5,
      observed({ 'shop-worker-0': 3, 'shop-worker-1': 3, 'shop-worker-2': 3, 'shop-worker-4': 3 }),
    );
    expect(during).toEqual({ replicas: 5, drain: { draining: ['shop-worker-4'] } });
  });

  it('keeps it while moved partitions are not yet claimed by their new owners', () => {
    const handing = workerReplicas(
      app,
      5,
      observed({ 'shop-worker-0': 4, 'shop-worker-1': 4, 'shop-worker-2': 4 }, 2),
    );
    expect(handing).toEqual({ replicas: 5, drain: { draining: [] } });
  });

  it('keeps it until the coordinator has observed the assignment', () => {
    expect(workerReplicas(app, 5, { state: 'pending' }).replicas).toBe(5);
  });

  it('shrinks once the workers that go own nothing and every partition is claimed', () => {
    expect(
      workerReplicas(app, 5, observed({ 'shop-worker-0': 4, 'shop-worker-1': 4, 'shop-worker-2': 4 })),
    ).toEqual({ replicas: 3 });
  });

  it('shrinks at once without coordination or ZooKeeper: nothing can be drained from the operator', () => {
    expect(workerReplicas(app, 5, { state: 'off' })).toEqual({ replicas: 3 });
    expect(workerReplicas(app, 5, { state: 'unreachable' })).toEqual({ replicas: 3 });
  });

  it('applies the spec when scaling up, creating, or at the same size', () => {
    const busy = observed({ 'shop-worker-0': 12 });
    expect(workerReplicas(app, 1, busy)).toEqual({ replicas: 3 });
    expect(workerReplicas(app, undefined, busy)).toEqual({ replicas: 3 });
    expect(workerReplicas(app, 3, busy)).toEqual({ replicas: 3 });
  });

  it('ignores names that are not workers of this app', () => {
    const others = observed({ 'shop-worker-0': 6, 'other-worker-7': 3, 'shop-worker-x': 3 });
    expect(workerReplicas(app, 5, others)).toEqual({ replicas: 3 });
  });
});
