/**
 * Keeps HAProxy's partition -> owner map in step with ZooKeeper, so that HAProxy sends a request straight
 * to the worker that serves its partition (zero hops). The map holds, for each partition whose
 * `owners/<p>` node is held, the name of the HAProxy server whose address is the holder's (from its
 * `members/<worker>` node). A partition without a holder (moving) has no entry, and HAProxy balances
 * it as before: whoever gets it forwards it once or answers 503. The map only routes; fencing stays with
 * the owners' nodes and epochs, so a stale entry costs a hop, never a second owner.
 *
 * ZooKeeper is read when its watches say something changed, when HAProxy's servers changed (a slot got
 * a worker's new address from DNS, which no watch announces), while some held partition has no entry
 * (a member's name did not resolve yet), and every `fullResyncMs` as a safety net. Otherwise the
 * periodic check costs one Runtime API command: an idle app's map costs ZooKeeper nothing.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { backendServers, runtimeCommands, type RuntimeAddress } from './haproxy-runtime.ts';
import type { Unwatch, ZooKeeperClient } from './zookeeper-client.ts';
import { isZooKeeperError } from './zookeeper-error.ts';
import { memberPath, membersPath, ownerPath, ownersPath, type AppRef } from './zk-paths.ts';

/** Options of {@link OwnerMapSync}. */
export interface OwnerMapOptions extends AppRef {
  client: ZooKeeperClient;
  runtime: RuntimeAddress;
  /** The map file as HAProxy's config names it. */
  mapFile: string;
  /** The backend whose servers are the workers. */
  backend: string;
  /** HAProxy's servers are checked this often (servers change address, e.g. DNS-filled slots); default 5000 ms. */
  resyncMs?: number;
  /** ZooKeeper is read again at least this often, changes seen or not; default 60 000 ms. */
  fullResyncMs?: number;
  /**
   * The IP of a member's host name (workers advertise their pod's DNS name; HAProxy's servers have IPs);
   * default the system resolver. An IP is kept as it is.
   */
  resolve?: (host: string) => Promise<string>;
  logger?: { warn(fields: Record<string, unknown>, message: string): void };
}

async function lookupAddress(host: string): Promise<string> {
  return (await lookup(host)).address;
}

/** Partition -> server name. */
export type OwnerMap = ReadonlyMap<number, string>;

/**
 * The map from who holds each partition, where each worker is and which server has that address. Pure.
 * A holder without a member node or a server of its address gets no entry.
 */
export function ownerMap(
  holders: ReadonlyMap<number, string>,
  addresses: ReadonlyMap<string, string>,
  servers: readonly { name: string; address: string | undefined }[],
): Map<number, string> {
  const byAddress = new Map(servers.flatMap((s) => (s.address ? [[s.address, s.name] as const] : [])));
  const map = new Map<number, string>();
  for (const [partition, worker] of holders) {
    const address = addresses.get(worker);
    const server = address === undefined ? undefined : byAddress.get(address);
    if (server !== undefined) map.set(partition, server);
  }
  return map;
}

/** The Runtime API commands that turn map `from` into `to`. */
export function mapEdits(file: string, from: OwnerMap, to: OwnerMap): string[] {
  const edits: string[] = [];
  for (const [p, server] of to) {
    if (!from.has(p)) edits.push(`add map ${file} ${p} ${server}`);
    else if (from.get(p) !== server) edits.push(`set map ${file} ${p} ${server}`);
  }
  for (const p of from.keys()) if (!to.has(p)) edits.push(`del map ${file} ${p}`);
  return edits;
}

/** See the module comment. Start, then close; errors are logged and the next change or resync retries. */
export class OwnerMapSync {
  readonly #o: OwnerMapOptions;
  #applied = new Map<number, string>();
  #unwatch: Unwatch[] = [];
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> = Promise.resolve();
  #again = false;
  /** Whether the next sync must read ZooKeeper (a watch fired, or the map may be incomplete). */
  #full = true;
  /** HAProxy's servers at the last full sync, and when that was. */
  #servers = '';
  #fullAt = 0;
  #syncs = 0;
  #reads = 0;
  #closed = false;
  #suspended = false;

  constructor(options: OwnerMapOptions) {
    this.#o = options;
  }

  /** Syncs run so far (periodic checks included), and how many of them read ZooKeeper. */
  get stats(): { readonly syncs: number; readonly zooKeeperReads: number } {
    return { syncs: this.#syncs, zooKeeperReads: this.#reads };
  }

  /** The map as last applied to HAProxy. */
  get applied(): OwnerMap {
    return this.#applied;
  }

  async start(): Promise<void> {
    await runtimeCommands(this.#o.runtime, [`clear map ${this.#o.mapFile}`]);
    this.#unwatch.push(this.#o.client.watchChildren(ownersPath(this.#o), () => this.#schedule()));
    this.#unwatch.push(this.#o.client.watchChildren(membersPath(this.#o), () => this.#schedule()));
    this.#timer = setInterval(() => this.#schedule(false), this.#o.resyncMs ?? 5000);
    this.#timer.unref();
    this.#schedule();
    await this.#running;
  }

  /** Starts from an empty map again (HAProxy was reloaded and read its map file afresh). */
  async reset(): Promise<void> {
    await this.#running;
    await runtimeCommands(this.#o.runtime, [`clear map ${this.#o.mapFile}`]);
    this.#applied = new Map();
    this.#schedule();
    await this.settled();
  }

  /**
   * Empties the map and stops filling it: HAProxy balances every request as without routing (the
   * fallback), as when this process is gone. {@link resume} fills it again.
   */
  async suspend(): Promise<void> {
    this.#suspended = true;
    await this.reset();
  }

  async resume(): Promise<void> {
    this.#suspended = false;
    await this.reset();
  }

  /** Resolves once every change seen so far is applied. */
  async settled(): Promise<void> {
    while (this.#again) await this.#running;
    await this.#running;
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const unwatch of this.#unwatch) unwatch();
    clearInterval(this.#timer);
    await this.#running;
  }

  /**
   * One sync at a time; changes during one make one more. `full` (a change seen, not the periodic
   * check): read ZooKeeper whatever HAProxy's servers say.
   */
  #schedule(full = true): void {
    if (this.#closed) return;
    if (full) this.#full = true;
    if (this.#again) return;
    this.#again = true;
    this.#running = this.#running.then(async () => {
      this.#again = false;
      await this.#sync().catch((error: unknown) => {
        this.#full = true;
        this.#o.logger?.warn({ err: error }, 'updating the owner map failed; retrying at the next change');
      });
    });
  }

  async #sync(): Promise<void> {
    this.#syncs++;
    const servers = await backendServers(this.#o.runtime, this.#o.backend);
    const signature = servers.map((s) => `${s.name}=${s.address ?? ''}`).join(',');
    const due = Date.now() - this.#fullAt >= (this.#o.fullResyncMs ?? 60_000);
    if (!this.#full && !due && signature === this.#servers) return;
    this.#full = false;
    this.#reads++;
    const [holders, addresses] = await Promise.all([this.#holders(), this.#addresses()]);
    this.#servers = signature;
    this.#fullAt = Date.now();
    const next = this.#suspended ? new Map<number, string>() : ownerMap(holders, addresses, servers);
    // A holder without an entry (its name not resolved yet, or no server has its address): read again.
    if (!this.#suspended && next.size < holders.size) this.#full = true;
    const edits = mapEdits(this.#o.mapFile, this.#applied, next);
    if (edits.length === 0 || this.#closed) return;
    await runtimeCommands(this.#o.runtime, edits);
    this.#applied = next;
  }

  async #holders(): Promise<Map<number, string>> {
    const children = await this.#children(ownersPath(this.#o));
    const entries = await Promise.all(
      children.map(async (name) => {
        const data = await this.#data(ownerPath(this.#o, Number(name)));
        const worker = data === undefined ? undefined : (JSON.parse(data) as { workerId?: string }).workerId;
        return worker === undefined ? [] : [[Number(name), worker] as const];
      }),
    );
    return new Map(entries.flat());
  }

  async #addresses(): Promise<Map<string, string>> {
    const members = await this.#children(membersPath(this.#o));
    const entries = await Promise.all(
      members.map(async (worker) => {
        const data = await this.#data(memberPath(this.#o, worker));
        const address = data === undefined ? undefined : (JSON.parse(data) as { address?: string }).address;
        const resolved = address === undefined ? undefined : await this.#resolved(address);
        return resolved === undefined ? [] : [[worker, resolved] as const];
      }),
    );
    return new Map(entries.flat());
  }

  /** `host:port` with the host as an IP; undefined when the name does not resolve (yet). */
  async #resolved(address: string): Promise<string | undefined> {
    const at = address.lastIndexOf(':');
    const host = address.slice(0, at);
    if (isIP(host) !== 0) return address;
    try {
      return `${await (this.#o.resolve ?? lookupAddress)(host)}${address.slice(at)}`;
    } catch {
      return undefined;
    }
  }

  async #children(path: string): Promise<string[]> {
    try {
      return await this.#o.client.children(path);
    } catch (error) {
      if (isZooKeeperError(error, 'NO_NODE')) return [];
      throw error;
    }
  }

  /** A node's data as text; undefined when it is gone (a claim released between listing and reading). */
  async #data(path: string): Promise<string | undefined> {
    try {
      return (await this.#o.client.get(path)).data.toString('utf8');
    } catch (error) {
      if (isZooKeeperError(error, 'NO_NODE')) return undefined;
      throw error;
    }
  }
}
