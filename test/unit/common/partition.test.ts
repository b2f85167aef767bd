import { describe, expect, it } from '@jest/globals';
import { crc32 } from 'node:zlib';
import { hash32, haproxyPartitionSample, partitionOf } from '../../../common/src/partition.ts';

describe('partitionOf', () => {
  it('is the CRC-32 of the UTF-8 key modulo the partition count', () => {
    // The check value of CRC-32/ISO-HDLC: "123456789" -> cbf43926.
    expect(hash32('123456789')).toBe(0xcbf43926);
    expect(hash32('')).toBe(0);
    expect(partitionOf('123456789', 16)).toBe(0xcbf43926 % 16);
    expect(partitionOf('ключ', 64)).toBe(crc32(Buffer.from('ключ', 'utf8')) % 64);
  });

  it('builds the HAProxy sample of a key in a path segment', () => {
    expect(haproxyPartitionSample(64, 3)).toBe('path,field(4,/),url_dec,crc32,mod(64)');
    expect(() => haproxyPartitionSample(0, 3)).toThrow(RangeError);
    expect(() => haproxyPartitionSample(8, 0)).toThrow(RangeError);
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
