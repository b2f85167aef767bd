/**
 * The owner-map process (workload/src/owner-map-main.ts) as the HAProxy pod runs it, started before its
 * ZooKeeper: every pod of an app starts at once, so the ensemble is often not there yet. It must wait
 * for ZooKeeper rather than exit (an exit is a container restart, counted in the pod's RESTARTS), and go
 * on once ZooKeeper answers. ZooKeeper is real; its address is reachable only once the test opens it
 * (a forwarding listener on a port the process was given at start).
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect as tcpConnect, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { freePort, LOOPBACK, waitUntil } from '../../../workload/src/local/index.ts';
import { startZooKeeper, type ZooKeeperService } from '../../../workload/src/local/zookeeper.ts';

const MAIN = fileURLToPath(new URL('../../../workload/src/owner-map-main.ts', import.meta.url));

/** Forwards every connection on `port` to `target` (host:port). */
function forward(port: number, target: string): Promise<Server> {
  const [host, targetPort] = target.split(':');
  const server = createServer((socket) => {
    const upstream = tcpConnect(Number(targetPort), host);
    socket.pipe(upstream).pipe(socket);
    const close = (): void => {
      socket.destroy();
      upstream.destroy();
    };
    socket.on('error', close);
    upstream.on('error', close);
  });
  return new Promise((resolve) => server.listen(port, LOOPBACK, () => resolve(server)));
}

/** The `msg` of each JSON log line written so far. */
function messages(lines: string[]): string[] {
  return lines.flatMap((line) => {
    try {
      return [String((JSON.parse(line) as { msg?: unknown }).msg)];
    } catch {
      return [];
    }
  });
}

describe('the owner-map process started before its ZooKeeper', () => {
  let zookeeper: ZooKeeperService | undefined;
  let proxy: Server | undefined;
  let child: ChildProcess | undefined;

  afterAll(async () => {
    child?.kill('SIGKILL');
    await new Promise<void>((resolve) => (proxy ? proxy.close(() => resolve()) : resolve()));
    await zookeeper?.stop();
  });

  it('waits for ZooKeeper instead of exiting, and connects once it answers', async () => {
    const zooKeeperPort = await freePort();
    const lines: string[] = [];
    let exited: number | null | undefined;
    child = spawn(process.execPath, [MAIN], {
      env: {
        CAPSTAN_NAMESPACE: 'default',
        CAPSTAN_APP_NAME: 'late',
        CAPSTAN_ZOOKEEPER_CONNECT: `${LOOPBACK}:${zooKeeperPort}`,
        CAPSTAN_ZOOKEEPER_SESSION_TIMEOUT_MS: '2000',
        // Nothing listens there: once connected, the process waits for HAProxy's admin socket.
        CAPSTAN_HAPROXY_RUNTIME: `${LOOPBACK}:${await freePort()}`,
        CAPSTAN_HAPROXY_MAP: '/etc/haproxy/owners.map',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [child.stdout!, child.stderr!])
      stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
    child.once('exit', (code) => (exited = code));

    const retries = (): number =>
      messages(lines).filter((m) => m.includes('zookeeper not reachable yet')).length;
    await waitUntil(() => Promise.resolve(retries() >= 2 || exited !== undefined), {
      what: 'two connection attempts',
      timeoutMs: 30_000,
    });
    expect(exited).toBeUndefined();

    zookeeper = await startZooKeeper();
    proxy = await forward(zooKeeperPort, zookeeper.connectString);
    await waitUntil(
      () =>
        Promise.resolve(
          messages(lines).some((m) => m.includes('HAProxy admin socket not answering yet')) ||
            exited !== undefined,
        ),
      { what: 'the process past ZooKeeper, waiting for HAProxy', timeoutMs: 30_000 },
    );
    expect(exited).toBeUndefined();
    expect(lines.filter((l) => l.includes('"fatal"'))).toEqual([]);
  }, 90_000);
});
