import { createHash } from 'node:crypto';

/**
 * Maps a key to its partition: the first 4 bytes of SHA-1(UTF-8 key), read as an unsigned big-endian
 * 32-bit integer, modulo `partitions`. Stable across processes, versions and platforms (the mapping is
 * part of the wire contract: every worker and the operator must agree on it). Throws on a partition
 * count that is not a positive integer.
 */
export function partitionOf(key: string, partitions: number): number {
  if (!Number.isSafeInteger(partitions) || partitions < 1) {
    throw new RangeError(`partitions must be a positive integer, got ${partitions}`);
  }
  return hash32(key) % partitions;
}

/** First 4 bytes of SHA-1 of the UTF-8 bytes of `value`, as an unsigned 32-bit integer. */
export function hash32(value: string): number {
  return createHash('sha1').update(value, 'utf8').digest().readUInt32BE(0);
}
