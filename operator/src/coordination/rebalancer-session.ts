/**
 * One ZooKeeper session of one app's coordinator, with the app's {@link Rebalancer} on it (a
 * {@link Session} for the {@link Supervisor}). Opening connects a client to the app's connect string
 * (rejecting after `connectTimeoutMs`) and starts the rebalancer, which reads the assignment from
 * ZooKeeper: nothing of a previous session or a previous leader is kept in memory. The session ends
 * when ZooKeeper expires it, or when the client stays disconnected for a whole session timeout (the
 * server has expired it by then); a short disconnection is ridden out, the client resuming the same
 * session. Beside the rebalancer an {@link OwnershipObserver} reports the app's partition ownership and
 * times rebalances. Closing stops both and closes the session.
 *
 * ACLs: with the app's credentials in the spec the client authenticates as the app's operator, and before
 * the rebalancer starts the subtree is made to carry the ACLs of common/src/zookeeper-acl.ts (nodes made
 * before, open to the world, are tightened). Without credentials every node is open.
 */
import { Rebalancer, type RebalanceResult, type RebalancerOptions } from '../../../common/src/rebalancer.ts';
import type { Timers } from '../../../common/src/timers.ts';
import { ensureAppTree } from '../../../common/src/app-tree.ts';
import { operatorAccess } from '../../../common/src/zookeeper-acl.ts';
import { ZooKeeperClient, type ConnectOptions } from '../../../common/src/zookeeper-client.ts';
import type { OwnershipSummary } from '../model/status-partitions.ts';
import type { Logger } from '../runtime/index.ts';
import type { CoordinatorSpec } from './coordinator-spec.ts';
import { OwnershipObserver } from './ownership-observer.ts';
import type { OwnershipReading } from './ownership-summary.ts';
import type { Session } from './supervisor.ts';
import type { OpenTunnel, ZooKeeperTunnel } from './zookeeper-tunnel.ts';
import { PORTS } from '../model/ports.ts';
import { workerOrdinal } from '../model/names.ts';

/** Client timeouts of a coordinator; defaults in {@link DEFAULT_ZOOKEEPER_TIMEOUTS}. */
export interface ZooKeeperTimeouts {
  readonly sessionTimeoutMs: number;
  /** Short, so an app whose ZooKeeper does not answer costs little. */
  readonly connectTimeoutMs: number;
  readonly operationTimeoutMs: number;
}

/** Session 10 s, connect 3 s, operations 5 s. */
export const DEFAULT_ZOOKEEPER_TIMEOUTS: ZooKeeperTimeouts = {
  sessionTimeoutMs: 10_000,
  connectTimeoutMs: 3_000,
  operationTimeoutMs: 5_000,
};

/** Options of {@link openRebalancerSession}. */
export interface RebalancerSessionOptions {
  readonly spec: CoordinatorSpec;
  readonly signal: AbortSignal;
  readonly timers: Timers;
  readonly timeouts: ZooKeeperTimeouts;
  /** Structured fields of the app are already bound. */
  readonly logger: Logger;
  readonly onRebalanced: (result: RebalanceResult) => void;
  /** Each ownership summary read (repeats possible). Default: none. */
  readonly onOwnership?: (summary: OwnershipSummary) => void;
  /** Each reading behind a summary, partition by partition. Default: none. */
  readonly onReading?: (reading: OwnershipReading) => void;
  /** A rebalance's moved partitions all claimed, `durationMs` after it wrote the assignment. Default: none. */
  readonly onSettled?: (durationMs: number) => void;
  /** True once open and whenever the session is connected again, false while it is not. */
  readonly onConnected: (connected: boolean) => void;
  /** The open session's client and rebalancer once started, undefined once it closes. Default: none. */
  readonly onAccess?: (access: SessionAccess | undefined) => void;
  /**
   * Reaches an in-cluster ensemble through a tunnel (`--zookeeper-access=port-forward`, for an operator
   * outside the cluster); default: directly, by the members' cluster DNS names.
   */
  readonly tunnel?: ZooKeeperTunnel;
  /** Makes the (not yet started) client; default `new ZooKeeperClient(options)`. Tests wrap it to reach the session. */
  readonly createClient?: (options: ConnectOptions) => ZooKeeperClient;
}

/** What the remediation steps use of an open session (the rebalancer and its connected client). */
export interface SessionAccess {
  readonly client: ZooKeeperClient;
  readonly rebalancer: Rebalancer;
}

class AbortedError extends Error {
  readonly code = 'ERR_COORDINATOR_CLOSED';
  constructor() {
    super('coordinator closed while starting');
    this.name = 'AbortedError';
  }
}

/** `work`, or a rejection as soon as `signal` aborts (then `work`'s own outcome is dropped: `release` cleans up). */
async function abortable<T>(work: Promise<T>, signal: AbortSignal, release: () => Promise<void>): Promise<T> {
  if (signal.aborted) {
    work.catch(() => undefined);
    await release();
    throw new AbortedError();
  }
  let onAbort = (): void => undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new AbortedError());
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([work, aborted]);
  } catch (error: unknown) {
    work.catch(() => undefined);
    await release();
    throw error;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** A Rebalancer logger: its retry warnings while disconnected would repeat every second, so those go to debug. */
function rebalancerLogger(client: ZooKeeperClient, logger: Logger): NonNullable<RebalancerOptions['logger']> {
  return {
    warn: (fields, message) =>
      client.connected ? logger.warn(fields, message) : logger.debug(fields, message),
  };
}

/**
 * The started client of a session, through a tunnel when one is given for an in-cluster ensemble; rejects
 * (having closed what it opened) when the session cannot be started or `signal` aborted meanwhile.
 */
async function connectClient(
  options: RebalancerSessionOptions,
): Promise<{ client: ZooKeeperClient; tunnel: OpenTunnel | undefined }> {
  const { spec, signal, timeouts } = options;
  const access = spec.credentials === undefined ? {} : operatorAccess(spec.credentials);
  const tunnel =
    options.tunnel === undefined || spec.members === undefined
      ? undefined
      : await options.tunnel.open({
          namespace: spec.namespace,
          pods: spec.members,
          port: PORTS.zookeeperClient,
        });
  const connectString = tunnel?.connectString ?? spec.connectString;
  const settings: ConnectOptions = { connectString, ...timeouts, ...access };
  const client = (options.createClient ?? ((o: ConnectOptions) => new ZooKeeperClient(o)))(settings);
  // Not closed while its first connection is in progress, not even on abort: node-zookeeper-client, closed
  // then, can take the server's late handshake answer for the reply to its close request and throw from a
  // socket callback (an uncaught exception). start() settles within connectTimeoutMs either way.
  try {
    await client.start();
  } catch (error: unknown) {
    await tunnel?.close();
    throw error;
  }
  if (signal.aborted) {
    await client.close();
    await tunnel?.close();
    throw new AbortedError();
  }
  return { client, tunnel };
}

/** Connects, starts the rebalancer and returns the session; see the module comment. */
export async function openRebalancerSession(options: RebalancerSessionOptions): Promise<Session> {
  const { spec, signal } = options;
  const { client, tunnel } = await connectClient(options);
  const rebalancer = new Rebalancer({
    namespace: spec.namespace,
    app: spec.app,
    client,
    partitions: spec.partitions,
    departureDelayMs: spec.departureDelayMs,
    // A scale-down: the workers that will go give their partitions up before their pods stop.
    retiring: (worker) => (workerOrdinal(spec.app, worker) ?? -1) >= spec.replicas,
    timers: options.timers,
    logger: rebalancerLogger(client, options.logger),
  });
  const observer = new OwnershipObserver({
    ref: spec,
    client,
    timers: options.timers,
    logger: options.logger,
    onSummary: options.onOwnership ?? (() => undefined),
    ...(options.onReading === undefined ? {} : { onReading: options.onReading }),
    ...(options.onSettled === undefined ? {} : { onSettled: options.onSettled }),
  });
  rebalancer.on('rebalanced', (result) => {
    observer.rebalanced(result);
    options.onRebalanced(result);
  });
  const release = async (): Promise<void> => {
    options.onAccess?.(undefined);
    observer.close();
    const stopped = rebalancer.close();
    await client.close();
    await stopped;
    await tunnel?.close();
  };
  const credentials = spec.credentials;
  const ready = credentials === undefined ? Promise.resolve() : ensureAppTree(client, spec, credentials);
  await abortable(
    ready.then(() => rebalancer.start()),
    signal,
    release,
  );
  observer.start();
  options.onAccess?.({ client, rebalancer });
  // An expiry while the rebalancer started is not lost: the client then opens a fresh session and re-arms
  // the rebalancer's watch itself; a disconnection is caught by watchSession's first look at `connected`.
  return watchSession(client, release, options);
}

function watchSession(
  client: ZooKeeperClient,
  release: () => Promise<void>,
  options: RebalancerSessionOptions,
): Session {
  const { timers, timeouts, onConnected } = options;
  let end = (_reason: string): void => undefined;
  const ended = new Promise<string>((resolve) => (end = resolve));
  let lostTimer: unknown;
  const onExpired = (): void => end('session expired');
  const onDisconnected = (): void => {
    onConnected(false);
    timers.clearTimeout(lostTimer);
    lostTimer = timers.setTimeout(
      () => end(`disconnected for the whole session timeout (${timeouts.sessionTimeoutMs} ms)`),
      timeouts.sessionTimeoutMs,
    );
  };
  const onReconnected = (): void => {
    timers.clearTimeout(lostTimer);
    onConnected(true);
  };
  client.on('expired', onExpired);
  client.on('disconnected', onDisconnected);
  client.on('connected', onReconnected);
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      client.off('expired', onExpired);
      client.off('disconnected', onDisconnected);
      client.off('connected', onReconnected);
      timers.clearTimeout(lostTimer);
      onConnected(false);
      await release();
      end('closed');
    })();
    return closing;
  };
  if (client.connected) onConnected(true);
  else onDisconnected();
  return { ended, close };
}
