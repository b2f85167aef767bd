/**
 * Leader election on a `coordination.k8s.io/v1` Lease, following client-go's algorithm:
 * - a candidate acquires the Lease when it is free (no holder, e.g. released) or when the record it
 *   observed has not changed for `leaseDurationMs` of its own clock (no trust in other clocks);
 * - the leader renews every `retryPeriodMs`; if no renew succeeds for `renewDeadlineMs`, or someone
 *   else holds the Lease, it stops leading;
 * - while its lease is valid the leader renews from the Lease its last write returned, without reading
 *   it first (client-go's fast path: one request per renewal, not two); a conflict falls back to a read;
 * - writes carry the read `resourceVersion`, so a conflict (409) loses the round instead of clobbering;
 * - `stop({ release: true })` empties `holderIdentity` and sets `leaseDurationSeconds: 1` so a standby
 *   takes over at its next retry instead of waiting out the lease.
 * `acquireTime`/`renewTime` are written as `V1MicroTime` (serialized with microseconds).
 */
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { systemClock, type Clock } from './clock.ts';
import { silentLogger, type Logger } from './logger.ts';

/** Options of `LeaderElector`. */
export interface LeaderElectionOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  /** Lease name. */
  readonly name: string;
  /** This candidate's identity (pod name plus a random suffix is typical). */
  readonly identity: string;
  /** Default 15 000 ms. */
  readonly leaseDurationMs?: number;
  /** Default 10 000 ms; must be below the lease duration. */
  readonly renewDeadlineMs?: number;
  /** Default 2 000 ms. */
  readonly retryPeriodMs?: number;
  /** Called once leadership is acquired; `signal` aborts when it is lost or stopped. */
  readonly onStartedLeading: (signal: AbortSignal) => void;
  /** Called once when leadership that was held ends (lost, stopped or released). */
  readonly onStoppedLeading?: () => void;
  /** Called when the observed leader changes (including to this candidate). */
  readonly onNewLeader?: (identity: string) => void;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

/** Converts what the client returns for a MicroTime (a string or a Date) into a `V1MicroTime`. */
export function toMicroTime(value: Date | string | undefined): V1MicroTime | undefined {
  return value === undefined ? undefined : new V1MicroTime(value);
}

function statusCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** See the module comment. `start()` campaigns in the background; `stop()` ends it. */
export class LeaderElector {
  readonly #o: LeaderElectionOptions;
  readonly #api: CoordinationV1Api;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #leaseMs: number;
  readonly #renewDeadlineMs: number;
  readonly #retryMs: number;
  #stopped = new AbortController();
  #leading: AbortController | undefined;
  #loop: Promise<void> | undefined;
  #observed = '';
  #observedAt = 0;
  #observedHolder = '';
  /** The Lease as this candidate's last write left it, while leading: what the next renewal replaces. */
  #written: V1Lease | undefined;

  constructor(options: LeaderElectionOptions) {
    this.#o = options;
    this.#api = options.kubeConfig.makeApiClient(CoordinationV1Api);
    this.#clock = options.clock ?? systemClock;
    this.#log = (options.logger ?? silentLogger()).child({ lease: `${options.namespace}/${options.name}` });
    this.#leaseMs = options.leaseDurationMs ?? 15_000;
    this.#renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.#retryMs = options.retryPeriodMs ?? 2_000;
  }

  /** True while this candidate holds the Lease. */
  isLeader(): boolean {
    return this.#leading !== undefined;
  }

  /** The last observed holder ('' when none). */
  observedLeader(): string {
    return this.#observedHolder;
  }

  /** Campaigns (and, once elected, renews) in the background until `stop()` or leadership is lost. */
  start(): void {
    if (this.#loop !== undefined) return;
    this.#stopped = new AbortController();
    this.#loop = this.#run();
  }

  /** Resolves when the campaign ended: leadership lost, or `stop()` called. */
  async done(): Promise<void> {
    await this.#loop;
  }

  /**
   * Stops campaigning and renewing; `onStoppedLeading` runs if leading. With `release: true` a held
   * Lease is handed back so a standby acquires it at once. Release failures are logged, not thrown.
   */
  async stop(options: { release?: boolean } = {}): Promise<void> {
    this.#stopped.abort();
    await this.#loop;
    this.#loop = undefined;
    if (options.release === true) await this.#release();
  }

  async #run(): Promise<void> {
    const signal = this.#stopped.signal;
    while (!signal.aborted && !(await this.#tryAcquireOrRenew())) await this.#sleep(this.#retryMs, signal);
    if (signal.aborted) return;
    this.#leading = new AbortController();
    this.#log.info({ identity: this.#o.identity }, 'acquired leadership');
    this.#o.onStartedLeading(this.#leading.signal);
    await this.#renewLoop(signal);
    this.#leading.abort();
    this.#leading = undefined;
    this.#log.info({ identity: this.#o.identity }, 'stopped leading');
    this.#o.onStoppedLeading?.();
  }

  async #renewLoop(signal: AbortSignal): Promise<void> {
    let lastRenew = this.#clock.now();
    while (!signal.aborted) {
      await this.#sleep(this.#retryMs, signal);
      if (signal.aborted) return;
      if (await this.#tryAcquireOrRenew()) lastRenew = this.#clock.now();
      else if (this.#observedHolder !== this.#o.identity)
        return this.#log.warn('lease taken by another holder');
      if (this.#clock.now() - lastRenew >= this.#renewDeadlineMs)
        return this.#log.warn('failed to renew lease in time');
    }
  }

  #sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const finish = (): void => {
        cancel();
        signal.removeEventListener('abort', finish);
        resolve();
      };
      const cancel = this.#clock.setTimer(finish, ms);
      signal.addEventListener('abort', finish, { once: true });
    });
  }

  /** One round: true if this candidate holds the Lease afterwards. Errors count as a lost round. */
  async #tryAcquireOrRenew(): Promise<boolean> {
    if (await this.#renewWritten()) return true;
    try {
      const lease = await this.#read();
      if (lease === undefined) return await this.#create();
      this.#observe(lease);
      if (!this.#canTake(lease)) return false;
      await this.#replace(this.#claimed(lease));
      return true;
    } catch (error: unknown) {
      if (statusCode(error) !== 409) this.#log.warn({ err: error }, 'lease update failed');
      return false;
    }
  }

  /**
   * The fast path: a leader whose last write is less than a lease old replaces that version. False when
   * there is none or the write fails (a conflict means someone else wrote it; the read path finds out who).
   */
  async #renewWritten(): Promise<boolean> {
    const written = this.#written;
    this.#written = undefined;
    if (written === undefined || this.#leading === undefined) return false;
    if (this.#clock.now() >= this.#observedAt + this.#leaseMs) return false;
    try {
      await this.#replace(this.#claimed(written));
      return true;
    } catch (error: unknown) {
      if (statusCode(error) !== 409) this.#log.warn({ err: error }, 'lease renewal failed');
      return false;
    }
  }

  async #replace(body: V1Lease): Promise<void> {
    const name = this.#o.name;
    const written = await this.#api.replaceNamespacedLease({ name, namespace: this.#o.namespace, body });
    this.#observe(written);
    this.#written = written;
  }

  async #read(): Promise<V1Lease | undefined> {
    try {
      return await this.#api.readNamespacedLease({ name: this.#o.name, namespace: this.#o.namespace });
    } catch (error: unknown) {
      if (statusCode(error) === 404) return undefined;
      throw error;
    }
  }

  async #create(): Promise<boolean> {
    const now = new V1MicroTime(this.#clock.now());
    const created = await this.#api.createNamespacedLease({
      namespace: this.#o.namespace,
      body: {
        metadata: { name: this.#o.name, namespace: this.#o.namespace },
        spec: {
          holderIdentity: this.#o.identity,
          leaseDurationSeconds: Math.ceil(this.#leaseMs / 1000),
          acquireTime: now,
          renewTime: now,
          leaseTransitions: 0,
        },
      },
    });
    this.#observe(created);
    this.#written = created;
    return true;
  }

  /** Tracks when the holder record last changed, by this process's clock. */
  #observe(lease: V1Lease): void {
    const spec = lease.spec ?? {};
    const record = JSON.stringify([
      spec.holderIdentity ?? '',
      String(spec.renewTime),
      spec.leaseDurationSeconds,
    ]);
    const holder = spec.holderIdentity ?? '';
    if (holder !== this.#observedHolder && holder !== '') this.#o.onNewLeader?.(holder);
    this.#observedHolder = holder;
    if (record === this.#observed) return;
    this.#observed = record;
    this.#observedAt = this.#clock.now();
  }

  #canTake(lease: V1Lease): boolean {
    const holder = lease.spec?.holderIdentity ?? '';
    if (holder === '' || holder === this.#o.identity) return true;
    const durationMs = (lease.spec?.leaseDurationSeconds ?? Math.ceil(this.#leaseMs / 1000)) * 1000;
    return this.#clock.now() >= this.#observedAt + durationMs;
  }

  #claimed(lease: V1Lease): V1Lease {
    const spec = lease.spec ?? {};
    const now = new V1MicroTime(this.#clock.now());
    const renewing = spec.holderIdentity === this.#o.identity;
    return {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: this.#o.identity,
        leaseDurationSeconds: Math.ceil(this.#leaseMs / 1000),
        acquireTime: renewing ? toMicroTime(spec.acquireTime) : now,
        renewTime: now,
        leaseTransitions: (spec.leaseTransitions ?? 0) + (renewing ? 0 : 1),
      },
    };
  }

  async #release(): Promise<void> {
    try {
      const lease = await this.#read();
      if (lease?.spec?.holderIdentity !== this.#o.identity) return;
      const now = new V1MicroTime(this.#clock.now());
      const spec = {
        ...lease.spec,
        holderIdentity: '',
        leaseDurationSeconds: 1,
        acquireTime: now,
        renewTime: now,
      };
      await this.#api.replaceNamespacedLease({
        name: this.#o.name,
        namespace: this.#o.namespace,
        body: { ...lease, spec },
      });
      this.#log.info('released lease');
    } catch (error: unknown) {
      this.#log.warn({ err: error }, 'failed to release lease');
    }
  }
}
