/**
 * Peers that go silent, for tests of clients that must not wait on them forever: a TCP proxy on loopback
 * in front of one server whose `silence()` makes every connection open now drop what either side sends (the
 * sockets stay open, as with a peer cut off by the network) while connections made later pass through, and a
 * server that accepts connections and never answers (a stopped process whose kernel still accepts for it).
 */
import net from 'node:net';

export interface SilencingProxy {
  /** `127.0.0.1:<port>` of the proxy. */
  readonly address: string;
  /** Silences the connections open now; later ones are forwarded (unless blocked). */
  silence(): void;
  /** Silences every connection, those made from now on too, until `unblock()`. */
  block(): void;
  /** Connections made from now on are forwarded again; those silenced stay silent. */
  unblock(): void;
  /** Connections accepted so far (a client's reconnection attempts show here). */
  accepted(): number;
  close(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  server: net.Socket;
  silent: boolean;
}

/** Starts a proxy to `target` (`host:port`). */
export async function startSilencingProxy(target: string): Promise<SilencingProxy> {
  const colon = target.lastIndexOf(':');
  const [host, port] = [target.slice(0, colon), Number(target.slice(colon + 1))];
  const pairs = new Set<Pair>();
  let blocked = false;
  let accepted = 0;
  const proxy = net.createServer((client) => {
    accepted++;
    const pair: Pair = { client, server: net.connect({ host, port }), silent: blocked };
    pairs.add(pair);
    const end = (): void => {
      pairs.delete(pair);
      pair.client.destroy();
      pair.server.destroy();
    };
    client.on('data', (chunk) => pair.silent || pair.server.write(chunk));
    pair.server.on('data', (chunk) => pair.silent || client.write(chunk));
    for (const socket of [client, pair.server]) socket.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port: own } = proxy.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${own}`,
    silence: () => pairs.forEach((pair) => (pair.silent = true)),
    block: () => {
      blocked = true;
      pairs.forEach((pair) => (pair.silent = true));
    },
    unblock: () => (blocked = false),
    accepted: () => accepted,
    close: async () => {
      pairs.forEach((pair) => (pair.client.destroy(), pair.server.destroy()));
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}

export interface SilentServer {
  /** `127.0.0.1:<port>` of the server. */
  readonly address: string;
  /** Every connection accepted, in order: the bytes it received and whether it has closed. */
  readonly connections: readonly { readonly bytes: number; readonly ended: boolean }[];
  close(): Promise<void>;
}

/**
 * Starts a server that accepts every connection, reads and counts what comes and never writes or closes
 * (like a paused ZooKeeper).
 */
export async function startSilentServer(): Promise<SilentServer> {
  const connections: { bytes: number; ended: boolean }[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    const record = { bytes: 0, ended: false };
    connections.push(record);
    sockets.add(socket);
    socket.on('data', (chunk) => (record.bytes += chunk.length));
    socket.on('close', () => ((record.ended = true), sockets.delete(socket)));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    connections,
    close: async () => {
      sockets.forEach((socket) => socket.destroy());
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
