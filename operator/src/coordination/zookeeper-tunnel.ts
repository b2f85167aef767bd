/**
 * Reaching an in-cluster ensemble from outside the cluster (`make run` on a workstation, the operator's
 * `--zookeeper-access=port-forward`): there the members' cluster DNS names do not resolve and pod
 * addresses are not routed, so each member's client port is forwarded through the API server (the
 * `pods/portforward` subresource, as `kubectl port-forward` does) to a listener on 127.0.0.1, and the
 * coordinator connects to those listeners instead. Each accepted connection gets its own forward; a
 * member that cannot be forwarded (pod missing, not running) just refuses that connection, and the
 * ZooKeeper client tries the next member. Closing the tunnel closes every listener and connection.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { PortForward, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../runtime/index.ts';

/** The members of one in-cluster ensemble: the namespace, each member's pod name and the client port. */
export interface TunnelTarget {
  readonly namespace: string;
  readonly pods: readonly string[];
  readonly port: number;
}

/** A tunnel open for one session. */
export interface OpenTunnel {
  /** `127.0.0.1:p1,127.0.0.1:p2,...`, one listener per member, in member order. */
  readonly connectString: string;
  close(): Promise<void>;
}

/** Opens tunnels to ensembles. */
export interface ZooKeeperTunnel {
  open(target: TunnelTarget): Promise<OpenTunnel>;
}

type Forward = (namespace: string, pod: string, port: number, socket: Socket) => Promise<void>;

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : 0);
    });
  });
}

/** What every member listener of one tunnel shares. */
interface ListenerContext {
  readonly target: TunnelTarget;
  readonly forward: Forward;
  /** Open connections, destroyed when the tunnel closes. */
  readonly sockets: Set<Socket>;
  readonly logger: Logger;
}

/** One member's listener: every connection it accepts is forwarded to the pod's port. */
async function memberListener(
  context: ListenerContext,
  pod: string,
): Promise<{ server: Server; port: number }> {
  const { target, sockets, logger } = context;
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    context.forward(target.namespace, pod, target.port, socket).catch((error: unknown) => {
      logger.debug({ err: error, pod }, 'port-forward to a ZooKeeper member failed');
      socket.destroy();
    });
  });
  return { server, port: await listen(server) };
}

/** {@link ZooKeeperTunnel} over `forward` (default: the API server's port-forward). */
export function zooKeeperTunnel(forward: Forward, logger: Logger): ZooKeeperTunnel {
  return {
    async open(target) {
      const sockets = new Set<Socket>();
      const context: ListenerContext = { target, forward, sockets, logger };
      const listeners = await Promise.all(target.pods.map((pod) => memberListener(context, pod)));
      return {
        connectString: listeners.map((l) => `127.0.0.1:${l.port}`).join(','),
        close: async () => {
          for (const socket of sockets) socket.destroy();
          await Promise.all(listeners.map((l) => new Promise((resolve) => l.server.close(resolve))));
        },
      };
    },
  };
}

/** The API server's port-forward of `kubeConfig`'s cluster, one WebSocket per connection. */
export function portForwardTunnel(kubeConfig: KubeConfig, logger: Logger): ZooKeeperTunnel {
  const portForward = new PortForward(kubeConfig, true);
  return zooKeeperTunnel(async (namespace, pod, port, socket) => {
    // The WebSocket type comes from isomorphic-ws, whose declarations are not installed: only these are used.
    type Forwarded = { close(): void; once(event: 'close', listener: () => void): void };
    const ws = (await portForward.portForward(namespace, pod, [port], socket, null, socket)) as unknown as
      Forwarded | (() => Forwarded | null);
    const opened = typeof ws === 'function' ? ws() : ws;
    socket.once('close', () => opened?.close());
    // The library writes what the pod sends into the socket but never ends it: the member closing its
    // side (or the API server ending the stream) must reach the client as the end of the connection.
    opened?.once('close', () => socket.end());
  }, logger);
}
