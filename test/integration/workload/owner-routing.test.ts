/**
 * HAProxy routes each request to its partition's owner (zero hops) from the owner map kept in step with
 * ZooKeeper through the Runtime API: cache-gateway on a local fleet with real ZooKeeper, Redis, HAProxy
 * and workers. No worker forwards while the map is current; after an owner is killed the requests for
 * its partitions still succeed (HAProxy skips the down server and a worker forwards), and once the
 * partitions moved the map names their new owners and forwarding stops again. With the process that
 * keeps the map gone, requests still flow through the fallback.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { request } from 'undici';
import { waitUntil } from '../../../workload/src/local/index.ts';
import { LocalFleet } from '../../../workload/src/local-fleet.ts';
import { forwards } from './fault-load.ts';

const PARTITIONS = 12;

async function getAll(fleet: LocalFleet, prefix: string, count: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) {
    const response = await request(`${fleet.url}/v1/cache/${prefix}-${i}`, { headersTimeout: 20_000 });
    await response.body.text();
    statuses.push(response.statusCode);
  }
  return statuses;
}

const forwarded = async (fleet: LocalFleet): Promise<number> => (await forwards(fleet)).ok ?? 0;

describe('routing to the owner in HAProxy (cache-gateway, 3 workers)', () => {
  const fleet = new LocalFleet({
    name: 'route',
    app: 'cache-gateway',
    workers: 3,
    partitions: PARTITIONS,
    sessionTimeoutMs: 4000,
    departureDelayMs: 0,
    haproxy: { checkIntervalMs: 300, ownerRouting: true },
    // Longer than the session timeout: a request for the dead owner's partitions waits for the move.
    workerEnv: { LOG_LEVEL: 'warn', CAPSTAN_MOVE_WAIT_MS: '8000' },
  });

  /** Every partition in the map, each naming the worker that holds it in ZooKeeper. */
  const mapCurrent = async (): Promise<boolean> => {
    await fleet.ownerMap!.settled();
    const states = await fleet.partitionStates();
    const map = fleet.ownerMap!.applied;
    return states.every((s, p) => s.holder !== undefined && map.get(p) === s.holder);
  };

  beforeAll(async () => {
    await fleet.start();
    await waitUntil(mapCurrent, { what: 'the owner map covering every partition', timeoutMs: 30_000 });
  }, 120_000);
  afterAll(async () => fleet.stop(), 60_000);

  it('sends every request straight to its owner: no worker forwards', async () => {
    const before = await forwarded(fleet);
    const statuses = await getAll(fleet, 'direct', 120);
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect((await forwarded(fleet)) - before).toBe(0);
  });

  it('reads ZooKeeper only when something changed, not on every periodic check', async () => {
    const map = fleet.ownerMap!;
    await map.settled();
    const before = map.stats;
    // The fleet's map checks HAProxy's servers every 5 s: wait for three checks of an idle app. At most
    // one of them may read, if the once-a-minute safety net falls due meanwhile.
    await waitUntil(() => Promise.resolve(map.stats.syncs >= before.syncs + 3), {
      what: 'three periodic checks',
      timeoutMs: 60_000,
    });
    expect(map.stats.zooKeeperReads - before.zooKeeperReads).toBeLessThanOrEqual(1);
  }, 90_000);

  it('keeps serving when an owner dies, then routes its partitions to their new owners', async () => {
    const victim = [...fleet.workers.values()][0]!;
    victim.process.signal('SIGKILL');
    fleet.workers.delete(victim.id);
    const during = await getAll(fleet, 'during', 60);
    expect(during.every((s) => s === 200)).toBe(true);
    await fleet.waitAllServed(30_000, [victim.id]);
    await waitUntil(mapCurrent, { what: 'the owner map naming the new owners', timeoutMs: 30_000 });
    expect([...fleet.ownerMap!.applied.values()]).not.toContain(victim.id);
    const before = await forwarded(fleet);
    const after = await getAll(fleet, 'after', 120);
    expect(after.every((s) => s === 200)).toBe(true);
    expect((await forwarded(fleet)) - before).toBe(0);
  }, 90_000);

  it('keeps serving through the fallback with the owner-map process gone and its map stale', async () => {
    await fleet.ownerMap!.close();
    const victim = [...fleet.workers.values()][0]!;
    victim.process.signal('SIGKILL');
    fleet.workers.delete(victim.id);
    // The map still names the dead worker for its partitions: HAProxy skips its server once it is down.
    const statuses = await getAll(fleet, 'stale', 60);
    expect([...fleet.ownerMap!.applied.values()]).toContain(victim.id);
    expect(statuses.every((s) => s === 200)).toBe(true);
  }, 90_000);
});
