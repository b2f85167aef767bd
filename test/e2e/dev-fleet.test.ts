/**
 * `make dev` (capstan dev) as assertions: examples/minimal.yaml runs for real on loopback processes
 * (ZooKeeper, Redis, HAProxy, workers, the rebalancer and a tiny upstream), serves bursts through
 * HAProxy, coalesces upstream fetches and fails over after `kill -9` of a worker. Timings are
 * printed, never asserted. The same app on the cluster's real nodes: real-cluster.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import type { LocalFleet } from '../../workload/src/local-fleet.ts';
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
import { repoRoot } from '../../hack/demo/kube-steps.ts';

const EXAMPLE = join(repoRoot, 'examples', 'minimal.yaml');

describe('make dev: examples/minimal.yaml on a local fleet (ZooKeeper, Redis, HAProxy, 3 workers, tiny upstream)', () => {
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
