import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { partitionOf } from '../../../common/src/partition.ts';
import { TIER_HEADER } from '../../../workload/src/apps/cache-gateway.ts';
import { waitUntil } from '../../../workload/src/local/index.ts';
import { LocalFleet } from '../../../workload/src/local-fleet.ts';
import type { FleetWorker } from '../../../workload/src/local-fleet.ts';
import { describeLoad, runLoad } from '../../../workload/src/local/load.ts';

const PARTITIONS = 16;

interface Status {
  workerId: string;
  owned: number[];
}

async function statusOf(worker: FleetWorker): Promise<Status | undefined> {
  try {
    return (await (await fetch(`${worker.url}/_capstan/status`)).json()) as Status;
  } catch {
    return undefined; // killed or stopped
  }
}

/** Partitions that two live workers claim to serve at one sample (should be none). */
async function doublyServed(fleet: LocalFleet): Promise<number[]> {
  const statuses = await Promise.all([...fleet.workers.values()].map(statusOf));
  const seen = new Map<number, number>();
  for (const s of statuses) for (const p of s?.owned ?? []) seen.set(p, (seen.get(p) ?? 0) + 1);
  return [...seen].filter(([, n]) => n > 1).map(([p]) => p);
}

/** Samples ownership every 100 ms until stopped; collects every violation seen. */
function sampleOwnership(fleet: LocalFleet): {
  stop: () => Promise<{ samples: number; violations: number[] }>;
} {
  let running = true;
  const violations: number[] = [];
  let samples = 0;
  const loop = (async () => {
    while (running) {
      violations.push(...(await doublyServed(fleet)));
      samples++;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { samples, violations };
    },
  };
}

describe('cache-gateway on a local fleet (4 workers, real ZooKeeper, Redis, HAProxy)', () => {
  const fleet = new LocalFleet({
    name: 'cg',
    app: 'cache-gateway',
    workers: 4,
    partitions: PARTITIONS,
    sessionTimeoutMs: 4000,
    departureDelayMs: 0,
    haproxy: { checkIntervalMs: 300 },
    workerEnv: { LOG_LEVEL: 'warn', CAPSTAN_CACHE_TTL_SECONDS: '300', CAPSTAN_MOVE_WAIT_MS: '3000' },
  });

  beforeAll(async () => fleet.start(), 90_000);
  afterAll(async () => fleet.stop(), 60_000);

  it('answers many keys through HAProxy with exactly one owner per partition at every sample', async () => {
    const sampler = sampleOwnership(fleet);
    const result = await runLoad({
      url: (i) => `${fleet.url}/v1/cache/many-${i % 100}`,
      concurrency: 8,
      total: 300,
      maxMs: 30_000,
    });
    const { samples, violations } = await sampler.stop();
    expect(describeLoad(result)).toBe(describeLoad({ ...result, failed: 0, failures: new Map() }));
    expect(result.ok).toBe(300);
    expect(samples).toBeGreaterThan(0);
    expect(violations).toEqual([]);
    const states = await fleet.partitionStates();
    expect(states.every((s) => s.holder !== undefined && s.holder === s.assigned)).toBe(true);
  });

  it('fetches a key from the upstream once for 200 concurrent requests spread over every worker', async () => {
    const workers = [...fleet.workers.values()];
    const key = 'coalesced';
    const result = await runLoad({
      url: (i) => `${workers[i % workers.length]!.url}/v1/cache/${key}`,
      concurrency: 200,
      total: 200,
      maxMs: 30_000,
    });
    expect(result.ok).toBe(200);
    expect(fleet.upstream!.fetches().get(key)).toBe(1);
  });

  it("serves a hot key from its owner's memory, and from Redis without a new fetch once another worker owns it", async () => {
    const key = 'hot-key';
    const get = async () => {
      const response = await fetch(`${fleet.url}/v1/cache/${key}`);
      await response.text();
      return { cache: response.headers.get('x-cache'), tier: response.headers.get(TIER_HEADER) };
    };
    expect((await get()).cache).toBe('miss');
    expect(await get()).toEqual({ cache: 'hit', tier: 'memory' });
    // The owner leaves on purpose (SIGTERM): its partitions move, and its memory goes with it.
    const partition = partitionOf(key, PARTITIONS);
    const states = await fleet.waitAllServed(20_000);
    const owner = fleet.workers.get(states[partition]!.holder!)!;
    await owner.process.stop();
    fleet.workers.delete(owner.id);
    await fleet.waitAllServed(30_000, [owner.id]);
    expect(await get()).toEqual({ cache: 'hit', tier: 'redis' });
    expect(await get()).toEqual({ cache: 'hit', tier: 'memory' });
    expect(fleet.upstream!.fetches().get(key)).toBe(1);
    await fleet.addWorker();
    await fleet.waitAllServed(30_000);
  }, 90_000);

  it('keeps answering from the upstream while Redis is down and caches again when it returns', async () => {
    await fleet.redis.kill();
    const down = await runLoad({
      url: (i) => `${fleet.url}/v1/cache/redis-down-${i}`,
      concurrency: 4,
      total: 40,
      maxMs: 20_000,
    });
    expect(down.ok).toBe(40);
    const metrics = await Promise.all(
      [...fleet.workers.values()].map(async (w) => (await fetch(`${w.url}/metrics`)).text()),
    );
    expect(metrics.some((m) => /capstan_worker_cache_errors_total\{operation="get"\} [1-9]/.test(m))).toBe(
      true,
    );

    await fleet.redis.restart();
    let last = '';
    await waitUntil(
      async () => {
        await fetch(`${fleet.url}/v1/cache/after-redis`);
        last = (await fetch(`${fleet.url}/v1/cache/after-redis`)).headers.get('x-cache') ?? '';
        return last === 'hit';
      },
      { what: 'caching resumes after Redis returns', timeoutMs: 15_000, intervalMs: 200 },
    );
    expect(last).toBe('hit');
  }, 60_000);

  it('drains a worker on SIGTERM under load without a failed request', async () => {
    const victim = [...fleet.workers.values()][1]!;
    let signalled = false;
    const load = runLoad({
      url: (i) => `${fleet.url}/v1/cache/drain-${i % 60}`,
      concurrency: 6,
      total: 400,
      maxMs: 40_000,
      onOk: () => {
        if (signalled) return;
        signalled = true;
        victim.process.signal('SIGTERM');
      },
    });
    const [result, exit] = await Promise.all([load, victim.process.exited]);
    fleet.workers.delete(victim.id);
    console.log(`SIGTERM under load: ${describeLoad(result)}; exit ${JSON.stringify(exit)}`);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(result.failed).toBe(0);
    await fleet.waitAllServed(20_000, [victim.id]);
  }, 90_000);

  it('moves exactly the partitions of a kill -9 worker to the survivors and recovers', async () => {
    const before = await fleet.waitAllServed(20_000);
    const victim = [...fleet.workers.values()][0]!;
    const ownedCount = before.filter((s) => s.holder === victim.id).length;
    expect(ownedCount).toBeGreaterThan(0);
    let killedAt = 0;
    const load = runLoad({
      url: (i) => `${fleet.url}/v1/cache/kill-${i % 80}`,
      concurrency: 6,
      total: 1500,
      maxMs: 40_000,
      stop: () => killedAt > 0 && Date.now() - killedAt > 12_000,
      onOk: (i) => {
        if (i === 50 && killedAt === 0) {
          killedAt = Date.now();
          victim.process.signal('SIGKILL');
        }
      },
    });
    await waitUntil(async () => Promise.resolve(killedAt > 0), { what: 'kill', timeoutMs: 20_000 });
    const after = await fleet.waitAllServed(30_000, [victim.id]);
    const recoveredMs = Date.now() - killedAt;
    fleet.workers.delete(victim.id);
    const result = await load;
    const moved = after.filter((s, p) => s.assigned !== before[p]!.assigned);
    console.log(
      `kill -9 under load: ${describeLoad(result)}; victim owned ${ownedCount}, moved ${moved.length}, ` +
        `all served again ${recoveredMs} ms after the kill (session timeout 4000 ms)`,
    );
    expect(moved.length).toBe(ownedCount);
    expect(
      after.every((s, p) => s.assigned === before[p]!.assigned || before[p]!.assigned === victim.id),
    ).toBe(true);
    const again = await runLoad({
      url: (i) => `${fleet.url}/v1/cache/kill-${i % 80}`,
      concurrency: 4,
      total: 100,
      maxMs: 20_000,
    });
    expect(again.ok).toBe(100);
  }, 120_000);
});
