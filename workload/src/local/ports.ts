import { createServer, type Server } from 'node:net';

/** The loopback address every harness service listens on. */
export const LOOPBACK = '127.0.0.1';

/**
 * Ports this process handed out already. The kernel may choose a port again once it was closed, and
 * a caller often binds its port seconds later (a fleet chooses its workers' ports before it starts
 * HAProxy): two services of one process given one port, the second to bind fails while the first
 * answers for both.
 */
const handedOut = new Set<number>();

/**
 * A TCP port that was free on 127.0.0.1 a moment ago and that this process never handed out before:
 * binds port 0, reads the port the kernel chose, closes. Another process may take it before the caller
 * binds it; the window is small in practice.
 */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!;
}

/** `count` distinct free ports, none handed out before, held open together while chosen so none repeats. */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  const chosen: number[] = [];
  try {
    while (chosen.length < count) {
      const server = await listenOnAnyPort();
      servers.push(server);
      const port = portOf(server);
      if (!handedOut.has(port)) chosen.push(port);
    }
    for (const port of chosen) handedOut.add(port);
    return chosen;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

function listenOnAnyPort(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: LOOPBACK, port: 0, exclusive: true }, () => resolve(server));
  });
}

function portOf(server: Server): number {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}
