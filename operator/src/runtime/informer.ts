/**
 * A list+watch informer for one kind, scoped to a namespace (or all) and a label selector so the
 * cache holds only what the operator owns. It survives the ways watches fail:
 * - a watch that ends (server timeout, connection closed) is resumed from the last resourceVersion;
 * - `410 Gone` (as a status or an ERROR event) triggers a fresh list;
 * - any other error relists after an exponential backoff;
 * - a watchdog aborts and resumes a watch that produced no line (event or bookmark) for `watchdogMs`;
 * - a watch the server closes without sending anything is resumed after a backoff (no hot loop).
 *   Bookmarks are requested, so a healthy but quiet watch still speaks about once a minute.
 */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { systemClock, type CancelTimer, type Clock } from './clock.ts';
import { silentLogger, type Logger } from './logger.ts';
import { ExponentialBackoff } from './queue.ts';
import { apiRequest, RestClientError } from './rest-client.ts';
import { ObjectStore, namespaceOf, type IndexFunc, type Store } from './store.ts';
import { readWatchLines, type WatchEvent } from './watch-stream.ts';

/** Which objects an informer follows. */
export interface ResourceRef {
  /** API group; '' for the core group. */
  readonly group: string;
  readonly version: string;
  /** Plural resource name, e.g. 'configmaps'. */
  readonly plural: string;
}

/** Receives cache changes, after the store was updated. */
export interface EventHandler<T extends KubernetesObject> {
  onAdd?(obj: T): void;
  onUpdate?(oldObj: T, newObj: T): void;
  onDelete?(obj: T): void;
}

/** Options of `Informer`. */
export interface InformerOptions<T extends KubernetesObject> {
  readonly resource: ResourceRef;
  /** Only this namespace; undefined watches all namespaces (or a cluster-scoped kind). */
  readonly namespace?: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** Server-side watch timeout; the watch is resumed after it. Default 300 s. */
  readonly watchTimeoutSeconds?: number;
  /** Restart a watch silent for this long. Default 120 000 ms (bookmarks come about every 60 s). */
  readonly watchdogMs?: number;
  /** Page size of lists. Default 500. */
  readonly pageSize?: number;
  /** Backoff after failures: base and cap in ms. Default 500 ms doubling to 30 s. */
  readonly backoff?: { baseMs?: number; capMs?: number };
  /** Applied to each object before it is cached. Default drops `metadata.managedFields`. */
  readonly transform?: (obj: T) => T;
  /** Indexes of the cache, by name (see `Store.byIndex`); computed on the transformed objects. */
  readonly indexers?: Readonly<Record<string, IndexFunc<T>>>;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

/** Counters describing how often the informer had to recover. */
export interface InformerStats {
  lists: number;
  watches: number;
  /** Watch events received, bookmarks included. */
  lines: number;
  watchdogRestarts: number;
  goneRelists: number;
  errors: number;
}

type WatchEnd = 'closed' | 'gone' | 'watchdog' | 'stopped';

function dropManagedFields<T extends KubernetesObject>(obj: T): T {
  if (obj.metadata?.managedFields === undefined) return obj;
  const { managedFields: _dropped, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}

/** The collection path of `resource`, e.g. `/apis/apps/v1/namespaces/ns/statefulsets`. */
export function collectionPath(resource: ResourceRef, namespace?: string): string {
  const base =
    resource.group === '' ? `/api/${resource.version}` : `/apis/${resource.group}/${resource.version}`;
  return namespace === undefined
    ? `${base}/${resource.plural}`
    : `${base}/namespaces/${namespace}/${resource.plural}`;
}

function keyOf(obj: KubernetesObject): string {
  return `${namespaceOf(obj)}/${obj.metadata?.name ?? ''}`;
}

interface ListPage<T> {
  items?: T[];
  metadata?: { resourceVersion?: string; continue?: string };
}

/** See the module comment. Start with `start()`, stop with `stop()`. */
export class Informer<T extends KubernetesObject> {
  readonly #kc: KubeConfig;
  readonly #options: InformerOptions<T>;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #store: ObjectStore<T>;
  readonly #handlers: EventHandler<T>[] = [];
  readonly #backoff: ExponentialBackoff;
  readonly #syncWaiters: Array<() => void> = [];
  readonly stats: InformerStats = {
    lists: 0,
    watches: 0,
    lines: 0,
    watchdogRestarts: 0,
    goneRelists: 0,
    errors: 0,
  };
  #resourceVersion = '';
  #synced = false;
  #running: Promise<void> | undefined;
  #abort = new AbortController();
  #lastActivity = 0;

  constructor(kc: KubeConfig, options: InformerOptions<T>) {
    this.#kc = kc;
    this.#options = options;
    this.#store = new ObjectStore(options.indexers);
    this.#clock = options.clock ?? systemClock;
    this.#log = (options.logger ?? silentLogger()).child({ resource: options.resource.plural });
    this.#backoff = new ExponentialBackoff({
      baseMs: options.backoff?.baseMs ?? 500,
      capMs: options.backoff?.capMs ?? 30_000,
    });
  }

  /** The cache; complete once `hasSynced()`. */
  get store(): Store<T> {
    return this.#store;
  }

  /** Adds a handler; it also receives an add for every object already cached. */
  addHandler(handler: EventHandler<T>): void {
    this.#handlers.push(handler);
    for (const obj of this.#store.list()) handler.onAdd?.(obj);
  }

  /** True once the first list completed. */
  hasSynced(): boolean {
    return this.#synced;
  }

  /** Milliseconds (clock time) of the last list or watch line, 0 before any. */
  lastActivity(): number {
    return this.#lastActivity;
  }

  /** Resolves once the first list completed. */
  waitForSync(): Promise<void> {
    if (this.#synced) return Promise.resolve();
    return new Promise((resolve) => this.#syncWaiters.push(resolve));
  }

  /** Starts listing and watching in the background. Calling it again does nothing. */
  start(): void {
    if (this.#running !== undefined) return;
    this.#abort = new AbortController();
    this.#running = this.#run();
  }

  /** Stops the watch and resolves once the loop has exited. The cache keeps its content. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#running;
    this.#running = undefined;
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    let needList = true;
    while (!signal.aborted) {
      try {
        if (needList) await this.#list(signal);
        needList = false;
        const linesBefore = this.stats.lines;
        const end = await this.#watch(signal);
        if (end === 'closed' && this.stats.lines === linesBefore)
          await this.#sleep(this.#backoff.when('empty'), signal);
        else this.#backoff.forget('empty');
        if (end === 'gone') {
          this.stats.goneRelists++;
          needList = true;
        }
        if (end === 'watchdog') this.stats.watchdogRestarts++;
      } catch (error: unknown) {
        if (signal.aborted) break;
        this.stats.errors++;
        needList = true;
        const delay = this.#backoff.when('informer');
        this.#log.warn({ err: error, retryInMs: delay }, 'list/watch failed; relisting after backoff');
        await this.#sleep(delay, signal);
      }
    }
  }

  #sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const cancel = this.#clock.setTimer(done, ms);
      function done(): void {
        cancel();
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });
  }

  #query(): Record<string, string | number | boolean | undefined> {
    return { labelSelector: this.#options.labelSelector, fieldSelector: this.#options.fieldSelector };
  }

  async #list(signal: AbortSignal): Promise<void> {
    const seen = new Set<string>();
    let continueToken: string | undefined;
    do {
      const page = await this.#listPage(continueToken, signal);
      for (const item of page.items ?? []) {
        seen.add(keyOf(item));
        this.#upsert(item);
      }
      continueToken = page.metadata?.continue || undefined;
      this.#resourceVersion = page.metadata?.resourceVersion ?? '';
    } while (continueToken !== undefined);
    for (const obj of this.#store.list()) {
      if (!seen.has(keyOf(obj))) this.#remove(obj);
    }
    this.stats.lists++;
    this.#markSynced();
  }

  async #listPage(continueToken: string | undefined, signal: AbortSignal): Promise<ListPage<T>> {
    const response = await apiRequest(this.#kc, {
      path: collectionPath(this.#options.resource, this.#options.namespace),
      query: { ...this.#query(), limit: this.#options.pageSize ?? 500, continue: continueToken },
      signal,
    });
    if (response.status !== 200) {
      const text = await response.text();
      throw new RestClientError('ERR_LIST_FAILED', `list failed: ${response.status} ${text.slice(0, 200)}`, {
        statusCode: response.status,
      });
    }
    this.#lastActivity = this.#clock.now();
    return (await response.json()) as ListPage<T>;
  }

  #markSynced(): void {
    this.#backoff.forget('informer');
    if (this.#synced) return;
    this.#synced = true;
    for (const resolve of this.#syncWaiters.splice(0)) resolve();
  }

  async #watch(outer: AbortSignal): Promise<WatchEnd> {
    const abort = new AbortController();
    const onOuterAbort = (): void => abort.abort();
    outer.addEventListener('abort', onOuterAbort, { once: true });
    let watchdogFired = false;
    let cancelWatchdog: CancelTimer = () => undefined;
    const feedWatchdog = (): void => {
      cancelWatchdog();
      cancelWatchdog = this.#clock.setTimer(() => {
        watchdogFired = true;
        this.#log.warn(
          { silentForMs: this.#options.watchdogMs ?? 120_000 },
          'watch went silent; restarting it',
        );
        abort.abort();
      }, this.#options.watchdogMs ?? 120_000);
    };
    try {
      feedWatchdog();
      const end = await this.#streamWatch(abort.signal, feedWatchdog);
      return end;
    } catch (error: unknown) {
      if (outer.aborted) return 'stopped';
      if (watchdogFired) return 'watchdog';
      throw error;
    } finally {
      cancelWatchdog();
      outer.removeEventListener('abort', onOuterAbort);
    }
  }

  async #streamWatch(signal: AbortSignal, onActivity: () => void): Promise<WatchEnd> {
    this.stats.watches++;
    const response = await apiRequest(this.#kc, {
      path: collectionPath(this.#options.resource, this.#options.namespace),
      query: {
        ...this.#query(),
        watch: true,
        allowWatchBookmarks: true,
        resourceVersion: this.#resourceVersion,
        timeoutSeconds: this.#options.watchTimeoutSeconds ?? 300,
      },
      signal,
    });
    if (response.status === 410) return 'gone';
    if (response.status !== 200 || response.body === null) {
      throw new RestClientError('ERR_WATCH_FAILED', `watch failed: ${response.status}`, {
        statusCode: response.status,
      });
    }
    for await (const event of readWatchLines<T>(response.body, onActivity)) {
      if (this.#apply(event) === 'gone') {
        await response.body.cancel().catch(() => undefined);
        return 'gone';
      }
    }
    return 'closed';
  }

  #apply(event: WatchEvent<T>): 'gone' | undefined {
    this.#lastActivity = this.#clock.now();
    this.stats.lines++;
    if (event.type === 'ERROR') {
      const status = event.object as { code?: number; message?: string };
      if (status.code === 410) return 'gone';
      throw new RestClientError('ERR_WATCH_EVENT', `watch error: ${status.message ?? 'unknown'}`, {
        statusCode: status.code,
      });
    }
    const rv = event.object.metadata?.resourceVersion;
    if (rv !== undefined) this.#resourceVersion = rv;
    if (event.type === 'ADDED' || event.type === 'MODIFIED') this.#upsert(event.object);
    else if (event.type === 'DELETED') this.#remove(event.object);
    return undefined;
  }

  #upsert(raw: T): void {
    const obj = (this.#options.transform ?? dropManagedFields)(raw);
    const previous = this.#store.put(obj);
    if (previous === undefined) {
      this.#emit((h) => h.onAdd?.(obj));
    } else if (previous.metadata?.resourceVersion !== obj.metadata?.resourceVersion) {
      this.#emit((h) => h.onUpdate?.(previous, obj));
    }
  }

  #remove(obj: T): void {
    const previous = this.#store.delete(namespaceOf(obj), obj.metadata?.name ?? '');
    if (previous === undefined) return;
    this.#emit((h) => h.onDelete?.(previous));
  }

  /** Calls every handler; a throwing handler is logged and does not disturb the watch. */
  #emit(call: (handler: EventHandler<T>) => void): void {
    for (const handler of this.#handlers) {
      try {
        call(handler);
      } catch (error: unknown) {
        this.#log.error({ err: error }, 'event handler failed');
      }
    }
  }
}
