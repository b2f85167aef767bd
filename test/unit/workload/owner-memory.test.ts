import { describe, expect, it } from '@jest/globals';
import { OwnerMemory } from '../../../workload/src/owner-memory.ts';

function memory(maxEntries: number, maxBytes: number) {
  const clock = { now: 1000 };
  const m = new OwnerMemory<string>({ maxEntries, maxBytes, now: () => clock.now });
  const put = (key: string, partition = 0, bytes = 10, ttl = 100) =>
    m.set(key, partition, `v-${key}`, { bytes, expiresAt: clock.now + ttl });
  return { m, clock, put };
}

describe('OwnerMemory', () => {
  it('returns what it holds until it expires', () => {
    const { m, clock, put } = memory(10, 1000);
    put('a');
    expect(m.get('a')).toBe('v-a');
    clock.now += 100;
    expect(m.get('a')).toBeUndefined();
    expect(m.size).toEqual({ entries: 0, bytes: 0 });
  });

  it('evicts the least recently used entry beyond its entry bound', () => {
    const { m, put } = memory(2, 1000);
    put('a');
    put('b');
    m.get('a');
    put('c');
    expect([m.get('a'), m.get('b'), m.get('c')]).toEqual(['v-a', undefined, 'v-c']);
  });

  it('evicts beyond its byte bound and refuses a value larger than the bound', () => {
    const { m, put } = memory(100, 25);
    put('a', 0, 10);
    put('b', 0, 10);
    put('c', 0, 10);
    expect(m.size).toEqual({ entries: 2, bytes: 20 });
    expect(m.get('a')).toBeUndefined();
    put('huge', 0, 26);
    expect(m.get('huge')).toBeUndefined();
  });

  it('drops every entry of a revoked partition and only those', () => {
    const { m, put } = memory(10, 1000);
    put('a', 1);
    put('b', 1);
    put('c', 2);
    expect(m.dropPartition(1)).toBe(2);
    expect([m.get('a'), m.get('b'), m.get('c')]).toEqual([undefined, undefined, 'v-c']);
    expect(m.size).toEqual({ entries: 1, bytes: 10 });
  });

  it('replaces an entry of the same key, keeping the byte count right', () => {
    const { m, put } = memory(10, 1000);
    put('a', 1, 10);
    put('a', 2, 30);
    expect(m.size).toEqual({ entries: 1, bytes: 30 });
    expect(m.dropPartition(1)).toBe(0);
    expect(m.dropPartition(2)).toBe(1);
  });

  it('holds nothing when a bound is 0', () => {
    const { m, put } = memory(0, 1000);
    put('a');
    expect(m.enabled).toBe(false);
    expect(m.get('a')).toBeUndefined();
  });
});
