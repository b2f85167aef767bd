/**
 * ZooKeeper stopped (SIGSTOP) for three session timeouts under load (counters, 3 workers, real ZooKeeper,
 * Redis, HAProxy): every worker stops serving while it is cut off; once ZooKeeper continues, the sessions
 * it expires are replaced, every worker registers again and every partition is served by its assigned
 * owner, never by two workers at once, and every acknowledged increment is counted. How long the recovery
 * took is printed, not asserted.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { memberPath, membersPath } from '../../../common/src/zk-paths.ts';
import { LocalFleet, type PartitionState } from '../../../workload/src/local-fleet.ts';
import { waitUntil } from '../../../workload/src/local/index.ts';
import { expectSafe, runLoad, sampleOwners, statusOf, valueOf } from './fault-load.ts';

const PARTITIONS = 12;
const KEYS = 24;
const PREFIX = 'outage';
const SESSION_TIMEOUT_MS = 4000;
const OUTAGE_MS = 3 * SESSION_TIMEOUT_MS;

describe('a ZooKeeper outage longer than the session timeout, under load', () => {
  const fleet = new LocalFleet({
    name: 'zko',
    app: 'counters',
    workers: 3,
    partitions: PARTITIONS,
    sessionTimeoutMs: SESSION_TIMEOUT_MS,
    departureDelayMs: 0,
    haproxy: { checkIntervalMs: 300 },
    workerEnv: { LOG_LEVEL: 'warn' },
  });

  /** Whether each worker serves exactly the partitions `states` assign to it, and every partition is assigned. */
  async function servesAsAssigned(states: PartitionState[]): Promise<boolean> {
    if (states.some((s) => s.assigned === undefined)) return false;
    const statuses = await Promise.all([...fleet.workers.values()].map((w) => statusOf(w.url)));
    return statuses.every((status) => {
      const assigned = states.flatMap((s, p) => (s.assigned === status?.workerId ? [p] : []));
      return JSON.stringify([...(status?.owned ?? [])].sort((a, b) => a - b)) === JSON.stringify(assigned);
    });
  }

  /** The session that holds each worker's `members/<id>` node now. */
  const memberSessions = (): Promise<(string | undefined)[]> =>
    Promise.all(
      [...fleet.workers.keys()].map(
        async (id) => (await fleet.client.exists(memberPath(fleet.ref, id)))?.ephemeralOwner,
      ),
    );

  beforeAll(async () => fleet.start(), 90_000);
  afterAll(async () => fleet.stop(), 60_000);

  it('serves every partition again from one owner each, and loses no acknowledged increment', async () => {
    let stopped = false;
    const stop = (): boolean => stopped;
    const load = runLoad(fleet.url, { prefix: PREFIX, keys: KEYS }, stop);
    const owners = sampleOwners(fleet, stop);
    let recoveredMs: number | undefined;
    let servingDuring: number | undefined;
    let sessionsBefore: (string | undefined)[] = [];
    try {
      await sleep(1500);
      sessionsBefore = await memberSessions();
      fleet.zookeeper.members[0]!.pause();
      try {
        await sleep(OUTAGE_MS);
        const statuses = await Promise.all([...fleet.workers.values()].map((w) => statusOf(w.url)));
        servingDuring = statuses.reduce((sum, s) => sum + (s?.owned.length ?? 0), 0);
      } finally {
        fleet.zookeeper.members[0]!.resume();
      }
      const resumed = Date.now();
      // Not from ZooKeeper alone: right after it continues, it still holds the nodes of sessions it is
      // about to expire. What counts is what the workers say they serve.
      await waitUntil(async () => servesAsAssigned(await fleet.partitionStates()), {
        what: 'every partition served by its assigned owner, as the workers say',
        timeoutMs: 60_000,
        intervalMs: 100,
      });
      recoveredMs = Date.now() - resumed;
      await sleep(2000);
    } finally {
      stopped = true;
    }
    const [stats, samples] = await Promise.all([load, owners]);
    const members = await fleet.client.children(membersPath(fleet.ref));
    const sessionsAfter = await memberSessions();
    const fresh = sessionsAfter.filter((session, i) => session !== sessionsBefore[i]).length;
    const finals = await Promise.all(
      Array.from({ length: KEYS }, (_, k) => valueOf(fleet, `${PREFIX}-${k}`)),
    );
    const acknowledged = stats.acknowledged.reduce((a, b) => a + b, 0);
    console.log(
      [
        `ZooKeeper stopped for ${OUTAGE_MS} ms (session timeout ${SESSION_TIMEOUT_MS} ms): partitions served meanwhile ${servingDuring}; ` +
          `every partition served again ${recoveredMs} ms after it continued; ` +
          `workers on a fresh session (theirs expired) ${fresh} of ${sessionsAfter.length}`,
        `requests sent ${stats.sent}, increments acknowledged ${acknowledged}, reads ok ${stats.reads}, ` +
          `failed attempts by status: ${JSON.stringify(Object.fromEntries(stats.failures))}`,
        `owner sample rounds ${samples.rounds}, doubles ${samples.doubles.length} (moves between reads ${samples.movesBetweenReads})`,
      ].join('\n'),
    );

    // Cut off for longer than a session: nobody served anything.
    expect(servingDuring).toBe(0);
    // Every worker is a member again and serves exactly what the assignment gives it.
    expect(members).toEqual([...fleet.workers.keys()].sort());
    const states = await fleet.partitionStates();
    expect(states.every((s) => s.holder !== undefined && s.holder === s.assigned)).toBe(true);
    expect(await servesAsAssigned(states)).toBe(true);
    expectSafe(samples, stats, finals);
  }, 240_000);
});
