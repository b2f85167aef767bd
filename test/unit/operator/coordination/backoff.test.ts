import { describe, expect, it } from '@jest/globals';
import { DEFAULT_BACKOFF, backoffDelay } from '../../../../operator/src/coordination/backoff.ts';

const schedule = (random: () => number, count: number): number[] =>
  Array.from({ length: count }, (_, i) => backoffDelay(i + 1, DEFAULT_BACKOFF, random));

describe('backoffDelay', () => {
  it('starts at 1 s and doubles up to 60 s without jitter', () => {
    expect(schedule(() => 0, 10)).toEqual([
      1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000, 60_000,
    ]);
  });

  it('takes up to 20 % off at random, never exceeding the cap', () => {
    expect(schedule(() => 0.5, 8)).toEqual([900, 1_800, 3_600, 7_200, 14_400, 28_800, 54_000, 54_000]);
    expect(backoffDelay(1, DEFAULT_BACKOFF, () => 0.999_999)).toBe(800);
    for (let failures = 1; failures < 100; failures++) {
      const delay = backoffDelay(failures, DEFAULT_BACKOFF, Math.random);
      expect(delay).toBeGreaterThanOrEqual(800);
      expect(delay).toBeLessThanOrEqual(60_000);
    }
  });

  it('stays finite and capped for absurd failure counts and clamps a bad random source', () => {
    expect(backoffDelay(10_000, DEFAULT_BACKOFF, () => 0)).toBe(60_000);
    expect(backoffDelay(0, DEFAULT_BACKOFF, () => 0)).toBe(1_000);
    expect(backoffDelay(1, DEFAULT_BACKOFF, () => 7)).toBe(800);
    expect(backoffDelay(1, DEFAULT_BACKOFF, () => -1)).toBe(1_000);
    expect(backoffDelay(3, { initialMs: 100, maxMs: 250, factor: 3, jitter: 0 }, () => 0.5)).toBe(250);
  });
});
