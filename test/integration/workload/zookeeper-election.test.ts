/**
 * A ZooKeeper leader election under load: the leader of a 3-member ensemble killed with SIGKILL while
 * clients write and read through HAProxy. Workers are disconnected briefly, stay ready (suspended), and
 * the fleet never leaves the load balancer; no partition has two owners; no increment is lost.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { LocalFleet } from '../../../workload/src/local-fleet.ts';
import { expectSafe, fewestUp, forwards, runLoad, sampleOwners, valueOf } from './fault-load.ts';

const PARTITIONS = 16;
const KEYS = 12;

describe('a ZooKeeper leader election under load (3 members, 3 workers, HAProxy)', () => {
  const fleet = new LocalFleet({
    name: 'zke',
    app: 'counters',
    workers: 3,
    partitions: PARTITIONS,
    zookeeperReplicas: 3,
    sessionTimeoutMs: 4000,
    departureDelayMs: 0,
    haproxy: { checkIntervalMs: 300 },
    workerEnv: { LOG_LEVEL: 'warn' },
  });

  beforeAll(async () => fleet.start(), 150_000);
  afterAll(async () => fleet.stop(), 60_000);

  it('keeps every worker in the load balancer, never serves a partition twice and loses no increment', async () => {
    const epochsBefore = (await fleet.partitionStates()).map((s) => s.epoch);
    let stopped = false;
    const stop = (): boolean => stopped;
    const load = runLoad(fleet.url, { prefix: 'election', keys: KEYS }, stop);
    const owners = sampleOwners(fleet, stop);
    const up = fewestUp(fleet, stop);
    let electionMs: number | undefined;
    try {
      await sleep(1500);
      const leader = await fleet.zookeeper.leader();
      expect(leader).toBeDefined();
      const killedAt = performance.now();
      await leader!.kill('SIGKILL');
      await fleet.zookeeper.waitServing(60_000); // the two survivors, one of them leading
      electionMs = performance.now() - killedAt;
      await sleep(4000);
    } finally {
      stopped = true;
    }
    const [stats, samples, fewest] = await Promise.all([load, owners, up]);

    const finals = await Promise.all(Array.from({ length: KEYS }, (_, k) => valueOf(fleet, `election-${k}`)));
    const acknowledged = stats.acknowledged.reduce((a, b) => a + b, 0);
    const epochsAfter = (await fleet.partitionStates()).map((s) => s.epoch);
    const moved = epochsAfter.filter((epoch, p) => epoch !== epochsBefore[p]).length;
    const forwarded = await forwards(fleet);
    const disconnected = [...fleet.workers.values()].filter((w) =>
      readFileSync(w.process.logFile, 'utf8').includes('zookeeper disconnected'),
    );
    console.log(
      [
        `ZooKeeper leader killed; a new leader served after ${Math.round(electionMs ?? Number.NaN)} ms`,
        `requests sent ${stats.sent}, increments acknowledged ${acknowledged}, reads ok ${stats.reads}, ` +
          `increments abandoned ${stats.abandoned.reduce((a, b) => a + b, 0)}`,
        `failed attempts by status: ${JSON.stringify(Object.fromEntries(stats.failures))}`,
        `longest stall a client saw: ${Math.round(stats.longestStallMs)} ms`,
        `workers that logged a disconnection: ${disconnected.map((w) => w.id).join(', ') || 'none'}; ` +
          `rounds seen suspended: ${JSON.stringify(Object.fromEntries(samples.suspended))}, ` +
          `longest disconnection seen (ms): ${JSON.stringify(Object.fromEntries(samples.longestDisconnectMs))}`,
        `fewest workers UP in HAProxy: ${fewest}; partitions moved: ${moved}; ` +
          `owner sample rounds: ${samples.rounds}, doubles: ${samples.doubles.length}`,
        `forwards between workers by result: ${JSON.stringify(forwarded)}`,
        `final counter values: ${JSON.stringify(finals)}, acknowledged: ${JSON.stringify(stats.acknowledged)}`,
      ].join('\n'),
    );

    // The election reached the workers (their ZooKeeper connections were closed under them).
    expect(disconnected.length).toBeGreaterThan(0);
    expect(stats.failures.get('503 haproxy no server') ?? 0).toBe(0);
    expectSafe(samples, stats, finals);
  }, 180_000);
});
