/**
 * What a worker answers when forwarding to the owner fails, against real sockets: an owner that reads
 * the request and closes the connection (it may have applied it), one that never answers, and a port
 * where nothing listens (nothing was sent). A write without an Idempotency-Key is sent once and answered
 * OUTCOME_UNKNOWN; a read or a keyed write is sent again; a refused connection is always retried.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { FastifyInstance } from 'fastify';
import { createServer, type Server, type Socket } from 'node:net';
import { partitionOf } from '../../../common/src/partition.ts';
import { defineApp } from '../../../workload/src/define-app.ts';
import type { AppServices } from '../../../workload/src/define-app.ts';
import { createWorkloadMetrics } from '../../../workload/src/metrics.ts';
import { StaticDirectory } from '../../../workload/src/partition-directory.ts';
import type { PartitionOwnerAddress } from '../../../workload/src/partition-directory.ts';
import { OUTCOME_UNKNOWN } from '../../../workload/src/plugins/partition-router.ts';
import { buildApp } from '../../../workload/src/server.ts';

const PARTITIONS = 8;
/** Partition -> peer behaviour. */
const CLOSES = 1;
const HANGS = 2;
const REFUSED = 3;

const definition = defineApp({
  name: 'echo',
  routes: [
    {
      method: 'GET',
      url: '/v1/echo/:key',
      handler: async (_q, _r, ctx) => Promise.resolve({ key: ctx.key }),
    },
    {
      method: 'POST',
      url: '/v1/echo/:key',
      handler: async (_q, _r, ctx) => Promise.resolve({ key: ctx.key }),
    },
  ],
});

function keyOf(partition: number): string {
  for (let i = 0; ; i++) if (partitionOf(`k${i}`, PARTITIONS) === partition) return `k${i}`;
}

/** A peer that counts the requests it reads and then does `then` with the connection. */
async function peer(
  then: (socket: Socket) => void,
): Promise<{ server: Server; url: string; seen: () => number }> {
  let seen = 0;
  const server = createServer((socket) => {
    socket.on('data', (chunk) => {
      seen += chunk.toString('latin1').split('\r\n\r\n').length - 1;
      then(socket);
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { server, url: `http://127.0.0.1:${port}`, seen: () => seen };
}

describe('forward failures', () => {
  const owners: (PartitionOwnerAddress | undefined)[] = [];
  let worker: FastifyInstance;
  let closing: Awaited<ReturnType<typeof peer>>;
  let hanging: Awaited<ReturnType<typeof peer>>;
  const held: Socket[] = [];
  let seenBefore = { closing: 0, hanging: 0 };

  beforeAll(async () => {
    closing = await peer((socket) => socket.destroy());
    hanging = await peer((socket) => held.push(socket));
    const refused = await peer(() => undefined);
    await new Promise((resolve) => refused.server.close(resolve));
    owners[CLOSES] = { workerId: 'closes', address: closing.url };
    owners[HANGS] = { workerId: 'hangs', address: hanging.url };
    owners[REFUSED] = { workerId: 'gone', address: refused.url };
    worker = await buildApp({
      definition,
      directory: new StaticDirectory('here', owners),
      services: {} as AppServices,
      metrics: createWorkloadMetrics(),
      partitions: PARTITIONS,
      // A suspect owner stays suspect for one forward timeout, well past the second request's move wait.
      routing: { moveWaitMs: 300, forwardTimeoutMs: 1000 },
    });
  });
  beforeEach(() => {
    seenBefore = { closing: closing.seen(), hanging: hanging.seen() };
  });
  afterAll(async () => {
    await worker.close();
    for (const s of held) s.destroy();
    await Promise.all([closing, hanging].map((p) => new Promise((resolve) => p.server.close(resolve))));
  });

  const send = (method: 'GET' | 'POST', partition: number, headers: Record<string, string> = {}) =>
    worker.inject({ method, url: `/v1/echo/${keyOf(partition)}`, headers });

  it('sends a write without an Idempotency-Key once and answers 502 OUTCOME_UNKNOWN when the owner closed on it', async () => {
    const response = await send('POST', CLOSES);
    expect(response.statusCode).toBe(502);
    expect(response.json()).toMatchObject({ error: OUTCOME_UNKNOWN });
    expect(closing.seen() - seenBefore.closing).toBe(1);
  });

  it('sends a keyed write again, and still answers OUTCOME_UNKNOWN when no attempt was answered', async () => {
    const response = await send('POST', CLOSES, { 'idempotency-key': 'k-1' });
    expect(response.statusCode).toBe(502);
    expect(response.json()).toMatchObject({ error: OUTCOME_UNKNOWN });
    expect(closing.seen() - seenBefore.closing).toBeGreaterThan(1);
  });

  it('sends a read again and answers 503 PARTITION_MOVING: a read has no outcome to report', async () => {
    const response = await send('GET', CLOSES);
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({ error: 'PARTITION_MOVING' });
    expect(closing.seen() - seenBefore.closing).toBeGreaterThan(1);
  });

  it('answers 504 OUTCOME_UNKNOWN for a write the owner never answered, then sends nothing to that owner for a while', async () => {
    const first = await send('POST', HANGS);
    expect(first.statusCode).toBe(504);
    expect(first.json()).toMatchObject({ error: OUTCOME_UNKNOWN });
    const second = await send('POST', HANGS);
    expect(second.statusCode).toBe(503);
    expect(second.json()).toMatchObject({ error: 'PARTITION_MOVING' });
    expect(hanging.seen() - seenBefore.hanging).toBe(1);
  });

  it('retries a write whose connection was refused (nothing was sent) and answers 503 PARTITION_MOVING', async () => {
    const response = await send('POST', REFUSED);
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({ error: 'PARTITION_MOVING' });
  });
});
