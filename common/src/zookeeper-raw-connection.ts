/**
 * The two things the ZooKeeper wrapper does to node-zookeeper-client's connection that its public API does not
 * offer: drop the current socket so that the library reconnects, and stop a client that has no session on its
 * socket without sending close-session. Both reach into the `ConnectionManager` behind a `Client`
 * (lib/ConnectionManager.js of the 1.1 releases); nothing else in Capstan does, and the unit test of this
 * module checks that the internals are still where it expects them.
 */
import type { Socket } from 'node:net';
import type { Client } from 'node-zookeeper-client';

/** The parts of lib/ConnectionManager.js used here. */
interface ConnectionManager {
  state: number;
  socket?: Socket;
  connectTimeoutHandler: NodeJS.Timeout | null;
  setState(state: number): void;
  /** The socket's 'connect' listener; bound when an attempt opens its socket, so an own property takes over. */
  onSocketConnected(): void;
}

/** ConnectionManager.STATES.CLOSING: a socket that closes in this state ends in CLOSED, not in a reconnect. */
const CLOSING = -1;

function managerOf(raw: Client): ConnectionManager | undefined {
  return (raw as unknown as { connectionManager?: ConnectionManager }).connectionManager;
}

/**
 * Destroys the current socket; the library then reconnects (to the next server of an ensemble) and resumes the
 * session. Nothing happens when there is no socket. The socket's connect timer goes with it: the library
 * clears it only on a socket error, and left running it would destroy the next attempt's socket.
 */
export function dropConnection(raw: Client): void {
  const manager = managerOf(raw);
  if (manager) destroySocket(manager);
}

/**
 * Stops a client that holds no session on its socket (its first attempt is pending, or it is between attempts
 * after losing one), in place of `raw.close()`. Destroys the socket, and any socket that an attempt already
 * scheduled opens later as soon as it connects; the library settles in CLOSED, fails queued requests with
 * CONNECTION_LOSS and does not reconnect. No close-session is sent: should the server still read the connect
 * request, the session it creates expires after its timeout, and so do a resumed session's ephemerals.
 * Falls back to `raw.close()` if the library's internals are not there.
 */
export function abandonConnection(raw: Client): void {
  const manager = managerOf(raw);
  if (!manager) {
    raw.close();
    return;
  }
  // Why not raw.close(): it sends close-session at once and reads the next frame as its reply. On a socket that
  // still waits for its connect response, that frame is the connect response; for a fresh client (whose first
  // request has xid 0, like the response's leading protocol version) the library takes bytes of the session id
  // for an error code and throws 'Unknown code' from the socket's data callback: an uncaught exception.
  manager.setState(CLOSING);
  // An attempt already scheduled (next tick, or the spin delay after a failed one) opens its socket later and
  // binds this listener then: that socket is closed as soon as it connects, before the connect request.
  manager.onSocketConnected = () => destroySocket(manager);
  destroySocket(manager);
}

function destroySocket(manager: ConnectionManager): void {
  // The attempt's connect timer is not unref'd: left running, it would hold the process for a session timeout.
  if (manager.connectTimeoutHandler) clearTimeout(manager.connectTimeoutHandler);
  manager.socket?.destroy();
}
