import { describe, expect, it } from '@jest/globals';
import { DEFAULT_BACKOFF, backoffDelay } from '../../../../operator/src/coordination/backoff.ts';
import {
  Supervisor,
  type OpenSession,
  type Session,
  type SupervisorState,
} from '../../../../operator/src/coordination/supervisor.ts';
import { ManualClock } from '../../../../operator/src/runtime/index.ts';
import { advance, manualTimers, settle } from './helpers.ts';

/** A session the test ends by hand; counts its close() calls. */
class FakeSession implements Session {
  closes = 0;
  #end = (_reason: string): void => undefined;
  readonly ended = new Promise<string>((resolve) => (this.#end = resolve));

  end(reason: string): void {
    this.#end(reason);
  }

  close(): Promise<void> {
    this.closes++;
    this.#end('closed');
    return Promise.resolve();
  }
}

function harness(open: OpenSession, random: () => number = () => 0, holdWhile?: () => string | undefined) {
  const clock = new ManualClock(0);
  const states: SupervisorState[] = [];
  const supervisor = new Supervisor({
    open,
    ...(holdWhile === undefined ? {} : { holdWhile }),
    onState: (state) => states.push(state),
    timers: manualTimers(clock),
    random,
  });
  const waits = (): number[] => states.flatMap((s) => (s.state === 'waiting' ? [s.delayMs] : []));
  return { clock, states, supervisor, waits };
}

describe('Supervisor', () => {
  it('retries a failing open on the backoff schedule, one attempt per delay', async () => {
    const attempts: number[] = [];
    const { clock, supervisor, waits } = harness(() => {
      attempts.push(clock.now());
      return Promise.reject(new Error('connection refused'));
    });
    supervisor.start();
    await settle();
    await advance(clock, 200_000, 500);
    expect(attempts).toEqual([0, 1_000, 3_000, 7_000, 15_000, 31_000, 63_000, 123_000, 183_000]);
    expect(waits()).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]);
    expect(supervisor.failures).toBe(9);
    // Exactly one timer is pending: the next attempt.
    expect(clock.pendingTimers()).toBe(1);
    await supervisor.close();
    expect(clock.pendingTimers()).toBe(0);
  });

  it('takes its jitter from the injected random source', async () => {
    const { clock, supervisor, waits, states } = harness(
      () => Promise.reject(new Error('timeout')),
      () => 0.5,
    );
    supervisor.start();
    await advance(clock, 30_000, 100);
    const expected = [1, 2, 3, 4, 5].map((n) => backoffDelay(n, DEFAULT_BACKOFF, () => 0.5));
    expect(waits().slice(0, 5)).toEqual(expected);
    const first = states.find((s) => s.state === 'waiting');
    expect(first).toMatchObject({ failures: 1, reason: 'open failed', error: new Error('timeout') });
    await supervisor.close();
  });

  it('closes an ended session and reopens after the backoff; a session that lasted resets the count', async () => {
    const sessions: FakeSession[] = [];
    const { clock, supervisor, waits } = harness(() => {
      const session = new FakeSession();
      sessions.push(session);
      return Promise.resolve(session);
    });
    supervisor.start();
    await settle();
    expect(sessions).toHaveLength(1);
    sessions[0]!.end('session expired');
    await settle();
    expect(sessions[0]!.closes).toBe(1);
    expect(waits()).toEqual([1_000]);
    await advance(clock, 999, 333);
    expect(sessions).toHaveLength(1);
    await advance(clock, 1);
    expect(sessions).toHaveLength(2);
    sessions[1]!.end('disconnected');
    await settle();
    await advance(clock, 2_000);
    expect(waits()).toEqual([1_000, 2_000]);
    expect(sessions).toHaveLength(3);
    await advance(clock, DEFAULT_BACKOFF.maxMs);
    sessions[2]!.end('session expired');
    await settle();
    expect(waits()).toEqual([1_000, 2_000, 1_000]);
    expect(supervisor.failures).toBe(1);
    await supervisor.close();
  });

  it('close() closes the open session once and reports closed last', async () => {
    const session = new FakeSession();
    const { supervisor, states } = harness(() => Promise.resolve(session));
    supervisor.start();
    await settle();
    expect(states.at(-1)).toEqual({ state: 'open' });
    await supervisor.close();
    await supervisor.close();
    expect(session.closes).toBeGreaterThanOrEqual(1);
    expect(states.at(-1)).toEqual({ state: 'closed' });
    expect(states.filter((s) => s.state === 'waiting')).toEqual([]);
  });

  it('close() aborts an attempt in flight and waits for it', async () => {
    let aborted = false;
    const { clock, supervisor, states } = harness(
      (signal) =>
        new Promise<Session>((_, reject) =>
          signal.addEventListener('abort', () => {
            aborted = true;
            reject(new Error('aborted'));
          }),
        ),
    );
    supervisor.start();
    await settle();
    await supervisor.close();
    expect(aborted).toBe(true);
    expect(states.map((s) => s.state)).toEqual(['opening', 'closed']);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('closes a session that opened after close() was called', async () => {
    const session = new FakeSession();
    let resolveOpen = (_s: Session): void => undefined;
    const { supervisor } = harness(() => new Promise<Session>((resolve) => (resolveOpen = resolve)));
    supervisor.start();
    await settle();
    const closing = supervisor.close();
    resolveOpen(session);
    await closing;
    expect(session.closes).toBe(1);
  });

  it('cancels the pending retry on close() and never opens again', async () => {
    let opens = 0;
    const { clock, supervisor } = harness(() => {
      opens++;
      return Promise.reject(new Error('refused'));
    });
    supervisor.start();
    await settle();
    expect(clock.pendingTimers()).toBe(1);
    await supervisor.close();
    expect(clock.pendingTimers()).toBe(0);
    await advance(clock, 120_000, 10_000);
    expect(opens).toBe(1);
  });

  it('starts only after the given promise settled, even when it rejected', async () => {
    let opens = 0;
    const { supervisor } = harness(() => {
      opens++;
      return Promise.resolve(new FakeSession());
    });
    let release = (): void => undefined;
    supervisor.start(new Promise<void>((_, reject) => (release = () => reject(new Error('old one failed')))));
    await settle();
    expect(opens).toBe(0);
    release();
    await settle();
    expect(opens).toBe(1);
    await supervisor.close();
  });

  it('makes no attempt while held, asks again after the cap, and attempts once the hold lifts', async () => {
    const attempts: number[] = [];
    let hold: string | undefined = '0 of 3 members Ready';
    const { clock, supervisor, states } = harness(
      () => {
        attempts.push(clock.now());
        return Promise.resolve(new FakeSession());
      },
      () => 0,
      () => hold,
    );
    supervisor.start();
    await settle();
    await advance(clock, DEFAULT_BACKOFF.maxMs - 1, 10_000);
    expect(attempts).toEqual([]);
    expect(states).toEqual([{ state: 'held', reason: '0 of 3 members Ready' }]);
    expect(clock.pendingTimers()).toBe(1);
    hold = undefined;
    await advance(clock, 1);
    expect(attempts).toEqual([DEFAULT_BACKOFF.maxMs]);
    expect(states.at(-1)).toEqual({ state: 'open' });
    await supervisor.close();
  });

  it('wake() lifts a hold at once, and a hold that persists keeps one timer pending', async () => {
    let opens = 0;
    let hold: string | undefined = 'no quorum';
    const { clock, supervisor, states } = harness(
      () => {
        opens++;
        return Promise.resolve(new FakeSession());
      },
      () => 0,
      () => hold,
    );
    supervisor.start();
    await settle();
    supervisor.wake();
    await settle();
    expect(opens).toBe(0);
    expect(states.filter((s) => s.state === 'held')).toHaveLength(2);
    expect(clock.pendingTimers()).toBe(1);
    hold = undefined;
    supervisor.wake();
    await settle();
    expect(opens).toBe(1);
    expect(clock.pendingTimers()).toBe(0);
    // Open: a wake changes nothing.
    supervisor.wake();
    await settle();
    expect(opens).toBe(1);
    await supervisor.close();
  });

  it('wake() cuts a pending retry short without resetting the failure count', async () => {
    const attempts: number[] = [];
    const { clock, supervisor, waits } = harness(() => {
      attempts.push(clock.now());
      return Promise.reject(new Error('refused'));
    });
    supervisor.start();
    await settle();
    await advance(clock, 3_000, 500);
    expect(attempts).toEqual([0, 1_000, 3_000]);
    await advance(clock, 1_000);
    supervisor.wake();
    await settle();
    expect(attempts).toEqual([0, 1_000, 3_000, 4_000]);
    expect(waits()).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(clock.pendingTimers()).toBe(1);
    await supervisor.close();
    supervisor.wake();
    await settle();
    expect(attempts).toHaveLength(4);
  });
});
