import { afterAll, describe, expect, it } from '@jest/globals';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { zooKeeperTunnel } from '../../../../operator/src/coordination/zookeeper-tunnel.ts';
import { createLogger } from '../../../../operator/src/runtime/index.ts';
import type { Timers } from '../../../../common/src/timers.ts';

/** Sends `text` to 127.0.0.1:`port` and resolves what comes back before the other side closes. */
function exchange(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    // Written, not ended: a ZooKeeper client never half-closes, and the tunnel does not keep half-open sockets.
    const socket = connect({ host: '127.0.0.1', port }, () => socket.write(text));
    // Bounded: a tunnel that never answers fails the test instead of hanging it.
    socket.setTimeout(5_000, () => socket.destroy(new Error('no answer within 5 s')));
    let reply = '';
    socket.on('data', (chunk: Buffer) => (reply += chunk.toString()));
    socket.on('close', () => resolve(reply));
    socket.on('error', reject);
  });
}

describe('zooKeeperTunnel', () => {
  const logger = createLogger({ level: 'silent' });
  // Stands in for the API server's port-forward: pipes each connection to a loopback server named by the pod.
  const servers = new Map<string, Server>();
  const forwarded: string[] = [];
  const forward = (namespace: string, pod: string, port: number, socket: Socket): Promise<void> => {
    forwarded.push(`${namespace}/${pod}:${port}`);
    const server = servers.get(pod);
    if (server === undefined) return Promise.reject(new Error(`pod ${pod} not found`));
    const address = server.address();
    const upstream = connect({
      host: '127.0.0.1',
      port: typeof address === 'object' && address ? address.port : 0,
    });
    socket.pipe(upstream).pipe(socket);
    return Promise.resolve();
  };

  async function member(name: string): Promise<void> {
    const server = createServer((s) => s.on('data', (d: Buffer) => s.end(`${name}:${d.toString()}`)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.set(name, server);
  }

  afterAll(async () => {
    for (const server of servers.values()) await new Promise((resolve) => server.close(resolve));
  });

  it('gives each member a loopback listener that reaches that member, in member order', async () => {
    await member('zk-0');
    await member('zk-1');
    const tunnel = await zooKeeperTunnel(forward, logger).open({
      namespace: 'demo',
      pods: ['zk-0', 'zk-1'],
      port: 2181,
    });
    const ports = tunnel.connectString.split(',').map((hostPort) => {
      expect(hostPort.startsWith('127.0.0.1:')).toBe(true);
      return Number(hostPort.split(':')[1]);
    });
    expect(await exchange(ports[0]!, 'ruok')).toBe('zk-0:ruok');
    expect(await exchange(ports[1]!, 'srvr')).toBe('zk-1:srvr');
    expect(forwarded).toEqual(['demo/zk-0:2181', 'demo/zk-1:2181']);
    await tunnel.close();
    await expect(exchange(ports[0]!, 'ruok')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('closes a connection to a member that cannot be forwarded, so the client tries the next', async () => {
    const tunnel = await zooKeeperTunnel(forward, logger).open({
      namespace: 'demo',
      pods: ['gone'],
      port: 2181,
    });
    const port = Number(tunnel.connectString.split(':')[1]);
    expect(await exchange(port, 'ruok')).toBe('');
    await tunnel.close();
  });

  /** A clock the test moves, and the timers set on it, fired by the test. */
  function fakeTimers(start: number): Timers & { advance(ms: number): void; pending(): number[] } {
    let now = start;
    const timers = new Map<number, { at: number; fn: () => void }>();
    let next = 0;
    return {
      now: () => now,
      setTimeout: (fn, ms) => {
        timers.set(++next, { at: now + ms, fn });
        return next;
      },
      clearTimeout: (handle) => void timers.delete(handle as number),
      pending: () => [...timers.values()].map((t) => t.at - now),
      advance(ms) {
        now += ms;
        for (const [id, t] of timers) {
          if (t.at > now) continue;
          timers.delete(id);
          t.fn();
        }
      },
    };
  }

  /** Resolves once `condition` holds (the tunnel's side of a connection moves asynchronously). */
  async function until(condition: () => boolean): Promise<void> {
    while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  it('holds a member whose forward failed open and silent until the hold-off has passed, then tries again', async () => {
    const timers = fakeTimers(1_000);
    const tunnel = await zooKeeperTunnel(forward, logger, { holdOffMs: 3_000, timers }).open({
      namespace: 'held',
      pods: ['gone'],
      port: 2181,
    });
    const port = Number(tunnel.connectString.split(':')[1]);
    const tries = (): number => forwarded.filter((f) => f.startsWith('held/')).length;
    expect(await exchange(port, 'ruok')).toBe('');
    expect(tries()).toBe(1);
    timers.advance(2_999);
    let closed = false;
    const parked = exchange(port, 'ruok').then((reply) => ((closed = true), reply));
    await until(() => timers.pending().length === 1);
    // Parked for what is left of the hold-off, not forwarded and not closed (the client would spin).
    expect(timers.pending()).toEqual([1]);
    expect(closed).toBe(false);
    expect(tries()).toBe(1);
    timers.advance(1);
    expect(await parked).toBe('');
    expect(await exchange(port, 'ruok')).toBe('');
    expect(tries()).toBe(2);
    await tunnel.close();
  });

  it('closes parked connections when it closes', async () => {
    const timers = fakeTimers(1_000);
    const tunnel = await zooKeeperTunnel(forward, logger, { timers }).open({
      namespace: 'parked',
      pods: ['gone'],
      port: 2181,
    });
    const port = Number(tunnel.connectString.split(':')[1]);
    expect(await exchange(port, 'ruok')).toBe('');
    const parked = exchange(port, 'ruok');
    await until(() => timers.pending().length === 1);
    await tunnel.close();
    expect(await parked).toBe('');
    // Its hold-off timer goes with it (the server side's close comes a tick after the client's).
    await until(() => timers.pending().length === 0);
  });

  it('holds a member off across the tunnels opened to it, so the next attempt does not forward at once', async () => {
    const timers = fakeTimers(1_000);
    const tunnels = zooKeeperTunnel(forward, logger, { holdOffMs: 3_000, timers });
    const target = { namespace: 'again', pods: ['gone'], port: 2181 };
    const tries = (): number => forwarded.filter((f) => f.startsWith('again/')).length;
    const first = await tunnels.open(target);
    expect(await exchange(Number(first.connectString.split(':')[1]), 'ruok')).toBe('');
    await first.close();
    timers.advance(1_000);
    const second = await tunnels.open(target);
    const parked = exchange(Number(second.connectString.split(':')[1]), 'ruok');
    await until(() => timers.pending().length === 1);
    expect(timers.pending()).toEqual([2_000]);
    expect(tries()).toBe(1);
    timers.advance(2_000);
    expect(await parked).toBe('');
    await second.close();
    // A member of the same name in another namespace is another member.
    const other = await tunnels.open({ ...target, namespace: 'elsewhere' });
    expect(await exchange(Number(other.connectString.split(':')[1]), 'ruok')).toBe('');
    expect(forwarded.filter((f) => f.startsWith('elsewhere/'))).toHaveLength(1);
    await other.close();
  });
});
