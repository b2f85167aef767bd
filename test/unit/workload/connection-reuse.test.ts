/**
 * Connection reuse between HAProxy and the workers and between workers: each side that reuses an idle
 * connection closes it before the side that accepted it does, the worker serves with that keep-alive,
 * and the forwarder keeps a bounded pool of connections per owner.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { FastifyInstance } from 'fastify';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  HAPROXY_POOL_PURGE_DELAY_MS,
  HAPROXY_SERVER_IDLE_MAX_MS,
} from '../../../common/src/haproxy-config.ts';
import { defineApp } from '../../../workload/src/define-app.ts';
import type { AppServices } from '../../../workload/src/define-app.ts';
import { FORWARD_KEEP_ALIVE_MS, FORWARD_PIPELINING, Forwarder } from '../../../workload/src/forwarder.ts';
import { createWorkloadMetrics } from '../../../workload/src/metrics.ts';
import { StaticDirectory } from '../../../workload/src/partition-directory.ts';
import { buildApp, WORKER_KEEP_ALIVE_TIMEOUT_MS } from '../../../workload/src/server.ts';

describe('keep-alive timeouts', () => {
  it("closes HAProxy's unused idle connections to a worker before the worker closes them", () => {
    expect(HAPROXY_SERVER_IDLE_MAX_MS).toBeGreaterThan(HAPROXY_POOL_PURGE_DELAY_MS);
    expect(WORKER_KEEP_ALIVE_TIMEOUT_MS).toBeGreaterThan(HAPROXY_SERVER_IDLE_MAX_MS);
  });

  it("closes the forwarder's idle connections to a peer before the peer closes them, without pipelining", () => {
    expect(FORWARD_KEEP_ALIVE_MS).toBeLessThan(WORKER_KEEP_ALIVE_TIMEOUT_MS);
    expect(FORWARD_PIPELINING).toBe(1);
  });

  it("serves with the worker's keepAliveTimeout", async () => {
    const app: FastifyInstance = await buildApp({
      definition: defineApp({
        name: 'echo',
        routes: [{ method: 'GET', url: '/v1/echo/:key', handler: async () => Promise.resolve({}) }],
      }),
      directory: new StaticDirectory('here', []),
      services: {} as AppServices,
      metrics: createWorkloadMetrics(),
      partitions: 1,
    });
    try {
      await app.ready();
      expect(app.server.keepAliveTimeout).toBe(WORKER_KEEP_ALIVE_TIMEOUT_MS);
    } finally {
      await app.close();
    }
  });
});

describe('forwarder connections to one owner', () => {
  let server: Server;
  let address: string;
  const sockets = new Set<unknown>();
  const held: ServerResponse[] = [];
  let onHeld: (() => void) | undefined;

  beforeAll(async () => {
    server = createServer((request: IncomingMessage, response: ServerResponse) => {
      sockets.add(request.socket);
      if (request.url === '/hold') {
        held.push(response);
        onHeld?.();
      } else response.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    address = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('reuses its connections for requests one after another', async () => {
    sockets.clear();
    const forwarder = new Forwarder({ workerId: 'w' });
    try {
      for (let i = 0; i < 20; i++) {
        const answer = await forwarder.forward(address, { method: 'GET', path: '/x', headers: {} });
        expect(answer.body.toString()).toBe('ok');
      }
      // undici's pool may open a second connection for the request that follows the first answer at
      // once (the first connection is not free again yet), then goes on with those two.
      expect(sockets.size).toBeLessThanOrEqual(2);
    } finally {
      await forwarder.close();
    }
  });

  it('opens no more than its connection limit, one request in flight on each', async () => {
    sockets.clear();
    const forwarder = new Forwarder({ workerId: 'w', connections: 2 });
    try {
      const bothHeld = new Promise<void>((resolve) => {
        onHeld = () => {
          if (held.length === 2) resolve();
        };
      });
      const answers = Array.from({ length: 5 }, async () =>
        forwarder.forward(address, { method: 'GET', path: '/hold', headers: {} }),
      );
      await bothHeld;
      // Two requests wait at the owner, one on each connection; the other three wait in the pool.
      expect(held).toHaveLength(2);
      expect(sockets.size).toBe(2);
      onHeld = () => held.shift()?.end('ok');
      for (const response of held.splice(0)) response.end('ok');
      expect((await Promise.all(answers)).map((a) => a.body.toString())).toEqual(Array(5).fill('ok'));
      expect(sockets.size).toBe(2);
    } finally {
      onHeld = undefined;
      await forwarder.close();
    }
  });
});
