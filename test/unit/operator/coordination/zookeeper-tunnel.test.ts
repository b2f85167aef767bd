import { afterAll, describe, expect, it } from '@jest/globals';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { zooKeeperTunnel } from '../../../../operator/src/coordination/zookeeper-tunnel.ts';
import { createLogger } from '../../../../operator/src/runtime/index.ts';

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

  it('refuses a member whose forward failed without trying again until the hold-off has passed', async () => {
    let now = 1_000;
    const tunnel = await zooKeeperTunnel(forward, logger, { holdOffMs: 3_000, now: () => now }).open({
      namespace: 'held',
      pods: ['gone'],
      port: 2181,
    });
    const port = Number(tunnel.connectString.split(':')[1]);
    const tries = (): number => forwarded.filter((f) => f.startsWith('held/')).length;
    expect(await exchange(port, 'ruok')).toBe('');
    expect(tries()).toBe(1);
    now += 2_999;
    expect(await exchange(port, 'ruok')).toBe('');
    expect(tries()).toBe(1);
    now += 1;
    expect(await exchange(port, 'ruok')).toBe('');
    expect(tries()).toBe(2);
    await tunnel.close();
  });
});
