import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { FastifyInstance } from 'fastify';
import { partitionOf } from '../../../common/src/partition.ts';
import { defineApp } from '../../../workload/src/define-app.ts';
import type { AppServices } from '../../../workload/src/define-app.ts';
import { HOP_HEADER } from '../../../workload/src/forwarder.ts';
import { createWorkloadMetrics } from '../../../workload/src/metrics.ts';
import { StaticDirectory } from '../../../workload/src/partition-directory.ts';
import type { PartitionOwnerAddress } from '../../../workload/src/partition-directory.ts';
import { buildApp } from '../../../workload/src/server.ts';

const PARTITIONS = 8;
const definition = defineApp({
  name: 'echo',
  routes: [
    {
      method: 'GET',
      url: '/v1/echo/:key',
      handler: async (_request, _reply, ctx) => Promise.resolve({ key: ctx.key, partition: ctx.partition }),
    },
    {
      method: 'POST',
      url: '/v1/echo/:key',
      handler: async (request, _reply, ctx) => Promise.resolve({ key: ctx.key, body: request.body }),
    },
    {
      method: 'GET',
      url: '/v1/fail/:key',
      handler: async () => Promise.reject(new Error('handler failed')),
    },
  ],
});

/** A key whose partition satisfies `predicate`. */
function keyWhere(predicate: (partition: number) => boolean): string {
  for (let i = 0; ; i++) if (predicate(partitionOf(`k${i}`, PARTITIONS))) return `k${i}`;
}

describe('buildApp', () => {
  const owners: (PartitionOwnerAddress | undefined)[] = [];
  let a: FastifyInstance;
  let b: FastifyInstance;
  let accepting = true;

  beforeAll(async () => {
    const build = (id: string) =>
      buildApp({
        definition,
        directory: new StaticDirectory(id, owners),
        services: {} as AppServices,
        metrics: createWorkloadMetrics(),
        partitions: PARTITIONS,
        routing: { moveWaitMs: 100, forwardTimeoutMs: 2000 },
        accepting: () => accepting,
      });
    a = await build('a');
    b = await build('b');
    const addressA = await a.listen({ host: '127.0.0.1', port: 0 });
    const addressB = await b.listen({ host: '127.0.0.1', port: 0 });
    // Partition 0 has no owner; odd ones are b's, the other even ones a's.
    for (let p = 1; p < PARTITIONS; p++) {
      owners[p] = p % 2 === 1 ? { workerId: 'b', address: addressB } : { workerId: 'a', address: addressA };
    }
  });
  afterAll(async () => {
    await a.close();
    await b.close();
  });

  it('serves a key of its own partition', async () => {
    const key = keyWhere((p) => p > 0 && p % 2 === 0);
    const response = await a.inject({ url: `/v1/echo/${key}` });
    expect(response.statusCode).toBe(200);
    expect(response.headers['x-capstan-served-by']).toBe('a');
    expect(response.json()).toEqual({ key, partition: partitionOf(key, PARTITIONS) });
  });

  it('forwards a key of another partition to its owner, with the body', async () => {
    const key = keyWhere((p) => p % 2 === 1);
    const get = await a.inject({ url: `/v1/echo/${key}` });
    expect(get.statusCode).toBe(200);
    expect(get.headers['x-capstan-served-by']).toBe('b');
    const post = await a.inject({ method: 'POST', url: `/v1/echo/${key}`, payload: { n: 1 } });
    expect(post.json()).toEqual({ key, body: { n: 1 } });
    const metrics = await a.inject({ url: '/metrics' });
    expect(metrics.body).toMatch(/capstan_worker_forwards_total\{result="ok"\} 2/);
  });

  it('answers 421 to a forwarded request for a partition it does not serve (no second hop)', async () => {
    const key = keyWhere((p) => p % 2 === 1);
    const response = await a.inject({ url: `/v1/echo/${key}`, headers: { [HOP_HEADER]: 'x' } });
    expect(response.statusCode).toBe(421);
  });

  it('answers 503 with Retry-After when a partition has no owner in time', async () => {
    const key = keyWhere((p) => p === 0);
    const response = await a.inject({ url: `/v1/echo/${key}` });
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('1');
    expect(response.json()).toMatchObject({ error: 'PARTITION_MOVING' });
  });

  it('turns a throwing handler into a 500 without its message', async () => {
    const key = keyWhere((p) => p > 0 && p % 2 === 0);
    const response = await a.inject({ url: `/v1/fail/${key}` });
    expect(response.statusCode).toBe(500);
    expect(response.json()).toEqual({ error: 'INTERNAL', message: 'internal error' });
  });

  it('reports health, readiness and request metrics', async () => {
    expect((await a.inject({ url: '/healthz' })).statusCode).toBe(200);
    expect((await a.inject({ url: '/readyz' })).statusCode).toBe(200);
    accepting = false;
    const notReady = await a.inject({ url: '/readyz' });
    accepting = true;
    expect(notReady.statusCode).toBe(503);
    expect(notReady.json()).toEqual({ status: 'not-ready', reason: 'draining' });
    const metrics = (await a.inject({ url: '/metrics' })).body;
    expect(metrics).toMatch(
      /capstan_worker_requests_total\{route="\/v1\/echo\/:key",method="GET",code="200"\} \d+/,
    );
    expect(metrics).toMatch(/capstan_worker_request_duration_seconds_bucket/);
    expect(metrics).toMatch(/capstan_worker_owned_partitions 3/);
    expect(metrics).toMatch(/capstan_worker_partition_unavailable_total 1/);
  });
});
