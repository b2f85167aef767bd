/**
 * Writes through the whole path while a worker is killed with SIGKILL: counters on a local fleet (real
 * ZooKeeper, Redis, HAProxy and worker processes). Every write waits at its owner first, so many are in
 * flight through the worker that dies, some of them already forwarded to (and applied by) their owner.
 *
 * - Without an Idempotency-Key nothing may send a write twice: each answer is an acknowledgement, a
 *   code that says nothing was applied, or OUTCOME_UNKNOWN (or the connection closed without an answer);
 *   and per key
 *   acknowledged <= final value <= acknowledged + unknown.
 * - With a key, retried until acknowledged: the final value is exactly the number of increments.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { partitionOf } from '../../../common/src/partition.ts';
import { LocalFleet, type FleetWorker } from '../../../workload/src/local-fleet.ts';

const PARTITIONS = 16;
const CLIENTS = 8;
const WRITES_PER_CLIENT = 40;

/** Answers that say the write was not applied. */
const NOT_APPLIED = new Set(['PARTITION_MOVING', 'NO_WORKER_AVAILABLE', 'CAPSTAN_STALE_EPOCH']);

type Answer = 'acked' | 'not-applied' | 'unknown' | 'unmarked';

interface Tally {
  acked: number;
  notApplied: number;
  unknown: number;
  duplicates: number;
  /** Answers that are none of the above: each is a failure of the contract. */
  unmarked: string[];
}

const tally = (): Tally => ({ acked: 0, notApplied: 0, unknown: 0, duplicates: 0, unmarked: [] });

function parsed(text: string): { error?: string; duplicate?: boolean } {
  try {
    return JSON.parse(text) as { error?: string; duplicate?: boolean };
  } catch {
    return {};
  }
}

/** One POST through HAProxy, classified by its answer. */
async function increment(
  base: string,
  key: string,
  headers: Record<string, string>,
): Promise<{ answer: Answer; duplicate: boolean; detail: string }> {
  try {
    const response = await request(`${base}/v1/counters/${key}/incr`, {
      method: 'POST',
      headers: { 'x-capstan-test-delay': '1', ...headers },
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
    const text = await response.body.text();
    const body = parsed(text);
    const detail = `${response.statusCode} ${body.error ?? text.slice(0, 80)}`;
    if (response.statusCode === 200) return { answer: 'acked', duplicate: body.duplicate === true, detail };
    if (body.error === 'OUTCOME_UNKNOWN') return { answer: 'unknown', duplicate: false, detail };
    if (body.error !== undefined && NOT_APPLIED.has(body.error))
      return { answer: 'not-applied', duplicate: false, detail };
    return { answer: 'unmarked', duplicate: false, detail };
  } catch (error) {
    // No answer at all: HAProxy closes a keep-alive client connection without one when the worker died
    // before answering a request that was not the first on it, as HTTP lets a proxy do. The client
    // cannot know the outcome, as with OUTCOME_UNKNOWN.
    const closed = (error as { code?: string }).code === 'UND_ERR_SOCKET';
    return { answer: closed ? 'unknown' : 'unmarked', duplicate: false, detail: String(error) };
  }
}

async function valueOf(fleet: LocalFleet, key: string): Promise<number> {
  const response = await request(`${fleet.url}/v1/counters/${key}`);
  const body = (await response.body.json()) as { value: number };
  expect(response.statusCode).toBe(200);
  return body.value;
}

async function ownedBy(worker: FleetWorker): Promise<number[]> {
  return ((await (await fetch(`${worker.url}/_capstan/status`)).json()) as { owned: number[] }).owned;
}

describe('writes while a worker is killed (counters, 4 workers, real ZooKeeper, Redis, HAProxy)', () => {
  const fleet = new LocalFleet({
    name: 'once',
    app: 'counters',
    workers: 4,
    partitions: PARTITIONS,
    sessionTimeoutMs: 4000,
    departureDelayMs: 0,
    haproxy: { checkIntervalMs: 300 },
    // Each write waits 300 ms at its owner between taking its epoch and writing.
    workerEnv: { LOG_LEVEL: 'warn', CAPSTAN_COUNTERS_WRITE_DELAY_MS: '300', CAPSTAN_MOVE_WAIT_MS: '3000' },
  });

  beforeAll(async () => fleet.start(), 90_000);
  afterAll(async () => fleet.stop(), 60_000);

  /**
   * Kills a worker that owns none of `keys`' partitions (so that writes for them pass through it to
   * their owners, the case where a lost answer hides an applied write), or else any worker.
   */
  async function killOneOf(keys: readonly string[]): Promise<FleetWorker> {
    const workers = [...fleet.workers.values()];
    const partitions = new Set(keys.map((k) => partitionOf(k, PARTITIONS)));
    let victim = workers[workers.length - 1]!;
    for (const w of workers) if (!(await ownedBy(w)).some((p) => partitions.has(p))) victim = w;
    victim.process.signal('SIGKILL');
    fleet.workers.delete(victim.id);
    return victim;
  }

  /** Runs CLIENTS clients, client i writing key `${prefix}-${i}`; kills a worker after four answers per client. */
  async function load(
    prefix: string,
    write: (key: string, n: number, t: Tally) => Promise<void>,
  ): Promise<{ tallies: Tally[]; keys: string[]; victim: string }> {
    const keys = Array.from({ length: CLIENTS }, (_, i) => `${prefix}-${i}`);
    const tallies = keys.map(tally);
    let answered = 0;
    let victim: Promise<FleetWorker> | undefined;
    await Promise.all(
      keys.map(async (key, i) => {
        for (let n = 0; n < WRITES_PER_CLIENT; n++) {
          await write(key, n, tallies[i]!);
          if (++answered === CLIENTS * 4) victim = killOneOf(keys);
        }
      }),
    );
    return { tallies, keys, victim: (await victim!).id };
  }

  function report(name: string, victim: string, tallies: Tally[]): Tally {
    const sum = tallies.reduce((a, t) => ({
      acked: a.acked + t.acked,
      notApplied: a.notApplied + t.notApplied,
      unknown: a.unknown + t.unknown,
      duplicates: a.duplicates + t.duplicates,
      unmarked: [...a.unmarked, ...t.unmarked],
    }));
    console.log(
      `${name}, ${victim} killed: ${CLIENTS * WRITES_PER_CLIENT} increments sent, ${sum.acked} acknowledged ` +
        `(${sum.duplicates} as duplicates), ${sum.notApplied} not applied, ${sum.unknown} outcome unknown, ` +
        `${sum.unmarked.length} unmarked ${JSON.stringify(sum.unmarked.slice(0, 5))}`,
    );
    return sum;
  }

  it('without an Idempotency-Key: no write applied twice, every acknowledged one applied, every doubtful answer OUTCOME_UNKNOWN', async () => {
    const { tallies, keys, victim } = await load('plain', async (key, _n, t) => {
      const { answer, detail } = await increment(fleet.url, key, {});
      if (answer === 'acked') t.acked++;
      else if (answer === 'not-applied') t.notApplied++;
      else if (answer === 'unknown') t.unknown++;
      else t.unmarked.push(detail);
    });
    const sum = report('writes without a key', victim, tallies);
    expect(sum.unmarked).toEqual([]);
    for (const [i, key] of keys.entries()) {
      const t = tallies[i]!;
      const value = await valueOf(fleet, key);
      expect(value).toBeGreaterThanOrEqual(t.acked);
      expect(value).toBeLessThanOrEqual(t.acked + t.unknown);
    }
  }, 180_000);

  it('with an Idempotency-Key, retried until acknowledged: each increment applied exactly once', async () => {
    await fleet.waitAllServed(30_000);
    const { tallies, keys, victim } = await load('keyed', async (key, n, t) => {
      for (let attempt = 0; attempt < 100; attempt++) {
        const { answer, duplicate, detail } = await increment(fleet.url, key, {
          'idempotency-key': `${key}-${n}`,
        });
        if (answer === 'acked') {
          t.acked++;
          if (duplicate) t.duplicates++;
          return;
        }
        if (answer === 'unmarked') t.unmarked.push(detail);
        else if (answer === 'unknown') t.unknown++;
        else t.notApplied++;
        await sleep(100);
      }
    });
    const sum = report('writes with a key', victim, tallies);
    expect(sum.unmarked).toEqual([]);
    expect(sum.acked).toBe(CLIENTS * WRITES_PER_CLIENT);
    for (const key of keys) expect(await valueOf(fleet, key)).toBe(WRITES_PER_CLIENT);
  }, 180_000);
});
