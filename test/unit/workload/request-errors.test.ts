import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { cacheGatewayApp } from '../../../workload/src/apps/cache-gateway.ts';
import { countersApp } from '../../../workload/src/apps/counters.ts';
import { MAX_KEY_BYTES, checkKey, defineApp } from '../../../workload/src/define-app.ts';
import type { AppDefinition, AppServices } from '../../../workload/src/define-app.ts';
import { createWorkloadMetrics } from '../../../workload/src/metrics.ts';
import { StaticDirectory } from '../../../workload/src/partition-directory.ts';
import type { PartitionOwnerAddress } from '../../../workload/src/partition-directory.ts';
import { PREVIEW_CHARS, RequestError, preview, previewValue } from '../../../workload/src/request-errors.ts';
import { buildApp } from '../../../workload/src/server.ts';

const PARTITIONS = 4;

/** A long run of one character: no message may quote more than a preview of it. */
const LONG = 'x'.repeat(3000);
const TOO_MUCH = 'x'.repeat(PREVIEW_CHARS + 1);

/** What `fn` throws, as a RequestError. */
function thrown(fn: () => unknown): RequestError {
  try {
    fn();
  } catch (error) {
    if (error instanceof RequestError) return error;
    throw error;
  }
  throw new Error('nothing thrown');
}

describe('checkKey', () => {
  it.each([
    ['a'],
    ['user:42'],
    ['a/b c?d'],
    ['ключ-🔑'],
    ['x'.repeat(MAX_KEY_BYTES)],
    ['é'.repeat(MAX_KEY_BYTES / 2)],
  ])('accepts %j', (key) => {
    expect(checkKey(key)).toBe(key);
  });

  it('rejects an empty key', () => {
    const error = thrown(() => checkKey(''));
    expect(error).toMatchObject({ statusCode: 400, code: 'CAPSTAN_KEY_EMPTY' });
    expect(error.message).toMatch(/empty/);
  });

  it.each([
    ['x'.repeat(MAX_KEY_BYTES + 1), MAX_KEY_BYTES + 1],
    ['é'.repeat(MAX_KEY_BYTES / 2 + 1), MAX_KEY_BYTES + 2],
    [LONG, LONG.length],
  ])('rejects a key over %#: %s bytes of UTF-8, quoting only a prefix', (key, bytes) => {
    const error = thrown(() => checkKey(key));
    expect(error).toMatchObject({ statusCode: 400, code: 'CAPSTAN_KEY_TOO_LONG' });
    expect(error.message).toContain(`${bytes} bytes`);
    expect(error.message).toContain(String(MAX_KEY_BYTES));
    expect(error.message).toContain('truncated');
    expect(error.message).not.toContain(key.slice(0, PREVIEW_CHARS + 1));
    expect(error.message.length).toBeLessThan(300);
  });

  it.each([
    ['a\nb', 'U+000A'],
    ['\u0000', 'U+0000'],
    ['tab\there', 'U+0009'],
    ['del\u007f', 'U+007F'],
    ['c1\u0085', 'U+0085'],
    ['lone\ud800', 'U+D800'],
  ])('rejects the malformed key %j', (key, code) => {
    const error = thrown(() => checkKey(key));
    expect(error).toMatchObject({ statusCode: 400, code: 'CAPSTAN_KEY_INVALID' });
    expect(error.message).toContain(code);
    // The key is quoted with its control characters escaped.
    expect(error.message).not.toMatch(/\p{Cc}/u);
  });
});

describe('preview', () => {
  it('quotes short input whole and cuts long input with a marker', () => {
    expect(preview('abc')).toBe('"abc"');
    expect(preview('a\nb')).toBe('"a\\nb"');
    const long = preview(LONG);
    expect(long).toContain(`"${'x'.repeat(PREVIEW_CHARS)}"`);
    expect(long).not.toContain(TOO_MUCH);
    expect(long).toContain(`truncated, ${LONG.length} characters`);
    // A surrogate pair is never split.
    expect(preview(`${'a'.repeat(PREVIEW_CHARS - 1)}🔑🔑`)).not.toContain('\\ud83d');
    expect(previewValue([1, 2])).toBe('[1,2]');
    expect(previewValue(Array.from({ length: 100 }, () => 1))).toContain('truncated');
  });
});

/** Builds a worker app around `definition` with every partition owned by `owners`' entries. */
async function worker(
  definition: AppDefinition,
  options: {
    services?: Partial<AppServices>;
    owners?: (PartitionOwnerAddress | undefined)[];
    log?: string[];
  } = {},
): Promise<FastifyInstance> {
  const lines = options.log;
  const logger = lines
    ? pino(
        { level: 'debug' },
        new Writable({
          write(chunk: Buffer, _encoding, done) {
            lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
            done();
          },
        }),
      )
    : undefined;
  return buildApp({
    definition,
    directory: new StaticDirectory(
      'a',
      options.owners ?? Array.from({ length: PARTITIONS }, () => undefined),
    ),
    services: (options.services ?? {}) as AppServices,
    metrics: createWorkloadMetrics(),
    partitions: PARTITIONS,
    routing: { moveWaitMs: 100, forwardTimeoutMs: 1000 },
    ...(logger ? { logger } : {}),
  });
}

/** Every partition owned by the worker under test. */
const ownedHere = (): PartitionOwnerAddress[] =>
  Array.from({ length: PARTITIONS }, () => ({ workerId: 'a', address: 'http://127.0.0.1:1' }));

describe('client mistakes on a defineApp app', () => {
  const definition = defineApp({
    name: 'things',
    routes: [
      {
        method: 'GET',
        url: '/v1/things/:key',
        handler: async (_request, _reply, ctx) => Promise.resolve({ key: ctx.key }),
      },
      {
        method: 'PUT',
        url: '/v1/things/:key',
        schema: {
          body: {
            type: 'object',
            required: ['size'],
            properties: { size: { type: 'integer' }, tags: { type: 'array', items: { type: 'string' } } },
          },
        },
        handler: async (request, _reply, ctx) => Promise.resolve({ key: ctx.key, body: request.body }),
      },
      {
        method: 'GET',
        url: '/v1/broken/:key',
        handler: async () => Promise.reject(new Error('secret detail of a server fault')),
      },
    ],
  });
  let app: FastifyInstance;
  const log: string[] = [];

  beforeAll(async () => {
    app = await worker(definition, { owners: ownedHere(), log });
  });
  afterAll(async () => app.close());

  it('serves a good key', async () => {
    const response = await app.inject({ url: `/v1/things/${encodeURIComponent('a/é b')}` });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ key: 'a/é b' });
    const longest = await app.inject({ url: `/v1/things/${'é'.repeat(MAX_KEY_BYTES / 2)}` });
    expect(longest.statusCode).toBe(200);
  });

  it.each([
    ['an empty key', '/v1/things/', 'CAPSTAN_KEY_EMPTY'],
    ['an oversized key', `/v1/things/${LONG}`, 'CAPSTAN_KEY_TOO_LONG'],
    ['an oversized percent-encoded key', `/v1/things/${'%C3%A9'.repeat(300)}`, 'CAPSTAN_KEY_TOO_LONG'],
    ['a key with a newline', '/v1/things/a%0Ab', 'CAPSTAN_KEY_INVALID'],
    ['a key with NUL', '/v1/things/%00', 'CAPSTAN_KEY_INVALID'],
    ['a path that is not UTF-8', '/v1/things/%FF', 'CAPSTAN_PATH_INVALID'],
    ['a bad percent-escape', '/v1/things/%zz', 'CAPSTAN_PATH_INVALID'],
  ])('answers %s with 400', async (_what, url, code) => {
    const response = await app.inject({ url });
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toMatch(/application\/json/);
    const body = response.json<{ error: string; message: string }>();
    expect(Object.keys(body).sort()).toEqual(['error', 'message']);
    expect(body.error).toBe(code);
    expect(body.message).not.toContain(TOO_MUCH);
    // Rejected before any partition is looked at.
    expect(response.headers['x-capstan-partition']).toBeUndefined();
  });

  it('answers an unknown route with 404 naming the method and the path, cut', async () => {
    const short = await app.inject({ method: 'DELETE', url: '/v1/things/k?x=1' });
    expect(short.statusCode).toBe(404);
    expect(short.json()).toEqual({
      error: 'CAPSTAN_ROUTE_NOT_FOUND',
      message: expect.stringContaining('DELETE "/v1/things/k"'),
    });
    expect(short.json<{ message: string }>().message).toContain('GET /v1/things/:key');
    const long = await app.inject({ url: `/v2/${LONG}` });
    expect(long.statusCode).toBe(404);
    const { error, message } = long.json<{ error: string; message: string }>();
    expect(error).toBe('CAPSTAN_ROUTE_NOT_FOUND');
    expect(message).toContain('GET "/v2/');
    expect(message).toContain('truncated');
    expect(message).not.toContain(TOO_MUCH);
  });

  it.each([
    ['malformed JSON', { 'content-type': 'application/json' }, '{"size": ', 400, 'CAPSTAN_BODY_MALFORMED'],
    ['an empty JSON body', { 'content-type': 'application/json' }, '', 400, 'CAPSTAN_BODY_MALFORMED'],
    [
      'a wrong content type',
      { 'content-type': 'application/xml' },
      '<size/>',
      415,
      'CAPSTAN_UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'a body over the limit',
      { 'content-type': 'application/json' },
      JSON.stringify({ size: 1, tags: [LONG.repeat(400)] }),
      413,
      'CAPSTAN_BODY_TOO_LARGE',
    ],
  ])('answers %s with a stable code', async (_what, headers, payload, status, code) => {
    const response = await app.inject({ method: 'PUT', url: '/v1/things/k', headers, payload });
    expect(response.statusCode).toBe(status);
    const body = response.json<{ error: string; message: string }>();
    expect(body.error).toBe(code);
    expect(body.message).not.toMatch(/FST_ERR/);
    expect(body.message).not.toContain(TOO_MUCH);
  });

  it('names the field of a schema validation failure', async () => {
    const missing = await app.inject({ method: 'PUT', url: '/v1/things/k', payload: {} });
    expect(missing.statusCode).toBe(400);
    expect(missing.json()).toEqual({
      error: 'CAPSTAN_VALIDATION_FAILED',
      message: '"body/size" is required',
    });
    const wrong = await app.inject({ method: 'PUT', url: '/v1/things/k', payload: { size: 'big' } });
    expect(wrong.json()).toEqual({
      error: 'CAPSTAN_VALIDATION_FAILED',
      message: '"body/size" must be integer',
    });
    const nested = await app.inject({
      method: 'PUT',
      url: '/v1/things/k',
      payload: { size: 1, tags: [1, {}] },
    });
    expect(nested.json()).toMatchObject({
      error: 'CAPSTAN_VALIDATION_FAILED',
      message: '"body/tags/1" must be string',
    });
    const ok = await app.inject({ method: 'PUT', url: '/v1/things/k', payload: { size: 2 } });
    expect(ok.statusCode).toBe(200);
  });

  it('keeps a real server fault a 500 without details', async () => {
    const response = await app.inject({ url: '/v1/broken/k' });
    expect(response.statusCode).toBe(500);
    expect(response.json()).toEqual({ error: 'INTERNAL', message: 'internal error' });
  });

  it('writes no log line that carries a whole oversized input', () => {
    expect(log.length).toBeGreaterThan(0);
    for (const line of log) expect(line).not.toContain('x'.repeat(300));
    expect(log.some((line) => line.includes('truncated'))).toBe(true);
  });
});

describe('a bad key is rejected before any forward', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    const definition = defineApp({
      name: 'elsewhere',
      routes: [{ method: 'GET', url: '/v1/e/:key', handler: async () => Promise.resolve({}) }],
    });
    // Every partition belongs to another worker (at an address nothing listens on).
    const owners = Array.from({ length: PARTITIONS }, () => ({
      workerId: 'b',
      address: 'http://127.0.0.1:1',
    }));
    app = await worker(definition, { owners });
  });
  afterAll(async () => app.close());

  it('answers 400 without forwarding', async () => {
    for (const url of ['/v1/e/', `/v1/e/${LONG}`, '/v1/e/a%07']) {
      const response = await app.inject({ url });
      expect(response.statusCode).toBe(400);
    }
    const metrics = (await app.inject({ url: '/metrics' })).body;
    expect(metrics).not.toMatch(/capstan_worker_forwards_total\{[^}]*\} [1-9]/);
  });
});

describe('client mistakes on the example apps', () => {
  describe('counters', () => {
    let app: FastifyInstance;
    const increments: number[] = [];
    beforeAll(async () => {
      const store = {
        increment: async (_write: unknown, by: number) => {
          increments.push(by);
          return Promise.resolve({ value: String(by), duplicate: false });
        },
        get: async () => Promise.resolve(null),
      };
      app = await worker(countersApp(), {
        owners: ownedHere(),
        services: { store: store as unknown as AppServices['store'] },
      });
    });
    afterAll(async () => app.close());

    it('increments with a good body or none', async () => {
      const none = await app.inject({ method: 'POST', url: '/v1/counters/k/incr' });
      expect(none.json()).toMatchObject({ value: 1 });
      const by = await app.inject({ method: 'POST', url: '/v1/counters/k/incr', payload: { by: -3 } });
      expect(by.json()).toMatchObject({ value: -3 });
    });

    it.each([
      [{ by: 'two' }, /"by".*got "two"/],
      [{ by: 1.5 }, /"by".*got 1\.5/],
      [{ by: null }, /"by".*got null/],
      [{ by: 2 ** 60 }, /"by" must be an integer/],
      [[1], /JSON object/],
    ])('rejects the body %j with 400 CAPSTAN_BAD_INCREMENT naming the field', async (payload, message) => {
      const before = increments.length;
      const response = await app.inject({ method: 'POST', url: '/v1/counters/k/incr', payload });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toEqual({
        error: 'CAPSTAN_BAD_INCREMENT',
        message: expect.stringMatching(message),
      });
      expect(increments.length).toBe(before);
    });

    it('rejects a text body and quotes only a prefix of a long "by"', async () => {
      const text = await app.inject({
        method: 'POST',
        url: '/v1/counters/k/incr',
        headers: { 'content-type': 'text/plain' },
        payload: '5',
      });
      expect(text.statusCode).toBe(400);
      expect(text.json()).toMatchObject({ error: 'CAPSTAN_BAD_INCREMENT' });
      const long = await app.inject({ method: 'POST', url: '/v1/counters/k/incr', payload: { by: LONG } });
      expect(long.json<{ message: string }>().message).not.toContain(TOO_MUCH);
    });

    it.each([
      ['POST', '/v1/counters//incr', 400, 'CAPSTAN_KEY_EMPTY'],
      ['GET', `/v1/counters/${LONG}`, 400, 'CAPSTAN_KEY_TOO_LONG'],
      ['GET', '/v1/counters/a%1Bb', 400, 'CAPSTAN_KEY_INVALID'],
      ['GET', '/v1/counters', 404, 'CAPSTAN_ROUTE_NOT_FOUND'],
      ['PUT', '/v1/counters/k/incr', 404, 'CAPSTAN_ROUTE_NOT_FOUND'],
    ] as const)('answers %s %s with %i %s', async (method, url, status, code) => {
      const response = await app.inject({ method, url });
      expect(response.statusCode).toBe(status);
      expect(response.json()).toMatchObject({ error: code });
    });

    it('answers a malformed JSON body with 400', async () => {
      const response = await app.inject({
        method: 'POST',
        url: '/v1/counters/k/incr',
        headers: { 'content-type': 'application/json' },
        payload: '{"by": 1',
      });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ error: 'CAPSTAN_BODY_MALFORMED' });
    });
  });

  describe('cache-gateway', () => {
    const definition = cacheGatewayApp({ upstream: 'http://127.0.0.1:1', ttlSeconds: 1 });
    let app: FastifyInstance;
    beforeAll(async () => {
      app = await worker(definition, { owners: ownedHere() });
    });
    afterAll(async () => {
      await app.close();
      await definition.onClose?.();
    });

    it.each([
      ['/v1/cache/', 400, 'CAPSTAN_KEY_EMPTY'],
      [`/v1/cache/${LONG}`, 400, 'CAPSTAN_KEY_TOO_LONG'],
      ['/v1/cache/a%0D%0Ab', 400, 'CAPSTAN_KEY_INVALID'],
      ['/v1/cache/%E0%A4%A', 400, 'CAPSTAN_PATH_INVALID'],
      ['/v1/cache', 404, 'CAPSTAN_ROUTE_NOT_FOUND'],
      ['/v1/cache/a/b', 404, 'CAPSTAN_ROUTE_NOT_FOUND'],
    ])('answers GET %s with %i %s', async (url, status, code) => {
      const response = await app.inject({ url });
      expect(response.statusCode).toBe(status);
      const body = response.json<{ error: string; message: string }>();
      expect(body.error).toBe(code);
      expect(body.message).not.toContain(TOO_MUCH);
    });
  });
});
