/**
 * Reaching an in-cluster ensemble from outside the cluster (`make run` on a workstation, the operator's
 * `--zookeeper-access=port-forward`): there the members' cluster DNS names do not resolve and pod
 * addresses are not routed, so each member's client port is forwarded through the API server (the
 * `pods/portforward` subresource, as `kubectl port-forward` does) to a listener on 127.0.0.1, and the
 * coordinator connects to those listeners instead. Each accepted connection gets its own forward; a
 * member that cannot be forwarded (pod missing, not running) just closes that connection, and the
 * ZooKeeper client tries the next member. Closing the tunnel closes every listener and connection.
 *
 * A forward is a TLS connection to the API server, and the ZooKeeper client cycles through the members
 * every half second or so while it has no session: for an ensemble that cannot be reached (not started,
 * or pods without a kubelet) that was a dozen TLS handshakes per member and attempt, times every app.
 * So a member whose forward failed is not forwarded again for {@link FORWARD_HOLD_OFF_MS}, also not by
 * the next tunnel opened to it (the app's next session attempt), and every forward shares one TLS
 * agent (one SecureContext, resumable sessions) instead of building its own. A connection to a member
 * held off is kept open and silent until the hold-off ends, as an unreachable host would: closed at
 * once, the client went straight on to the next member, and with every member held off it spun
 * through them all (some ninety local connections per 3 s attempt and app) for nothing.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { PortForward, type KubeConfig } from '@kubernetes/client-node';
import { systemTimers, type Timers } from '../../../common/src/timers.ts';
import type { Logger } from '../runtime/index.ts';
import { SharedTlsAgent } from './shared-tls-agent.ts';

/**
 * How long a member whose forward failed is not tried again: the coordinator's connect timeout (3 s), so
 * one session attempt costs at most one forward per member that cannot be reached.
 */
export const FORWARD_HOLD_OFF_MS = 3_000;

/** Options of {@link zooKeeperTunnel}. */
export interface TunnelOptions {
  /** Default {@link FORWARD_HOLD_OFF_MS}. */
  readonly holdOffMs?: number;
  /** Default the system timers. */
  readonly timers?: Timers;
}

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
  /**
   * When each member's last forward failed (by namespace/pod), while it is held off: shared by every
   * tunnel opened, so the next session attempt of the same app does not forward again at once.
   */
  readonly failedAt: Map<string, number>;
  readonly holdOffMs: number;
  readonly timers: Timers;
}

/** How much longer the member is held off (0: it may be forwarded now). */
function heldOffFor(context: ListenerContext, pod: string): number {
  const failed = context.failedAt.get(memberKey(context.target, pod));
  if (failed === undefined) return 0;
  return Math.max(0, failed + context.holdOffMs - context.timers.now());
}

function memberKey(target: TunnelTarget, pod: string): string {
  return `${target.namespace}/${pod}`;
}

/** Forgets the members whose hold-off has passed (and those of apps long gone with them). */
function sweep(failedAt: Map<string, number>, holdOffMs: number, now: number): void {
  for (const [key, failed] of failedAt) if (now - failed >= holdOffMs) failedAt.delete(key);
}

/**
 * Ends a connection that will not be forwarded, reading (and dropping) what the client sent: a socket
 * destroyed with unread data is reset, not closed, so the client would see ECONNRESET or a clean end
 * depending on whether its first request had arrived yet.
 */
function endUnforwarded(socket: Socket): void {
  socket.resume();
  socket.end();
}

/** Keeps `socket` open and silent for `ms`, then closes it (or earlier, when the tunnel closes). */
function park(context: ListenerContext, socket: Socket, ms: number): void {
  const timer = context.timers.setTimeout(() => endUnforwarded(socket), ms);
  socket.once('close', () => context.timers.clearTimeout(timer));
  // A client that gives up on the connection resets it; nothing is read or written here.
  socket.on('error', () => socket.destroy());
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
    const held = heldOffFor(context, pod);
    if (held > 0) return park(context, socket, held);
    context.forward(target.namespace, pod, target.port, socket).catch((error: unknown) => {
      logger.debug({ err: error, pod }, 'port-forward to a ZooKeeper member failed');
      context.failedAt.set(memberKey(target, pod), context.timers.now());
      endUnforwarded(socket);
    });
  });
  return { server, port: await listen(server) };
}

/** {@link ZooKeeperTunnel} over `forward` (default: the API server's port-forward). */
export function zooKeeperTunnel(
  forward: Forward,
  logger: Logger,
  options: TunnelOptions = {},
): ZooKeeperTunnel {
  const failedAt = new Map<string, number>();
  const holdOffMs = options.holdOffMs ?? FORWARD_HOLD_OFF_MS;
  const timers = options.timers ?? systemTimers;
  return {
    async open(target) {
      sweep(failedAt, holdOffMs, timers.now());
      const context: ListenerContext = {
        target,
        forward,
        sockets: new Set<Socket>(),
        logger,
        failedAt,
        holdOffMs,
        timers,
      };
      const { sockets } = context;
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
  const portForward = new PortForward(new SharedTlsAgent().kubeConfig(kubeConfig), true);
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
