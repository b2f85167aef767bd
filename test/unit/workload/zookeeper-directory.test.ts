import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { EventEmitter } from 'node:events';
import type { FastifyInstance } from 'fastify';
import { partitionOf } from '../../../common/src/partition.ts';
import type { PartitionOwnership, PartitionOwnerInfo } from '../../../common/src/partition-ownership.ts';
import type { DisconnectReason, ZooKeeperClient } from '../../../common/src/zookeeper-client.ts';
import { defineApp } from '../../../workload/src/define-app.ts';
import type { AppServices } from '../../../workload/src/define-app.ts';
import { createWorkloadMetrics } from '../../../workload/src/metrics.ts';
import { buildApp } from '../../../workload/src/server.ts';
import { ZooKeeperDirectory, disconnectGraceMs } from '../../../workload/src/zookeeper-directory.ts';

const SESSION_TIMEOUT_MS = 4000;
/** The default grace for a 4 s session: a third of it. */
const GRACE_MS = 1333;
const PARTITIONS = 4;

/** The parts of ZooKeeperClient the directory uses, driven by the test. */
class FakeClient extends EventEmitter {
  connected = true;
  sessionTimeoutMs = SESSION_TIMEOUT_MS;
  lastConfirmedAt = 0;

  disconnect(reason: DisconnectReason): void {
    this.connected = false;
    this.emit('disconnected', reason);
  }

  reconnect(newSession = false): void {
    this.connected = true;
    this.emit('connected', { sessionId: '1', newSession });
  }

  expire(): void {
    this.emit('expired');
  }
}

/**
 * The parts of PartitionOwnership the directory uses: serves `owned` while the client is connected; as the
 * real one, a disconnection revokes everything and serving resumes (`resume()`) only after a re-check.
 */
class FakeOwnership extends EventEmitter {
  readonly #client: FakeClient;
  readonly owned = new Map<number, number>();

  constructor(client: FakeClient) {
    super();
    this.#client = client;
    client.on('disconnected', () => {
      for (const p of this.owned.keys()) this.emit('revoked', p);
    });
  }

  start = async (): Promise<void> => Promise.resolve();
  close = async (): Promise<void> => Promise.resolve();

  resume(): void {
    for (const [p, epoch] of this.owned) this.emit('assigned', p, epoch);
  }

  isServing(p: number): { epoch: number } | undefined {
    const epoch = this.owned.get(p);
    return this.#client.connected && epoch !== undefined ? { epoch } : undefined;
  }

  serving(): Map<number, number> {
    return new Map([...this.owned].filter(([p]) => this.isServing(p)));
  }

  begin(p: number): { epoch: number; end(): void } | undefined {
    const serving = this.isServing(p);
    return serving && { epoch: serving.epoch, end: () => undefined };
  }

  ownerOf(p: number): PartitionOwnerInfo | undefined {
    return this.owned.has(p)
      ? { workerId: 'w0', address: '127.0.0.1:1', member: { address: '' } }
      : undefined;
  }
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('disconnectGraceMs', () => {
  it('is a third of the session timeout, at most 5 s, and never more than half of it', () => {
    expect(disconnectGraceMs(4000)).toBe(1333);
    expect(disconnectGraceMs(10_000)).toBe(3333);
    expect(disconnectGraceMs(30_000)).toBe(5000);
    expect(disconnectGraceMs(10_000, 2000)).toBe(2000);
    expect(disconnectGraceMs(10_000, 9000)).toBe(5000);
    expect(disconnectGraceMs(10_000, 0)).toBe(0);
  });
});

describe('ZooKeeperDirectory across a disconnection', () => {
  let now: number;
  let client: FakeClient;
  let ownership: FakeOwnership;
  let directory: ZooKeeperDirectory;
  let app: FastifyInstance;

  const make = async (grace?: number): Promise<void> => {
    client = new FakeClient();
    ownership = new FakeOwnership(client);
    directory = new ZooKeeperDirectory({
      client: client as unknown as ZooKeeperClient,
      ownership: ownership as unknown as PartitionOwnership,
      workerId: 'w0',
      now: () => now,
      log: { warn: () => undefined },
      ...(grace === undefined ? {} : { disconnectGraceMs: grace }),
    });
    await directory.start();
    for (let p = 0; p < PARTITIONS; p++) ownership.owned.set(p, 1);
    ownership.resume();
    await flush();
    app = await buildApp({
      definition: defineApp({
        name: 'echo',
        routes: [
          {
            method: 'GET',
            url: '/v1/echo/:key',
            handler: async (_r, _s, ctx) => Promise.resolve({ key: ctx.key }),
          },
        ],
      }),
      directory,
      services: {} as AppServices,
      metrics: createWorkloadMetrics(),
      partitions: PARTITIONS,
      routing: { moveWaitMs: 3000 },
    });
  };
  const readyz = async (): Promise<{ statusCode: number; body: unknown }> => {
    const response = await app.inject({ url: '/readyz' });
    return { statusCode: response.statusCode, body: response.json() };
  };

  beforeEach(async () => {
    now = 1_000_000;
    await make();
  });
  afterEach(async () => app.close());

  it('is ready and serves while connected', async () => {
    expect(directory.status()).toEqual({
      state: 'connected',
      ready: true,
      suspended: false,
      owned: [0, 1, 2, 3],
    });
    expect(directory.begin(0)?.epoch).toBe(1);
    expect((await readyz()).statusCode).toBe(200);
  });

  it('stays ready but serves nothing during a disconnection shorter than the grace', async () => {
    client.disconnect('server');
    expect(directory.status()).toEqual({
      state: 'suspended',
      ready: true,
      suspended: true,
      owned: [],
      disconnectedMs: 0,
    });
    expect(directory.begin(0)).toBeUndefined();
    now += GRACE_MS - 1;
    expect(directory.status()).toMatchObject({ state: 'suspended', disconnectedMs: GRACE_MS - 1 });
    expect(await readyz()).toEqual({ statusCode: 200, body: { status: 'ready' } });
    const status: unknown = (await app.inject({ url: '/_capstan/status' })).json();
    expect(status).toMatchObject({ workerId: 'w0', state: 'suspended', suspended: true, owned: [] });
    const metrics = (await app.inject({ url: '/metrics' })).body;
    expect(metrics).toMatch(/capstan_worker_zookeeper_state\{state="suspended"\} 1/);
    expect(metrics).toMatch(/capstan_worker_zookeeper_state\{state="connected"\} 0/);
    expect(metrics).toMatch(/capstan_worker_zookeeper_connected 0/);
  });

  it('is not ready once the grace has passed', async () => {
    client.disconnect('server');
    now += GRACE_MS;
    expect(directory.status()).toMatchObject({
      state: 'disconnected',
      ready: false,
      suspended: false,
      disconnectedMs: GRACE_MS,
    });
    expect(await readyz()).toEqual({
      statusCode: 503,
      body: { status: 'not-ready', reason: 'zookeeper disconnected' },
    });
    expect((await app.inject({ url: '/metrics' })).body).toMatch(
      /capstan_worker_zookeeper_state\{state="disconnected"\} 1/,
    );
  });

  it('is not ready after an expiry, even within the grace', async () => {
    client.disconnect('server');
    now += 100;
    client.expire();
    expect(directory.status()).toMatchObject({ state: 'expired', ready: false, suspended: false });
    expect((await readyz()).statusCode).toBe(503);
  });

  it('is not ready at once when the session expired while connected', () => {
    client.disconnect('expired');
    client.expire();
    expect(directory.status()).toMatchObject({ state: 'expired', ready: false, suspended: false });
  });

  it('is ready again the moment the session reconnects, and serves after the re-check', async () => {
    client.disconnect('server');
    now += GRACE_MS * 2;
    expect(directory.status().ready).toBe(false);
    client.reconnect();
    expect(directory.status()).toEqual({ state: 'connected', ready: true, suspended: false, owned: [] });
    expect((await readyz()).statusCode).toBe(200);
    expect(directory.begin(0)).toBeUndefined(); // not before PartitionOwnership re-checked owners/<p>
    ownership.resume();
    await flush();
    expect(directory.status().owned).toEqual([0, 1, 2, 3]);
    // A later disconnection gets the whole grace again.
    client.disconnect('server');
    expect(directory.status()).toMatchObject({ state: 'suspended', ready: true });
  });

  it('is ready again after a new session replaced an expired one', () => {
    client.disconnect('server');
    client.expire();
    client.reconnect(true);
    expect(directory.status()).toMatchObject({ state: 'connected', ready: true });
  });

  it('counts a silent server from its last answer', async () => {
    client.lastConfirmedAt = now - SESSION_TIMEOUT_MS / 2;
    client.disconnect('no-response');
    expect(directory.status()).toMatchObject({ state: 'disconnected', ready: false });
    await app.close();
    await make(2000); // the longest grace for a 4 s session
    client.lastConfirmedAt = now - 1500;
    client.disconnect('no-response');
    expect(directory.status()).toMatchObject({ state: 'suspended', ready: true });
    now += 499;
    expect(directory.status().ready).toBe(true);
    now += 1;
    expect(directory.status().ready).toBe(false);
  });

  it('fails readiness at once with a grace of 0', async () => {
    await app.close();
    await make(0);
    client.disconnect('server');
    expect(directory.status()).toMatchObject({ state: 'disconnected', ready: false, suspended: false });
  });

  it('is not ready after close', async () => {
    await directory.close();
    client.disconnect('closed');
    expect(directory.status()).toMatchObject({ state: 'closed', ready: false, suspended: false });
  });

  it('holds a request for its own partition during the suspension and serves it after the re-check', async () => {
    client.disconnect('server');
    const key = 'held';
    const pending = app.inject({ url: `/v1/echo/${key}` });
    await new Promise((resolve) => setTimeout(resolve, 100));
    client.reconnect();
    ownership.resume();
    const response = await pending;
    expect(response.statusCode).toBe(200);
    expect(response.headers['x-capstan-served-by']).toBe('w0');
    expect(response.headers['x-capstan-partition']).toBe(String(partitionOf(key, PARTITIONS)));
    const metrics = (await app.inject({ url: '/metrics' })).body;
    expect(metrics).not.toMatch(/capstan_worker_forwards_total\{/);
  });
});
