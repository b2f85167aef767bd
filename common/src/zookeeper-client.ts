import { EventEmitter } from 'node:events';
import zookeeper from 'node-zookeeper-client';
import type { ACL, Client, Stat } from 'node-zookeeper-client';
import { ALL, digestId, type ZooKeeperAcl, type ZooKeeperPermission } from './zookeeper-acl.ts';
import { ZooKeeperError, ZooKeeperErrorCode, isZooKeeperError } from './zookeeper-error.ts';
import { abandonConnection, dropConnection } from './zookeeper-raw-connection.ts';
import { MODES, ZooKeeperTransaction } from './zookeeper-transaction.ts';
import type { CreateMode, TransactionOp } from './zookeeper-transaction.ts';

export { ZooKeeperError, ZooKeeperErrorCode, isZooKeeperError } from './zookeeper-error.ts';
export { ZooKeeperTransaction } from './zookeeper-transaction.ts';
export type { CreateMode } from './zookeeper-transaction.ts';

/** Options of {@link connect}. Only `connectString` is required. */
export interface ConnectOptions {
  /** `host:port[,host:port...][/chroot]`. */
  connectString: string;
  /** Session timeout asked of the server; default 10 000 ms (the server may clamp it). */
  sessionTimeoutMs?: number;
  /** How long `connect()` waits for the first session; default 10 000 ms, then TIMEOUT. */
  connectTimeoutMs?: number;
  /** Deadline of every single operation; default the session timeout, then TIMEOUT. */
  operationTimeoutMs?: number;
  /** Digest credentials the client authenticates with (again on every new session). */
  auth?: { user: string; password: string };
  /**
   * ACL of the nodes this client creates (unless a call gives its own); default every permission for the
   * `auth` user, or for the world without `auth`.
   */
  acl?: readonly ZooKeeperAcl[];
  /** Interval of the local liveness probe; default sessionTimeout / 6. */
  probeIntervalMs?: number;
  /**
   * The client reports `disconnected` once no probe sent in the last `disconnectAfterMs` was answered;
   * default half the granted session timeout, so a partitioned client learns it is cut off well before the server
   * can expire its session (the server counts from the last request it received, which is never
   * earlier than the send time of the last answered probe).
   */
  disconnectAfterMs?: number;
  /** Resume an existing session instead of starting a new one (tests use it to force expiry). */
  session?: SessionCredentials;
  /** Clock in ms; default Date.now. */
  now?: () => number;
}

/** What identifies a session to the server. */
export interface SessionCredentials {
  id: Buffer;
  password: Buffer;
}

/** The parts of a node's stat that callers use. */
export interface NodeStat {
  version: number;
  cversion: number;
  numChildren: number;
  dataLength: number;
  /** Hex session id of the owning session for an ephemeral node; undefined for a persistent one. */
  ephemeralOwner: string | undefined;
}

export interface NodeData {
  data: Buffer;
  stat: NodeStat;
}

/** Argument of the `connected` event. */
export interface ConnectedEvent {
  sessionId: string;
  /** True on the first session and on every fresh session after an expiry. */
  newSession: boolean;
}

/** Why the client stopped being connected: the server closed, the local probe heard nothing, the session expired, or close(). */
export type DisconnectReason = 'server' | 'no-response' | 'expired' | 'closed';

/** Events: `connected`, `disconnected` (reason), `expired`, `watch-error` (an exception thrown by a watch callback). */
export interface ZooKeeperClientEvents {
  connected: [ConnectedEvent];
  disconnected: [reason: DisconnectReason];
  expired: [];
  'watch-error': [error: unknown, path: string];
}

/** Stops a watch; the callback is not called again. */
export type Unwatch = () => void;

const NO_OWNER = '0000000000000000';

type Callback<T> = (error: unknown, value: T) => void;

/** A call waiting for its answer: the raw client it went to, and how to fail it. */
interface PendingCall {
  raw: Client;
  operation: string;
  path: string | undefined;
  fail: (error: ZooKeeperError) => void;
}

interface WatchEntry {
  kind: 'children' | 'data';
  path: string;
  onChange: (value: unknown) => void;
  active: boolean;
  /** Incremented on every arm, so that a watcher registered by an earlier arm is ignored. */
  token: number;
  /** True when the last arm failed for connection reasons; re-armed on the next `connected`. */
  pending: boolean;
}

const PERMISSION_BITS: Record<ZooKeeperPermission, number> = {
  read: zookeeper.Permission.READ,
  write: zookeeper.Permission.WRITE,
  create: zookeeper.Permission.CREATE,
  delete: zookeeper.Permission.DELETE,
  admin: zookeeper.Permission.ADMIN,
};

function toLibraryAcl(acl: readonly ZooKeeperAcl[]): ACL[] {
  return acl.map((entry) => {
    const bits = entry.perms.reduce((sum, p) => sum | PERMISSION_BITS[p], 0);
    return new zookeeper.ACL(bits, new zookeeper.Id(entry.scheme, entry.id));
  });
}

function fromLibraryAcl(acl: readonly ACL[]): ZooKeeperAcl[] {
  return acl.map((entry) => {
    // The library's ACL objects carry `permission`; its type declarations call it `perms`.
    const bits = (entry as unknown as { permission: number }).permission;
    return {
      scheme: entry.id.scheme === 'world' ? 'world' : 'digest',
      id: entry.id.id,
      perms: ALL.filter((p) => (bits & PERMISSION_BITS[p]) !== 0),
    };
  });
}

function defaultAcl(options: ConnectOptions): readonly ZooKeeperAcl[] {
  if (options.acl !== undefined) return options.acl;
  const { auth } = options;
  return auth
    ? [{ scheme: 'digest', id: digestId(auth.user, auth.password), perms: ALL }]
    : [{ scheme: 'world', id: 'anyone', perms: ALL }];
}

/** A node's ACL and its ACL version (`aversion`), for a conditional `setAcl`. */
export interface NodeAcl {
  acl: ZooKeeperAcl[];
  version: number;
}

function toStat(stat: Stat): NodeStat {
  const owner = stat.ephemeralOwner.toString('hex');
  return {
    version: stat.version,
    cversion: stat.cversion,
    numChildren: stat.numChildren,
    dataLength: stat.dataLength,
    ephemeralOwner: owner === NO_OWNER ? undefined : owner,
  };
}

/** Connects and resolves once a session is established; rejects with TIMEOUT or SESSION_EXPIRED. */
export async function connect(options: ConnectOptions): Promise<ZooKeeperClient> {
  const client = new ZooKeeperClient(options);
  await client.start();
  return client;
}

/**
 * A typed promise wrapper over node-zookeeper-client that outlives sessions: on expiry it closes the
 * dead client, opens a fresh one with the same options, re-arms every watch and emits `connected` with
 * `newSession: true` (an {@link EphemeralRegistry} re-creates ephemerals then). Operations fail with a
 * {@link ZooKeeperError}; none is retried here, because only the caller knows whether a retry is safe.
 */
export class ZooKeeperClient extends EventEmitter<ZooKeeperClientEvents> {
  readonly #options: ConnectOptions;
  readonly #sessionTimeoutMs: number;
  readonly #operationTimeoutMs: number;
  /** Servers in the connect string. */
  readonly #servers: number;
  readonly #acls: ACL[];
  readonly #now: () => number;
  readonly #watches = new Set<WatchEntry>();
  /** Calls waiting for an answer, each with the raw client it was sent on and how to fail it. */
  readonly #calls = new Set<PendingCall>();
  #raw: Client;
  #connected = false;
  #closed = false;
  #lastConfirmed = 0;
  /** When the client last stopped being connected, or gave up an unanswered connection attempt. */
  #disconnectedSince = 0;
  #probeInFlight = false;
  #probeTimer: NodeJS.Timeout | undefined;
  /** True until the first `connected` of the current raw client (the first session, or a fresh one after expiry). */
  #newSession = true;

  /** Prefer {@link connect}; a constructed client does nothing until `start()`. */
  constructor(options: ConnectOptions) {
    super();
    this.#options = { ...options };
    this.#sessionTimeoutMs = options.sessionTimeoutMs ?? 10_000;
    this.#operationTimeoutMs = options.operationTimeoutMs ?? this.#sessionTimeoutMs;
    this.#servers = options.connectString.split('/')[0]!.split(',').length;
    this.#now = options.now ?? Date.now;
    this.#acls = toLibraryAcl(defaultAcl(options));
    this.#raw = this.#createRaw(options.session);
  }

  /** Opens the first session. Rejects with TIMEOUT after `connectTimeoutMs`, SESSION_EXPIRED for a dead resumed session. */
  async start(): Promise<void> {
    const timeoutMs = this.#options.connectTimeoutMs ?? 10_000;
    const connected = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new ZooKeeperError(ZooKeeperErrorCode.TIMEOUT, `connect: no session within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      const onConnected = (): void => (cleanup(), resolve());
      const onExpired = (): void => {
        cleanup();
        reject(new ZooKeeperError(ZooKeeperErrorCode.SESSION_EXPIRED, 'connect: session expired'));
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        this.#raw.removeListener('connected', onConnected);
        this.#raw.removeListener('expired', onExpired);
      };
      this.#raw.once('connected', onConnected);
      this.#raw.once('expired', onExpired);
    });
    this.#disconnectedSince = this.#now();
    this.#startProbe();
    this.#raw.connect();
    try {
      await connected;
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  /** Hex id of the current session. */
  get sessionId(): string {
    return this.#raw.getSessionId().toString('hex');
  }

  /** Id and password of the current session. */
  get session(): SessionCredentials {
    return { id: this.#raw.getSessionId(), password: this.#raw.getSessionPassword() };
  }

  /** The session timeout the server granted (ms). */
  get sessionTimeoutMs(): number {
    return this.#raw.getSessionTimeout();
  }

  /**
   * True while a session is established and the server answered within the disconnect limit. The limit
   * is checked here too, not only by the probe's timer: a process that was frozen (SIGSTOP, a stalled VM)
   * handles the I/O that waited for it before its timers run, and must not serve on a session that may
   * have expired meanwhile.
   */
  get connected(): boolean {
    return this.#connected && this.#now() - this.#lastConfirmed <= this.#disconnectLimit();
  }

  /**
   * When the server was last known to answer (ms on the `now` clock): the send time of the last answered
   * probe, or the last (re)connection. After a `no-response` disconnect the client was cut off since then.
   */
  get lastConfirmedAt(): number {
    return this.#lastConfirmed;
  }

  /**
   * Creates a node with `acl` (default the client's, see `ConnectOptions.acl`); parents must exist. Resolves
   * the created path (differs for sequential modes).
   */
  async create(
    path: string,
    data?: Buffer | string,
    mode: CreateMode = 'persistent',
    acl?: readonly ZooKeeperAcl[],
  ): Promise<string> {
    const payload = data === undefined ? undefined : Buffer.from(data);
    const acls = acl === undefined ? this.#acls : toLibraryAcl(acl);
    return this.#call<string>('create', path, (raw, cb) =>
      raw.create(path, payload ?? Buffer.alloc(0), acls, MODES[mode], cb),
    );
  }

  /** The node's ACL. NO_NODE when absent; NO_AUTH without read or admin on it. */
  async getAcl(path: string): Promise<NodeAcl> {
    const [acl, stat] = await this.#call<[ACL[], Stat]>('getAcl', path, (raw, cb) =>
      raw.getACL(path, (error, acls, s) => cb(error, [acls, s])),
    );
    return { acl: fromLibraryAcl(acl), version: stat.aversion };
  }

  /** Replaces the node's ACL if its ACL version is `version` (-1: any). NO_AUTH without admin on it. */
  async setAcl(path: string, acl: readonly ZooKeeperAcl[], version = -1): Promise<void> {
    await this.#call<Stat>('setAcl', path, (raw, cb) => raw.setACL(path, toLibraryAcl(acl), version, cb));
  }

  /** Reads data and stat. NO_NODE when absent. */
  async get(path: string): Promise<NodeData> {
    const [data, stat] = await this.#call<[Buffer | undefined, Stat]>('get', path, (raw, cb) =>
      raw.getData(path, (error, buffer, s) => cb(error, [buffer, s])),
    );
    return { data: data ?? Buffer.alloc(0), stat: toStat(stat) };
  }

  /** Writes data if the node's version is `version` (-1: any). BAD_VERSION on a stale version. */
  async set(path: string, data: Buffer | string, version = -1): Promise<NodeStat> {
    const stat = await this.#call<Stat>('set', path, (raw, cb) =>
      raw.setData(path, Buffer.from(data), version, cb),
    );
    return toStat(stat);
  }

  /** Deletes a node if its version is `version` (-1: any). NO_NODE, BAD_VERSION, NOT_EMPTY. */
  async remove(path: string, version = -1): Promise<void> {
    await this.#call<void>('remove', path, (raw, cb) => raw.remove(path, version, (error) => cb(error)));
  }

  /** The node's stat, or undefined when it does not exist. */
  async exists(path: string): Promise<NodeStat | undefined> {
    const stat = await this.#call<Stat | null>('exists', path, (raw, cb) => raw.exists(path, cb));
    return stat ? toStat(stat) : undefined;
  }

  /** Child names (not paths), sorted. NO_NODE when absent. */
  async children(path: string): Promise<string[]> {
    const names = await this.#call<string[]>('children', path, (raw, cb) =>
      raw.getChildren(path, (error, list) => cb(error, list)),
    );
    return [...names].sort();
  }

  /**
   * Creates `path` and any missing parents as persistent nodes; existing ones are left as they are. An
   * existing `path` is found without creating anything, so this needs no create permission on its parents.
   */
  async mkdirp(path: string): Promise<void> {
    if ((await this.exists(path)) !== undefined) return;
    await this.#call<string>('mkdirp', path, (raw, cb) => raw.mkdirp(path, this.#acls, cb));
  }

  /** Starts a multi-operation transaction; nothing is sent before `commit()`. */
  transaction(): ZooKeeperTransaction {
    return new ZooKeeperTransaction(this.#acls, (ops) => this.#commit(ops));
  }

  /**
   * Calls `onChange(children)` now and after every change of `path`'s children, re-arming the one-shot
   * ZooKeeper watch each time (and on a fresh session). `undefined` means the node does not exist;
   * its creation is watched too. Calls may repeat an unchanged list: callbacks must be idempotent.
   */
  watchChildren(path: string, onChange: (children: string[] | undefined) => void): Unwatch {
    return this.#watch('children', path, onChange as (value: unknown) => void);
  }

  /** Like {@link watchChildren} for the node's data: `undefined` when the node does not exist. */
  watchData(path: string, onChange: (node: NodeData | undefined) => void): Unwatch {
    return this.#watch('data', path, onChange as (value: unknown) => void);
  }

  /**
   * Closes the session (the server deletes its ephemerals) and stops every timer and watch. Idempotent. A client
   * without a session on its connection (still connecting, or reconnecting) drops the connection instead: the
   * server deletes a resumed session's ephemerals when the session expires.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#probeTimer);
    this.#watches.clear();
    const wasConnected = this.#connected;
    const raw = this.#raw;
    this.#onDisconnected(raw, 'closed');
    // Only a connection that holds a session may be sent close-session: see abandonConnection.
    if (!hasSession(raw)) abandonConnection(raw);
    else if (wasConnected) await closeRaw(raw);
    else raw.close();
    raw.removeAllListeners();
  }

  #createRaw(session?: SessionCredentials): Client {
    // retries: 0 - a retried create/set after CONNECTION_LOSS may have been applied already.
    const raw = zookeeper.createClient(this.#options.connectString, {
      sessionTimeout: this.#sessionTimeoutMs,
      spinDelay: 200,
      retries: 0,
      ...(session ? { sessionId: session.id, sessionPassword: session.password } : {}),
    });
    if (this.#options.auth) {
      const { user, password } = this.#options.auth;
      raw.addAuthInfo('digest', Buffer.from(`${user}:${password}`));
    }
    raw.on('connected', () => this.#onRawConnected(raw));
    raw.on('disconnected', () => this.#onDisconnected(raw, 'server'));
    raw.on('expired', () => this.#onRawExpired(raw));
    return raw;
  }

  #onRawConnected(raw: Client): void {
    if (raw !== this.#raw || this.#closed) return;
    this.#connected = true;
    this.#lastConfirmed = this.#now();
    const newSession = this.#newSession;
    this.#newSession = false;
    for (const entry of this.#watches) if (newSession || entry.pending) void this.#arm(entry);
    this.emit('connected', { sessionId: this.sessionId, newSession });
  }

  #onDisconnected(raw: Client, reason: DisconnectReason): void {
    if (raw !== this.#raw || !this.#connected) return;
    this.#connected = false;
    this.#disconnectedSince = this.#now();
    this.emit('disconnected', reason);
  }

  #onRawExpired(raw: Client): void {
    if (raw !== this.#raw || this.#closed) return;
    this.#onDisconnected(raw, 'expired');
    raw.removeAllListeners();
    raw.close();
    this.#newSession = true;
    this.#raw = this.#createRaw();
    this.#disconnectedSince = this.#now();
    this.#failCallsOn(raw);
    this.emit('expired');
    this.#raw.connect();
  }

  /**
   * Fails at once every call still waiting on `raw`, a client whose session expired. The library fails the
   * requests it had sent, but not those it queued while reconnecting: they would wait out the operation
   * timeout, and whoever waits on them (a claim, a watch being re-armed) with them.
   */
  #failCallsOn(raw: Client): void {
    for (const call of this.#calls) {
      if (call.raw !== raw) continue;
      const message = `${call.operation} ${call.path ?? ''}: the session expired before the answer`;
      call.fail(new ZooKeeperError(ZooKeeperErrorCode.SESSION_EXPIRED, message, { path: call.path }));
    }
  }

  /** How long the server may stay silent before the client counts itself disconnected (ms). */
  #disconnectLimit(): number {
    // The server may have granted a different session timeout than asked for: measure against that one.
    return this.#options.disconnectAfterMs ?? Math.floor(this.#raw.getSessionTimeout() / 2);
  }

  #startProbe(): void {
    const interval = this.#options.probeIntervalMs ?? Math.max(50, Math.floor(this.#sessionTimeoutMs / 6));
    this.#probeTimer = setInterval(() => this.#probe(), interval);
    this.#probeTimer.unref();
  }

  #probe(): void {
    if (!this.#connected) {
      this.#abandonSilentAttempt();
      return;
    }
    if (this.#now() - this.#lastConfirmed > this.#disconnectLimit()) {
      const raw = this.#raw;
      this.#onDisconnected(raw, 'no-response');
      // The library has no read timeout: without this it would wait on a silent server forever.
      // Dropping the connection makes it reconnect (to the next server of an ensemble) and resume the session.
      dropConnection(raw);
      return;
    }
    if (this.#probeInFlight) return;
    this.#probeInFlight = true;
    const sentAt = this.#now();
    const raw = this.#raw;
    raw.exists('/', (error) => {
      this.#probeInFlight = false;
      if (!error && raw === this.#raw) this.#lastConfirmed = Math.max(this.#lastConfirmed, sentAt);
    });
  }

  /**
   * While not connected: gives up a connection attempt that has waited longer than the session timeout
   * divided by the number of servers (the Java client's connect timeout). The library bounds only the TCP
   * connect; a server that accepts the connection and never answers the connect request (a stopped or frozen
   * process: the kernel still accepts for it) would hold the client for as long as it stays silent, even with
   * the other members of the ensemble up. Dropping the socket makes the library try the next server.
   */
  #abandonSilentAttempt(): void {
    if (this.#now() - this.#disconnectedSince <= this.#raw.getSessionTimeout() / this.#servers) return;
    this.#disconnectedSince = this.#now();
    dropConnection(this.#raw);
  }

  #watch(kind: WatchEntry['kind'], path: string, onChange: (value: unknown) => void): Unwatch {
    const entry: WatchEntry = { kind, path, onChange, active: true, token: 0, pending: false };
    this.#watches.add(entry);
    void this.#arm(entry);
    return () => {
      entry.active = false;
      this.#watches.delete(entry);
    };
  }

  async #arm(entry: WatchEntry): Promise<void> {
    const token = ++entry.token;
    const fire = (): void => {
      if (entry.active && entry.token === token) void this.#arm(entry);
    };
    let value: unknown;
    try {
      value = await this.#read(entry, fire);
    } catch (error) {
      // Connection trouble: the next `connected` re-arms it (and reports the state then).
      if (entry.token === token) entry.pending = true;
      if (!isZooKeeperError(error)) this.emit('watch-error', error, entry.path);
      return;
    }
    if (!entry.active || entry.token !== token) return;
    entry.pending = false;
    try {
      entry.onChange(value);
    } catch (error) {
      this.emit('watch-error', error, entry.path);
    }
  }

  async #read(entry: WatchEntry, fire: () => void): Promise<unknown> {
    const { path } = entry;
    try {
      if (entry.kind === 'children') {
        const list = await this.#call<string[]>('children', path, (raw, cb) =>
          raw.getChildren(path, fire, cb),
        );
        return [...list].sort();
      }
      const [data, stat] = await this.#call<[Buffer | undefined, Stat]>('get', path, (raw, cb) =>
        raw.getData(path, fire, (error, buffer, s) => cb(error, [buffer, s])),
      );
      return { data: data ?? Buffer.alloc(0), stat: toStat(stat) } satisfies NodeData;
    } catch (error) {
      if (!isZooKeeperError(error, ZooKeeperErrorCode.NO_NODE)) throw error;
    }
    // Absent: watch for its creation. If it appeared in between, the existence call registered a data
    // watch instead, so read again at once rather than wait for a change that may never come.
    const stat = await this.#call<Stat | null>('exists', path, (raw, cb) => raw.exists(path, fire, cb));
    if (stat) queueMicrotask(fire);
    return undefined;
  }

  async #commit(ops: TransactionOp[]): Promise<void> {
    await this.#call<unknown>('transaction', undefined, (raw, cb) => {
      const tx = raw.transaction();
      for (const op of ops) op(tx);
      // node-zookeeper-client turns an explicit version 0 into -1 ("any") inside transactions; restore it.
      const internal = (tx as unknown as { ops?: { version?: number }[] }).ops ?? [];
      internal.forEach((op, i) => {
        const wanted = ops[i]?.version;
        if (wanted !== undefined && op.version !== undefined) op.version = wanted;
      });
      tx.commit(cb);
    });
  }

  #call<T>(
    operation: string,
    path: string | undefined,
    run: (raw: Client, cb: Callback<T>) => void,
  ): Promise<T> {
    if (this.#closed) {
      return Promise.reject(
        new ZooKeeperError(ZooKeeperErrorCode.CLOSED, `${operation}: client closed`, { path }),
      );
    }
    return new Promise<T>((resolve, reject) => {
      const raw = this.#raw;
      const call: PendingCall = {
        raw,
        operation,
        path,
        fail: (error: ZooKeeperError) => {
          clearTimeout(timer);
          this.#calls.delete(call);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        const message = `${operation} ${path ?? ''}: no answer within ${this.#operationTimeoutMs} ms`;
        call.fail(new ZooKeeperError(ZooKeeperErrorCode.TIMEOUT, message, { path }));
      }, this.#operationTimeoutMs);
      timer.unref();
      this.#calls.add(call);
      run(raw, (error, value) => {
        if (!this.#calls.has(call)) return;
        if (error) return call.fail(ZooKeeperError.from(error, operation, path));
        clearTimeout(timer);
        this.#calls.delete(call);
        resolve(value);
      });
    });
  }
}

/** Whether the library has a session on its current connection (it maps only that to these states). */
function hasSession(raw: Client): boolean {
  const state = raw.getState();
  return state === zookeeper.State.SYNC_CONNECTED || state === zookeeper.State.CONNECTED_READ_ONLY;
}

/** Sends close-session and waits (bounded) until the server has acknowledged it by closing the socket. */
function closeRaw(raw: Client): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 2_000);
    timer.unref();
    raw.once('disconnected', () => {
      clearTimeout(timer);
      resolve();
    });
    raw.close();
  });
}
