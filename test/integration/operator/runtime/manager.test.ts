import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { EventEmitter } from 'node:events';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { Manager } from '../../../../operator/src/runtime/manager.ts';
import { done, reconcilerFunc, type Request } from '../../../../operator/src/runtime/reconciler.ts';
import { createNamespace, kubectl, loadKubeConfig, waitFor } from '../../../harness/kube.ts';

const ok = (condition: boolean): Promise<true | undefined> => Promise.resolve(condition ? true : undefined);

describe('Manager against the apiserver', () => {
  let namespace: string;
  let manager: Manager;
  const reconciled: string[] = [];
  const signals = new EventEmitter();
  const exits: number[] = [];

  beforeAll(async () => {
    namespace = await createNamespace('rt-manager');
    await kubectl(['create', 'configmap', 'existing', '-n', namespace]);
    await kubectl(['label', 'configmap', 'existing', '-n', namespace, 'app=mgr']);
    manager = new Manager({
      kubeConfig: loadKubeConfig(),
      registry: new Registry(),
      leaderElection: {
        namespace,
        name: 'mgr',
        identity: 'only',
        leaseDurationMs: 3000,
        renewDeadlineMs: 2000,
        retryPeriodMs: 250,
      },
      health: { host: '127.0.0.1', port: 0 },
    });
    const informer = manager.informer<V1ConfigMap>({
      resource: { group: '', version: 'v1', plural: 'configmaps' },
      namespace,
      labelSelector: 'app=mgr',
    });
    const controller = manager.controller({
      name: 'configmaps',
      maxConcurrentReconciles: 2,
      reconciler: reconcilerFunc((req: Request) => {
        const cm = informer.store.get(req.namespace, req.name);
        reconciled.push(`${req.name}:${cm === undefined ? 'gone' : 'present'}`);
        return Promise.resolve(done());
      }),
    });
    informer.addHandler(controller.handler());
    manager.handleSignals(signals as unknown as NodeJS.Process, (code) => exits.push(code));
    await manager.start();
  });

  afterAll(async () => {
    await manager.stop();
    await kubectl(['delete', 'namespace', namespace, '--wait=false'], { allowFailure: true });
  });

  it('serves health, readiness and metrics, and reconciles what the informers see', async () => {
    const base = manager.healthAddress()!;
    await waitFor('readyz', async () => ((await fetch(`${base}/readyz`)).status === 200 ? true : undefined));
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    await waitFor('reconcile of the existing object', () => ok(reconciled.includes('existing:present')));
    await kubectl(['delete', 'configmap', 'existing', '-n', namespace]);
    await waitFor('reconcile after delete', () => ok(reconciled.includes('existing:gone')));
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('controller_runtime_reconcile_total{controller="configmaps",result="success"}');
    expect(metrics).toContain('workqueue_adds_total{name="configmaps",controller="configmaps"}');
    expect(metrics).toContain('leader_election_master_status{name="mgr"} 1');
    expect(metrics).toMatch(/rest_client_requests_total\{method="GET",code="200"\} \d+/);
  });

  it('makes no writes in steady state apart from lease renewals', async () => {
    // Writes in rest_client_requests_total minus the Lease writes among them, read at one instant: a
    // renewal in flight is in neither count, a finished one in both.
    const start = manager.metrics.nonLeaseWriteCount();
    const renewals = await manager.metrics.leaseWriteCount();
    await waitFor('a few lease renewals', async () =>
      (await manager.metrics.leaseWriteCount()) >= renewals + 4 ? true : undefined,
    );
    expect(manager.metrics.nonLeaseWriteCount()).toBe(start);
    expect(start).toBe(0);
    expect(await manager.metrics.restRequestCount(['POST', 'PUT', 'PATCH', 'DELETE'])).toBeGreaterThanOrEqual(
      renewals + 4,
    );
  });

  it('on SIGTERM finishes, releases the lease and exits 0', async () => {
    signals.emit('SIGTERM', 'SIGTERM');
    await waitFor('exit', () => ok(exits.length > 0));
    expect(exits).toEqual([0]);
    expect(manager.isLeading()).toBe(false);
    const { stdout } = await kubectl([
      'get',
      'lease',
      'mgr',
      '-n',
      namespace,
      '-o',
      'jsonpath={.spec.holderIdentity}',
    ]);
    expect(stdout).toBe('');
    await manager.done();
  });
});
