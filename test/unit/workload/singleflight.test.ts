import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { SingleFlight } from '../../../workload/src/singleflight.ts';

describe('SingleFlight', () => {
  it('runs one call per key while it is in flight and shares its result', async () => {
    const flight = new SingleFlight<number>();
    let calls = 0;
    let release!: (value: number) => void;
    const gate = new Promise<number>((resolve) => (release = resolve));
    const work = async (): Promise<number> => {
      calls++;
      return gate;
    };
    const results = Promise.all([flight.do('a', work), flight.do('a', work), flight.do('b', work)]);
    expect(flight.size).toBe(2);
    release(7);
    const [first, second, other] = await results;
    expect(calls).toBe(2);
    expect(first).toEqual({ value: 7, shared: false });
    expect(second).toEqual({ value: 7, shared: true });
    expect(other.shared).toBe(false);
    expect(flight.size).toBe(0);
    await flight.do('a', work);
    expect(calls).toBe(3);
  });

  it('shares a failure and frees the key', async () => {
    const flight = new SingleFlight<number>();
    const failing = async (): Promise<number> => {
      await Promise.resolve();
      throw new Error('boom');
    };
    await expect(Promise.all([flight.do('k', failing), flight.do('k', failing)])).rejects.toThrow('boom');
    expect(flight.size).toBe(0);
  });

  it('calls work once per distinct key among concurrent callers', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom('a', 'b', 'c', 'd'), { maxLength: 30 }), async (keys) => {
        const flight = new SingleFlight<string>();
        const calls = new Map<string, number>();
        await Promise.all(
          keys.map((k) =>
            flight.do(k, async () => {
              calls.set(k, (calls.get(k) ?? 0) + 1);
              await new Promise((resolve) => setImmediate(resolve));
              return k;
            }),
          ),
        );
        expect([...calls.values()].every((n) => n === 1)).toBe(true);
        expect(calls.size).toBe(new Set(keys).size);
      }),
    );
  });
});
