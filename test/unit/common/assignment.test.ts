import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { computeAssignment } from '../../../common/src/assignment.ts';

type Owners = (string | undefined)[];

const POOL = ['w0', 'w1', 'w2', 'w3', 'w4', 'w5', 'w6', 'w7'];

/** A membership change: a worker from the pool joins (or returns) or leaves. */
const stepArb = fc.record({ join: fc.boolean(), worker: fc.constantFrom(...POOL) });

function counts(owners: Owners, workers: readonly string[]): number[] {
  return workers.map((w) => owners.filter((o) => o === w).length);
}

/** The fewest moves any balanced result needs from `previous` (computed independently of the implementation). */
function lowerBound(previous: Owners, workers: readonly string[], partitions: number): number {
  const live = new Set(workers);
  const orphans = previous.slice(0, partitions).filter((o) => o === undefined || !live.has(o)).length;
  const missing = Math.max(0, partitions - previous.length);
  const base = Math.floor(partitions / workers.length);
  const extra = partitions % workers.length;
  const held = counts(previous.slice(0, partitions), workers);
  const over = held.reduce((sum, c) => sum + Math.max(0, c - base - 1), 0);
  const atTop = held.filter((c) => c >= base + 1).length;
  return orphans + missing + over + Math.max(0, atTop - extra);
}

function checkBalanced(owners: Owners, workers: readonly string[]): void {
  const c = counts(owners, workers);
  expect(Math.max(...c) - Math.min(...c)).toBeLessThanOrEqual(1);
  expect(owners.every((o) => o !== undefined && workers.includes(o))).toBe(true);
}

function movedCount(previous: Owners, next: Owners): number {
  return next.filter((o, p) => o !== previous[p]).length;
}

describe('computeAssignment', () => {
  it('keeps balance, stickiness and minimal movement over random membership histories', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 64 }),
        fc.array(stepArb, { maxLength: 20 }),
        (partitions, steps) => {
          let live: string[] = [];
          let owners: Owners = [];
          for (const step of steps) {
            const before = live;
            live = step.join ? [...new Set([...live, step.worker])] : live.filter((w) => w !== step.worker);
            if (live.length === 0) continue;
            const result = computeAssignment(owners, live, partitions);
            checkBalanced(result.owners, live);
            expect(result.moved.length).toBe(movedCount(owners, result.owners));
            expect(result.moved.length).toBe(lowerBound(owners, live, partitions));
            const departed = before.filter((w) => !live.includes(w));
            if (!step.join && before.length > 0) {
              // Sticky: when workers only leave, exactly the partitions of the departed workers move.
              const expected = owners.filter((o) => o !== undefined && departed.includes(o)).length;
              expect(result.moved.length).toBe(expected);
              for (const m of result.moved) expect(departed).toContain(m.from);
            }
            owners = result.owners;
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('on a join moves only what balance needs, and only onto the joining worker', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.uniqueArray(fc.constantFrom(...POOL), { minLength: 1, maxLength: 7 }),
        (partitions, workers) => {
          const start = computeAssignment([], workers, partitions).owners;
          const newcomer = POOL.find((w) => !workers.includes(w))!;
          const result = computeAssignment(start, [...workers, newcomer], partitions);
          const n = workers.length + 1;
          const share = Math.floor(partitions / n);
          // The newcomer takes its share (floor or ceil); nobody else gains anything.
          expect(result.moved.every((m) => m.to === newcomer)).toBe(true);
          expect(result.moved.length).toBeGreaterThanOrEqual(share);
          expect(result.moved.length).toBeLessThanOrEqual(share + 1);
          expect(result.moved.length).toBe(lowerBound(start, [...workers, newcomer], partitions));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('is deterministic and independent of worker order and duplicates', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100 }),
        fc.array(fc.option(fc.constantFrom(...POOL), { nil: undefined }), { maxLength: 100 }),
        fc.uniqueArray(fc.constantFrom(...POOL), { minLength: 1 }),
        fc.integer(),
        (partitions, previous, workers, seed) => {
          const shuffled = [...workers, ...workers].sort((a, b) =>
            (a + seed).localeCompare(b + seed) ? 1 : -1,
          );
          const a = computeAssignment(previous, workers, partitions);
          const b = computeAssignment(previous, shuffled, partitions);
          expect(b).toEqual(a);
          expect(computeAssignment(previous, workers, partitions)).toEqual(a);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('keeps the previous owners when no worker is live', () => {
    const result = computeAssignment(['a', 'b', undefined], [], 3);
    expect(result).toEqual({ owners: ['a', 'b', undefined], moved: [] });
  });

  it('spreads a fresh assignment evenly and gives each worker its share', () => {
    const result = computeAssignment([], ['a', 'b', 'c'], 10);
    expect(counts(result.owners, ['a', 'b', 'c']).sort()).toEqual([3, 3, 4]);
    expect(result.moved).toHaveLength(10);
    expect(result.moved.every((m) => m.from === undefined)).toBe(true);
  });

  it('handles a grown and a shrunk partition count', () => {
    const start = computeAssignment([], ['a', 'b'], 4).owners;
    const grown = computeAssignment(start, ['a', 'b'], 6);
    expect(grown.moved.map((m) => m.partition)).toEqual([4, 5]);
    const shrunk = computeAssignment(grown.owners, ['a', 'b'], 3);
    expect(shrunk.owners).toHaveLength(3);
    checkBalanced(shrunk.owners, ['a', 'b']);
  });

  it('rejects an invalid partition count', () => {
    expect(() => computeAssignment([], ['a'], -1)).toThrow(RangeError);
    expect(() => computeAssignment([], ['a'], 1.5)).toThrow(RangeError);
  });
});
