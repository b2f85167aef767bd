import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { hash32, partitionOf } from '../../../common/src/partition.ts';

describe('partitionOf', () => {
  it('is the first 4 bytes of SHA-1, big-endian, modulo the partition count', () => {
    // SHA-1("") = da39a3ee..., SHA-1("abc") = a9993e36...
    expect(hash32('')).toBe(0xda39a3ee);
    expect(hash32('abc')).toBe(0xa9993e36);
    expect(partitionOf('abc', 16)).toBe(0xa9993e36 % 16);
    expect(partitionOf('', 1000)).toBe(0xda39a3ee % 1000);
  });

  it('keeps known values stable', () => {
    expect(['user:1', 'user:2', 'orders/42', 'ключ'].map((k) => partitionOf(k, 64))).toEqual(
      ['user:1', 'user:2', 'orders/42', 'ключ'].map(
        (k) => createHash('sha1').update(Buffer.from(k, 'utf8')).digest().readUInt32BE(0) % 64,
      ),
    );
    expect(partitionOf('user:1', 64)).toBe(partitionOf('user:1', 64));
  });

  it('spreads keys evenly', () => {
    const partitions = 16;
    const keys = 16_000;
    const buckets = new Array<number>(partitions).fill(0);
    for (let i = 0; i < keys; i++) buckets[partitionOf(`key-${i}`, partitions)]! += 1;
    const expected = keys / partitions;
    for (const count of buckets) expect(Math.abs(count - expected)).toBeLessThan(expected * 0.1);
  });

  it('rejects a partition count that is not a positive integer', () => {
    expect(() => partitionOf('k', 0)).toThrow(RangeError);
    expect(() => partitionOf('k', 2.5)).toThrow(RangeError);
  });
});
