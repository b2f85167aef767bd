import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { request } from 'undici';
import { LocalFleet } from '../../../workload/src/local-fleet.ts';
import { forwardsFrom } from '../../../workload/src/metrics.ts';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: { error?: string; message?: string };
}

describe('bad requests through HAProxy to a counters fleet (2 workers, real ZooKeeper, Redis, HAProxy)', () => {
  const fleet = new LocalFleet({
    name: 'bad',
    app: 'counters',
    workers: 2,
    partitions: 4,
    haproxy: { checkIntervalMs: 300 },
    workerEnv: { LOG_LEVEL: 'warn' },
  });

  beforeAll(async () => fleet.start(), 90_000);
  afterAll(async () => fleet.stop(), 60_000);

  async function send(
    method: 'GET' | 'POST',
    path: string,
    options: { contentType?: string; body?: string } = {},
  ): Promise<Answer> {
    const response = await request(`${fleet.url}${path}`, {
      method,
      headers: options.contentType ? { 'content-type': options.contentType } : {},
      ...(options.body !== undefined ? { body: options.body } : {}),
      headersTimeout: 10_000,
    });
    return {
      status: response.statusCode,
      headers: response.headers,
      body: (await response.body.json()) as Answer['body'],
    };
  }

  it('serves a good request', async () => {
    const answer = await send('POST', '/v1/counters/good/incr', {
      contentType: 'application/json',
      body: '{"by": 2}',
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ key: 'good', value: 2 });
  });

  /** Forwards made by all workers so far, from their metrics. */
  async function forwards(): Promise<number> {
    let total = 0;
    for (const worker of fleet.workers.values()) {
      const text = await (await fetch(`${worker.url}/metrics`)).text();
      for (const n of Object.values(forwardsFrom(text))) total += n;
    }
    return total;
  }

  it('rejects bad keys with 400 at the first worker, before any forward', async () => {
    const before = await forwards();
    for (let round = 0; round < 2; round++) {
      const cases: [string, string, string][] = [
        ['POST', '/v1/counters//incr', 'CAPSTAN_KEY_EMPTY'],
        ['GET', `/v1/counters/${'k'.repeat(2000)}`, 'CAPSTAN_KEY_TOO_LONG'],
        ['GET', '/v1/counters/a%0Ab', 'CAPSTAN_KEY_INVALID'],
        ['GET', '/v1/counters/%FF', 'CAPSTAN_PATH_INVALID'],
      ];
      for (const [method, path, code] of cases) {
        const answer = await send(method as 'GET' | 'POST', path);
        expect([path.slice(0, 40), answer.status, answer.body.error]).toEqual([path.slice(0, 40), 400, code]);
        expect(answer.headers['x-capstan-partition']).toBeUndefined();
        expect(answer.headers['x-capstan-served-by']).toBeUndefined();
      }
    }
    expect(await forwards()).toBe(before);
  });

  it('cuts a long key in the message', async () => {
    const key = 'k'.repeat(2000);
    const answer = await send('GET', `/v1/counters/${key}`);
    expect(answer.status).toBe(400);
    const message = answer.body.message ?? '';
    expect(message).toContain('2000 bytes');
    expect(message).toContain('truncated');
    expect(message).not.toContain('k'.repeat(65));
    expect(message.length).toBeLessThan(300);
  });

  it('answers an unknown route with 404 naming the method and the path', async () => {
    const answer = await send('GET', `/v1/nothing/${'p'.repeat(500)}`);
    expect(answer.status).toBe(404);
    expect(answer.body.error).toBe('CAPSTAN_ROUTE_NOT_FOUND');
    expect(answer.body.message).toContain('GET "/v1/nothing/');
    expect(answer.body.message).not.toContain('p'.repeat(65));
  });

  it('rejects bad bodies with stable codes', async () => {
    const incr = '/v1/counters/body/incr';
    const cases: [{ contentType?: string; body?: string }, number, string, RegExp][] = [
      [{ contentType: 'application/json', body: '{"by": ' }, 400, 'CAPSTAN_BODY_MALFORMED', /not valid JSON/],
      [{ contentType: 'application/xml', body: '<by>2</by>' }, 415, 'CAPSTAN_UNSUPPORTED_MEDIA_TYPE', /xml/],
      [{ contentType: 'application/json', body: '{"by": "two"}' }, 400, 'CAPSTAN_BAD_INCREMENT', /"by"/],
      [{ contentType: 'application/json', body: '{"by": 0.5}' }, 400, 'CAPSTAN_BAD_INCREMENT', /"by"/],
    ];
    for (const [options, status, code, message] of cases) {
      const answer = await send('POST', incr, options);
      expect([options.body, answer.status, answer.body.error]).toEqual([options.body, status, code]);
      expect(answer.body.message).toMatch(message);
    }
    const large = await send('POST', incr, {
      contentType: 'application/json',
      body: JSON.stringify({ by: 1, pad: 'x'.repeat(1_100_000) }),
    });
    expect([large.status, large.body.error]).toEqual([413, 'CAPSTAN_BODY_TOO_LARGE']);
    const value = await send('GET', '/v1/counters/body');
    expect(value.body).toMatchObject({ value: 0 });
  });
});
