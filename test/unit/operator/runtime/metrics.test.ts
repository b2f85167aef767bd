import { describe, it, expect } from '@jest/globals';
import { Registry } from 'prom-client';
import { RuntimeMetrics } from '../../../../operator/src/runtime/metrics.ts';

describe('RuntimeMetrics', () => {
  it("registers controller-runtime's metric names on the given registry only", async () => {
    const registry = new Registry();
    const metrics = new RuntimeMetrics(registry);
    const c = metrics.controller('dapp', 4);
    c.queue.added();
    c.queue.depth(3);
    c.queue.queued(0.1);
    c.queue.worked(0.2);
    c.queue.retried();
    c.reconciled('success', 0.05);
    metrics.request('get', '200');
    metrics.request('PATCH', '409');
    const text = await registry.metrics();
    for (const name of [
      'controller_runtime_reconcile_total{controller="dapp",result="success"} 1',
      'controller_runtime_reconcile_errors_total{controller="dapp"} 0',
      'controller_runtime_reconcile_time_seconds_bucket',
      'controller_runtime_max_concurrent_reconciles{controller="dapp"} 4',
      'workqueue_depth{name="dapp",controller="dapp"} 3',
      'workqueue_adds_total{name="dapp",controller="dapp"} 1',
      'workqueue_queue_duration_seconds_bucket',
      'workqueue_work_duration_seconds_bucket',
      'workqueue_retries_total{name="dapp",controller="dapp"} 1',
      'rest_client_requests_total{method="GET",code="200"} 1',
      'rest_client_requests_total{method="PATCH",code="409"} 1',
    ]) {
      expect(text).toContain(name);
    }
    expect(await metrics.restRequestCount(['patch', 'put', 'post', 'delete'])).toBe(1);
    expect(() => new RuntimeMetrics(registry)).toThrow();
    expect(() => new RuntimeMetrics(new Registry())).not.toThrow();
  });

  it('counts a Lease write in rest_client_requests_total and the Lease writes in the same step', async () => {
    const registry = new Registry();
    const metrics = new RuntimeMetrics(registry);
    const lease = metrics.leaseObserver('mgr');
    metrics.request('PATCH', '200');
    lease.request('GET', '200');
    expect(metrics.nonLeaseWriteCount()).toBe(1);
    lease.request('PUT', '200');
    expect(metrics.nonLeaseWriteCount()).toBe(1);
    lease.request('post', '<error>');
    expect(metrics.nonLeaseWriteCount()).toBe(1);
    metrics.request('delete', '404');
    expect(metrics.nonLeaseWriteCount()).toBe(2);
    expect(await metrics.leaseWriteCount()).toBe(2);
    expect(await metrics.restRequestCount(['POST', 'PUT', 'PATCH', 'DELETE'])).toBe(4);
    expect(await metrics.restRequestCount(['GET'])).toBe(1);
    expect(await registry.metrics()).toContain('leader_election_lease_writes_total{name="mgr"} 2');
  });
});
