import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server, type Socket } from 'node:net';
import { TcpExchangeError } from '../../../common/src/tcp-exchange.ts';
import {
  fourLetterWord,
  zooKeeperMode,
  type ZooKeeperMode,
} from '../../../common/src/zookeeper-four-letter.ts';
import {
  freePort,
  LOOPBACK,
  startZooKeeperEnsemble,
  waitUntil,
  type ZooKeeperMemberHandle,
  type ZooKeeperService,
} from '../../../workload/src/local/index.ts';

// Real JVMs on a shared machine: generous per-test budgets, conditions polled with deadlines.
const SLOW = 120_000;

function modesOf(members: readonly ZooKeeperMemberHandle[]): Promise<(ZooKeeperMode | undefined)[]> {
  return Promise.all(members.map((m) => zooKeeperMode(m.host, m.port)));
}

/** What `promise` rejected with (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${String(value)}`);
    },
    (error: unknown) => error,
  );
}

describe('ZooKeeper four-letter words against a 3-member ensemble', () => {
  let ensemble: ZooKeeperService | undefined;

  beforeAll(async () => {
    ensemble = await startZooKeeperEnsemble({ size: 3 });
  }, SLOW);

  afterAll(async () => {
    await ensemble?.stop();
  });

  it('reads one leader and two followers with srvr, and the same roles from mntr', async () => {
    const members = ensemble!.members;
    const modes = await modesOf(members);
    expect([...modes].sort()).toEqual(['follower', 'follower', 'leader']);
    const leader = members[modes.indexOf('leader')]!;
    const mntr = await fourLetterWord(leader.host, leader.port, 'mntr');
    expect(mntr).toMatch(/^zk_server_state\s+leader$/m);
    expect(await fourLetterWord(leader.host, leader.port, 'ruok')).toBe('imok');
  });

  it(
    'reports a new leader once the old one is killed, and nothing for the dead member',
    async () => {
      const members = ensemble!.members;
      const before = await modesOf(members);
      const victim = members[before.indexOf('leader')]!;
      await victim.kill('SIGKILL');
      const survivors = members.filter((m) => m !== victim);
      let after: (ZooKeeperMode | undefined)[] = [];
      await waitUntil(
        async () => {
          after = await modesOf(survivors);
          return [...after].sort().join() === 'follower,leader';
        },
        { what: 'a new leader among the survivors', timeoutMs: 60_000, intervalMs: 250 },
      );
      expect(await zooKeeperMode(victim.host, victim.port)).toBeUndefined();
      const newLeader = survivors[after.indexOf('leader')]!;
      expect(newLeader.id).not.toBe(victim.id);

      // Back in the ensemble, the old leader follows.
      await victim.start();
      expect(await zooKeeperMode(victim.host, victim.port)).toBe('follower');
    },
    SLOW,
  );
});

describe('ZooKeeper four-letter words without a member to answer', () => {
  let silent: Server;
  const accepted: Socket[] = [];

  beforeAll(async () => {
    // Accepts connections and never answers: a member that hangs.
    silent = createServer((socket) => accepted.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, LOOPBACK, resolve));
  });

  afterAll(async () => {
    for (const socket of accepted) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  function silentPort(): number {
    const address = silent.address();
    if (address === null || typeof address === 'string') throw new Error('silent server not listening');
    return address.port;
  }

  it('gives undefined for a closed loopback port (refused)', async () => {
    const port = await freePort();
    expect(await zooKeeperMode(LOOPBACK, port)).toBeUndefined();
    const error = await rejection(fourLetterWord(LOOPBACK, port, 'srvr'));
    expect(error).toBeInstanceOf(TcpExchangeError);
    expect((error as TcpExchangeError).code).toBe('SOCKET');
  });

  it('gives undefined for a member that does not answer, once the deadline passes', async () => {
    const before = accepted.length;
    expect(await zooKeeperMode(LOOPBACK, silentPort(), { timeoutMs: 200 })).toBeUndefined();
    const error = await rejection(fourLetterWord(LOOPBACK, silentPort(), 'srvr', { timeoutMs: 200 }));
    expect((error as TcpExchangeError).code).toBe('TIMEOUT');
    expect(accepted.length).toBeGreaterThanOrEqual(before + 2);
  });

  it('gives undefined as soon as the caller aborts', async () => {
    const before = accepted.length;
    const controller = new AbortController();
    // The deadline is far away: only the abort can end this exchange within the test's time.
    const mode = zooKeeperMode(LOOPBACK, silentPort(), { timeoutMs: 600_000, signal: controller.signal });
    await waitUntil(() => Promise.resolve(accepted.length > before), { what: 'the connection accepted' });
    controller.abort();
    expect(await mode).toBeUndefined();
    const aborted = await rejection(
      fourLetterWord(LOOPBACK, silentPort(), 'srvr', { signal: controller.signal }),
    );
    expect((aborted as TcpExchangeError).code).toBe('ABORTED');
  });
});
