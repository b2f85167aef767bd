/**
 * A worker frozen with SIGSTOP under load (counters, 3 workers, real ZooKeeper, Redis, HAProxy): HAProxy's
 * health checks take it out, so requests for other workers' partitions keep being served; its own move
 * once its session expires; resumed, it serves nothing stale (never two owners), and every acknowledged
 * increment is counted. Stalls are printed, not asserted.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { partitionOf } from '../../../common/src/partition.ts';
import { LocalFleet } from '../../../workload/src/local-fleet.ts';
import { expectSafe, fewestUp, runLoad, sampleOwners, statusOf, valueOf } from './fault-load.ts';

const PARTITIONS = 12;
const KEYS = 24;
const PREFIX = 'frozen';

describe('a worker frozen with SIGSTOP under load', () => {
  const fleet = new LocalFleet({
    name: 'frz',
    app: 'counters',
    workers: 3,
    partitions: PARTITIONS,
    sessionTimeoutMs: 4000,
    departureDelayMs: 0,
    haproxy: { checkIntervalMs: 300 },
    workerEnv: { LOG_LEVEL: 'warn' },
  });

  beforeAll(async () => fleet.start(), 90_000);
  afterAll(async () => fleet.stop(), 60_000);

  it('keeps serving the other partitions, moves its own after the session expires, and serves nothing stale when resumed', async () => {
    const victim = [...fleet.workers.values()][0]!;
    const owned = new Set((await statusOf(victim.url))?.owned ?? []);
    expect(owned.size).toBeGreaterThan(0);
    const epochs = (await fleet.partitionStates()).map((s) => s.epoch);
    let stopped = false;
    const stop = (): boolean => stopped;
    const load = runLoad(fleet.url, { prefix: PREFIX, keys: KEYS }, stop);
    const owners = sampleOwners(fleet, stop);
    const up = fewestUp(fleet, stop);
    let movedAway: Awaited<ReturnType<LocalFleet['partitionStates']>> | undefined;
    try {
      await sleep(1500);
      victim.process.pause();
      try {
        // Its partitions are served by the others: its session expired and the rebalancer moved them.
        movedAway = await fleet.waitAllServed(60_000, [victim.id]);
        await sleep(2000);
      } finally {
        victim.process.resume();
      }
      // Resumed: it learns that its session expired, registers again and may be given partitions anew.
      await fleet.waitAllServed(60_000);
      await sleep(2000);
    } finally {
      stopped = true;
    }
    const [stats, samples, fewest] = await Promise.all([load, owners, up]);

    const keysOf = (mine: boolean) =>
      Array.from({ length: KEYS }, (_, k) => k).filter(
        (k) => owned.has(partitionOf(`${PREFIX}-${k}`, PARTITIONS)) === mine,
      );
    const stall = (keys: number[]) =>
      Math.round(Math.max(0, ...keys.map((k) => stats.longestStallByKey[k]!)));
    const finals = await Promise.all(
      Array.from({ length: KEYS }, (_, k) => valueOf(fleet, `${PREFIX}-${k}`)),
    );
    const acknowledged = stats.acknowledged.reduce((a, b) => a + b, 0);
    const abandoned = (keys: number[]) => keys.reduce((a, k) => a + stats.abandoned[k]!, 0);
    console.log(
      [
        `${victim.id} frozen with SIGSTOP (it served ${owned.size} of ${PARTITIONS} partitions), resumed after its partitions moved`,
        `requests sent ${stats.sent}, increments acknowledged ${acknowledged}, reads ok ${stats.reads}, ` +
          `abandoned: others' keys ${abandoned(keysOf(false))}, its keys ${abandoned(keysOf(true))}`,
        `failed attempts by status: ${JSON.stringify(Object.fromEntries(stats.failures))}`,
        `longest stall: keys of the other workers ${stall(keysOf(false))} ms, its own keys ${stall(keysOf(true))} ms`,
        `fewest workers UP in HAProxy: ${fewest}; owner sample rounds ${samples.rounds}, doubles ${samples.doubles.length} (moves between reads ${samples.movesBetweenReads})`,
      ].join('\n'),
    );

    // Its partitions moved: each got a new epoch and an owner other than the frozen worker.
    for (const p of owned) {
      expect(movedAway?.[p]?.holder).not.toBe(victim.id);
      expect(movedAway?.[p]?.epoch).toBeGreaterThan(epochs[p]!);
    }
    // HAProxy took it out, and every operation on the other workers' keys succeeded.
    expect(fewest).toBe(2);
    expect(abandoned(keysOf(false))).toBe(0);
    expectSafe(samples, stats, finals);
  }, 240_000);
});
