import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { partitionOf } from '../../../common/src/partition.ts';
import { waitUntil } from '../../../workload/src/local/index.ts';
import { LocalFleet } from '../../../workload/src/local-fleet.ts';
import type { FleetWorker } from '../../../workload/src/local-fleet.ts';

const PARTITIONS = 8;
const KEYS = 10;

/** One increment, retried with the same idempotency key until acknowledged (bounded). */
async function incrementUntilAcked(url: string, id: string, failures: { count: number }): Promise<boolean> {
  for (let attempt = 0; attempt < 60; attempt++) {
    try {
      const response = await request(url, {
        method: 'POST',
        headers: { 'idempotency-key': id },
        headersTimeout: 10_000,
      });
      await response.body.text();
      if (response.statusCode === 200) return true;
    } catch {
      // counted below
    }
    failures.count++;
    await sleep(100);
  }
  return false;
}

async function valueOf(fleet: LocalFleet, key: string): Promise<number> {
  const response = await request(`${fleet.url}/v1/counters/${key}`);
  expect(response.statusCode).toBe(200);
  return ((await response.body.json()) as { value: number }).value;
}

async function ownedBy(worker: FleetWorker): Promise<number[]> {
  return ((await (await fetch(`${worker.url}/_capstan/status`)).json()) as { owned: number[] }).owned;
}

describe('counters on a local fleet (3 workers, real ZooKeeper, Redis, HAProxy)', () => {
  const fleet = new LocalFleet({
    name: 'ctr',
    app: 'counters',
    workers: 3,
    partitions: PARTITIONS,
    sessionTimeoutMs: 4000,
    departureDelayMs: 0,
    haproxy: { checkIntervalMs: 300 },
    workerEnv: { LOG_LEVEL: 'warn', CAPSTAN_COUNTERS_WRITE_DELAY_MS: '6000', CAPSTAN_MOVE_WAIT_MS: '3000' },
  });

  beforeAll(async () => fleet.start(), 90_000);
  afterAll(async () => fleet.stop(), 60_000);

  it('ends with the number of acknowledged increments after a worker is killed mid-load', async () => {
    const acked = new Array<number>(KEYS).fill(0);
    const failures = { count: 0 };
    const victim = [...fleet.workers.values()][2]!;
    let next = 0;
    let killed = false;
    const client = async (): Promise<void> => {
      while (next < 300) {
        const i = next++;
        const ok = await incrementUntilAcked(
          `${fleet.url}/v1/counters/ctr-${i % KEYS}/incr`,
          `inc-${i}`,
          failures,
        );
        if (ok) acked[i % KEYS]!++;
        if (i === 60 && !killed) {
          killed = true;
          victim.process.signal('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: 6 }, client));
    fleet.workers.delete(victim.id);
    const total = acked.reduce((a, b) => a + b, 0);
    console.log(
      `counters under kill -9: ${total} increments acknowledged, ${failures.count} failed attempts retried`,
    );
    expect(killed).toBe(true);
    expect(total).toBe(300);
    for (let k = 0; k < KEYS; k++) expect(await valueOf(fleet, `ctr-${k}`)).toBe(acked[k]);
  }, 120_000);

  it('a worker paused past its session timeout serves nothing when resumed and its write is rejected', async () => {
    await fleet.waitAllServed(30_000);
    const paused = [...fleet.workers.values()][0]!;
    const owned = await ownedBy(paused);
    let key = '';
    for (let i = 0; key === ''; i++)
      if (owned.includes(partitionOf(`stale-${i}`, PARTITIONS))) key = `stale-${i}`;
    const before = await valueOf(fleet, key);
    const oldEpoch = (await fleet.partitionStates())[partitionOf(key, PARTITIONS)]!.epoch;

    // An increment that takes its epoch now and writes 6 s later, in the middle of which the owner is paused.
    const write = request(`${paused.url}/v1/counters/${key}/incr`, {
      method: 'POST',
      headers: { 'x-capstan-test-delay': '1', 'idempotency-key': 'stale-write' },
      headersTimeout: 30_000,
    });
    await waitUntil(
      async () =>
        /capstan_worker_in_flight_requests 1/.test(await (await fetch(`${paused.url}/metrics`)).text()),
      {
        what: 'the delayed write is in flight',
        timeoutMs: 5000,
        intervalMs: 20,
      },
    );
    paused.process.pause();
    // A read sent to the paused worker waits in its socket until it is resumed.
    const read = request(`${paused.url}/v1/counters/${key}`, { headersTimeout: 30_000 });
    try {
      await fleet.waitAllServed(30_000, [paused.id]);
      // The new owner serves the key (it fenced the epoch before serving).
      await waitUntil(async () => (await request(`${fleet.url}/v1/counters/${key}`)).statusCode === 200, {
        what: 'the new owner serves the key',
        timeoutMs: 10_000,
      });
    } finally {
      paused.process.resume();
    }
    const readResponse = await read;
    await readResponse.body.text();
    const response = await write;
    const body = (await response.body.json()) as { error?: string };
    console.log(`paused owner's write after resume: ${response.statusCode} ${JSON.stringify(body)}`);
    expect(response.statusCode).toBe(409);
    expect(body.error).toBe('CAPSTAN_STALE_EPOCH');
    // Whoever answered the read, it was not the paused worker under its old epoch.
    const servedBy = readResponse.headers['x-capstan-served-by'];
    const epoch = Number(readResponse.headers['x-capstan-epoch']);
    console.log(
      `read sent while paused: ${readResponse.statusCode} by ${String(servedBy)} at epoch ${epoch} (old ${oldEpoch})`,
    );
    expect(servedBy !== paused.id || epoch > oldEpoch).toBe(true);
    expect(await valueOf(fleet, key)).toBe(before);
    const metrics = await (await fetch(`${paused.url}/metrics`)).text();
    expect(metrics).toMatch(/capstan_worker_stale_epoch_writes_total 1/);
  }, 90_000);
});
