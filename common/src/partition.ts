import { crc32 } from 'node:zlib';

/**
 * Maps a key to its partition: the CRC-32 (IEEE 802.3, as in gzip and PNG) of the key's UTF-8 bytes, an
 * unsigned 32-bit integer, modulo `partitions`. Stable across processes, versions and platforms (the
 * mapping is part of the wire contract: every worker, the operator and the load balancer must agree on
 * it), and the function HAProxy computes with its `crc32` converter, so that it can route a request to
 * its partition's owner itself ({@link haproxyPartitionSample}). Throws on a partition count that is not
 * a positive integer.
 */
export function partitionOf(key: string, partitions: number): number {
  if (!Number.isSafeInteger(partitions) || partitions < 1) {
    throw new RangeError(`partitions must be a positive integer, got ${partitions}`);
  }
  return hash32(key) % partitions;
}

/** CRC-32 of the UTF-8 bytes of `value`, as an unsigned 32-bit integer. */
export function hash32(value: string): number {
  return crc32(Buffer.from(value, 'utf8'));
}

/**
 * The HAProxy sample expression that yields the partition of a request whose key is path segment
 * `segment` (1-based: `/v1/cache/<key>` has its key in segment 3), percent-decoded as the workers decode
 * path parameters. A path without that segment yields the partition of the empty key.
 */
export function haproxyPartitionSample(partitions: number, segment: number): string {
  if (!Number.isSafeInteger(partitions) || partitions < 1)
    throw new RangeError(`partitions must be a positive integer, got ${partitions}`);
  if (!Number.isSafeInteger(segment) || segment < 1)
    throw new RangeError(`segment must be a positive integer, got ${segment}`);
  // field() counts from the empty string before the leading slash.
  return `path,field(${segment + 1},/),url_dec,crc32,mod(${partitions})`;
}
