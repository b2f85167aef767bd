/**
 * The `make demo` flow as assertions, through the same modules hack/demo.ts uses: the operator
 * makes examples/minimal.yaml Ready on the local control plane, and the same app runs for real on a
 * local fleet that serves bursts through HAProxy, coalesces upstream fetches and fails over after
 * `kill -9` of a worker. Timings are printed, never asserted.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import type { LocalFleet } from '../../workload/src/local-fleet.ts';
import { createNamespace, kubectl, testClusterDir, testKubeconfig } from '../harness/kube.ts';
import {
  burst,
  burstProblems,
  demoFleetOptions,
  describeBurst,
  describeOwnership,
  failoverProblems,
  killWorkerAndWaitFailover,
  ownershipByWorker,
  startFleet,
} from './demo-fleet.ts';
import {
  deployExample,
  installCrd,
  operatorMetricLines,
  repoRoot,
  startOperator,
  waitAppReady,
  type DemoOperator,
  type DeployedApp,
} from './demo-kube.ts';

const EXAMPLE = join(repoRoot, 'examples', 'minimal.yaml');

describe('make demo: the operator makes examples/minimal.yaml Ready', () => {
  let namespace: string;
  let operator: DemoOperator | undefined;
  let app: DeployedApp;

  beforeAll(async () => {
    const kubeconfig = testKubeconfig();
    await installCrd(kubeconfig);
    namespace = await createNamespace('e2e-demo');
    operator = await startOperator({
      kubeconfig,
      namespaces: [namespace],
      logFile: join(testClusterDir(), 'logs', 'demo-operator.log'),
    });
  }, 90_000);

  afterAll(async () => {
    await operator?.stop();
    if (namespace) await kubectl(['delete', 'namespace', namespace, '--wait=false'], { allowFailure: true });
    if (app)
      await kubectl(['delete', 'persistentvolume', ...app.volumes, '--wait=false'], { allowFailure: true });
  });

  it('applies the example with its ZooKeeper volume and it turns Ready at its generation', async () => {
    const kubeconfig = testKubeconfig();
    const started = Date.now();
    app = await deployExample(kubeconfig, EXAMPLE, namespace);
    expect(app.name).toBe('hello');
    expect(app.volumes).toHaveLength(1);
    const live = await waitAppReady(kubeconfig, app, 120_000);
    console.log(`${namespace}/hello Ready ${Date.now() - started} ms after apply`);
    expect(live.status?.observedGeneration).toBe(live.metadata.generation);
    expect(live.status?.phase).toBe('Running');
    expect(live.status?.workers).toMatchObject({ desired: 3, ready: 3 });
    const waited = await kubectl([
      'wait',
      '--for=condition=Ready',
      '--timeout=10s',
      '-n',
      namespace,
      'dapp/hello',
    ]);
    expect(waited.stdout).toContain('condition met');
  }, 150_000);

  it('reports reconciles and the work queue with controller-runtime metric names', async () => {
    const lines = await operatorMetricLines(operator!, [
      'controller_runtime_reconcile_total',
      'workqueue_depth',
    ]);
    console.log(lines.join('\n'));
    expect(
      lines.some((l) => /^controller_runtime_reconcile_total\{.*result="success".*\} [1-9]/.test(l)),
    ).toBe(true);
    expect(lines.some((l) => l.startsWith('workqueue_depth{'))).toBe(true);
  });
});

describe('make demo: the same app on a local fleet (ZooKeeper, Redis, HAProxy, 3 workers, tiny upstream)', () => {
  let fleet: LocalFleet | undefined;

  beforeAll(async () => {
    fleet = await startFleet(await demoFleetOptions(EXAMPLE, 'e2e-demo'));
  }, 90_000);

  afterAll(async () => {
    await fleet?.stop();
  }, 60_000);

  it('serves a bounded burst through HAProxy with one upstream fetch per key', async () => {
    const result = await burst(fleet!, { prefix: 'first', requests: 200, keys: 50 });
    console.log(`burst 1\n${describeBurst(result)}`);
    expect(burstProblems(result)).toEqual([]);
    expect(result.ok).toBe(200);
    expect(result.upstreamFetches).toBe(50);
    expect(result.maxFetchesPerKey).toBe(1);
  });

  it('after kill -9 of a worker, moves exactly its partitions to the survivors and serves everything', async () => {
    const states = await fleet!.waitAllServed(20_000);
    const before = ownershipByWorker(fleet!, states);
    console.log(`ownership before\n${describeOwnership(before)}`);
    const victim = [...fleet!.workers.keys()][0]!;
    const failover = await killWorkerAndWaitFailover(fleet!, victim, 60_000);
    console.log(
      `kill -9 ${victim}: every partition owned again after ${failover.failoverMs} ms; ` +
        `owned ${failover.owned}, moved ${failover.moved}\n${describeOwnership(failover.after)}`,
    );
    expect(failover.victimSignal).toBe('SIGKILL');
    expect(failover.owned).toBe(before.get(victim));
    expect(failover.owned).toBeGreaterThan(0);
    expect(failoverProblems(failover)).toEqual([]);
    expect(failover.unowned).toBe(0);
    expect(failover.moved).toBe(failover.owned);
    expect(failover.spread).toBeLessThanOrEqual(1);
    expect([...failover.after.keys()]).not.toContain(victim);
    expect([...failover.after.values()].reduce((a, b) => a + b, 0)).toBe(64);

    const again = await burst(fleet!, { prefix: 'second', requests: 200, keys: 50 });
    console.log(`burst 2\n${describeBurst(again)}`);
    expect(burstProblems(again)).toEqual([]);
    expect(again.ok).toBe(200);
  }, 120_000);
});
