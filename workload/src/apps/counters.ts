import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyRequest } from 'fastify';
import { defineApp } from '../define-app.ts';
import type { AppDefinition } from '../define-app.ts';
import { RequestError, RequestErrorCodes, previewValue } from '../request-errors.ts';

/** Options of {@link countersApp}. */
export interface CountersOptions {
  /**
   * Testing aid (default 0, off): a request with the header `x-capstan-test-delay: 1` waits this long
   * between taking its partition epoch and writing, so tests can pause an owner in mid-write.
   */
  writeDelayMs?: number;
}

/**
 * The `counters` example app: fenced increments.
 *
 * - `POST /v1/counters/:key/incr` (optional JSON body `{"by": n}`, optional `Idempotency-Key` header):
 *   the increment is applied by a Lua compare-and-write carrying the partition epoch and acknowledged
 *   (200 with the new value) only after Redis stored it. A stale owner's write gets 409; Redis down 503.
 *   A retried request with the same `Idempotency-Key` is applied once (`duplicate: true`).
 * - `GET /v1/counters/:key`: the current value (0 when never incremented).
 *
 * On claiming a partition the owner fences it in Redis first, so a paused old owner cannot write.
 */
export function countersApp(options: CountersOptions = {}): AppDefinition {
  const delay = options.writeDelayMs ?? 0;
  return defineApp({
    name: 'counters',
    routes: [
      {
        method: 'POST',
        url: '/v1/counters/:key/incr',
        handler: async (request, _reply, ctx) => {
          if (delay > 0 && request.headers['x-capstan-test-delay'] === '1') await sleep(delay);
          const write = {
            partition: ctx.partition,
            epoch: ctx.epoch,
            key: ctx.key,
            requestId: requestId(request),
          };
          const result = await ctx.services.store.increment(write, incrementOf(request));
          return { key: ctx.key, value: Number(result.value), duplicate: result.duplicate };
        },
      },
      {
        method: 'GET',
        url: '/v1/counters/:key',
        handler: async (_request, _reply, ctx) => ({
          key: ctx.key,
          value: Number((await ctx.services.store.get(ctx.key)) ?? 0),
        }),
      },
    ],
    onPartitionAssigned: async ({ partition, epoch, services }) => services.store.fence(partition, epoch),
  });
}

function requestId(request: FastifyRequest): string | undefined {
  const header = request.headers['idempotency-key'];
  return typeof header === 'string' && header !== '' ? header.slice(0, 200) : undefined;
}

function incrementOf(request: FastifyRequest): number {
  const body: unknown = request.body;
  if (body === undefined || body === '') return 1;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new RequestError(
      400,
      RequestErrorCodes.BAD_INCREMENT,
      'the body must be a JSON object such as {"by": 2} (or no body, to add 1)',
    );
  }
  const by = (body as { by?: unknown }).by;
  if (by === undefined) return 1;
  if (typeof by !== 'number' || !Number.isSafeInteger(by)) {
    throw new RequestError(
      400,
      RequestErrorCodes.BAD_INCREMENT,
      `body field "by" must be an integer from -${Number.MAX_SAFE_INTEGER} to ${Number.MAX_SAFE_INTEGER}, got ${previewValue(by)}`,
    );
  }
  return by;
}
