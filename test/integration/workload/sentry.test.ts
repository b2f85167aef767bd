import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { waitUntil } from '../../../workload/src/local/index.ts';
import { LocalFleet } from '../../../workload/src/local-fleet.ts';

/** A local stand-in for Sentry's ingestion endpoint: records every envelope posted to it. */
async function startFakeSentry(): Promise<{ server: Server; port: number; envelopes: string[] }> {
  const envelopes: string[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = request.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
      if (request.url?.includes('/envelope/')) envelopes.push(body.toString('utf8'));
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, envelopes };
}

describe('Sentry reporting of a custom app built with defineApp', () => {
  let sentry: Awaited<ReturnType<typeof startFakeSentry>>;
  let fleet: LocalFleet;

  beforeAll(async () => {
    sentry = await startFakeSentry();
    fleet = new LocalFleet({
      name: 'boom',
      app: 'throwing',
      appModule: fileURLToPath(new URL('./fixtures/throwing-app.ts', import.meta.url)),
      workers: 1,
      partitions: 4,
      workerEnv: {
        LOG_LEVEL: 'fatal',
        SENTRY_DSN: `http://public@127.0.0.1:${sentry.port}/1`,
        SENTRY_ENVIRONMENT: 'test',
      },
    });
    await fleet.start();
  }, 90_000);
  afterAll(async () => {
    await fleet.stop();
    sentry.server.close();
  }, 60_000);

  it('sends a handler error to the Sentry endpoint as an envelope', async () => {
    const response = await fetch(`${fleet.url}/v1/boom/some-key`);
    expect(response.status).toBe(500);
    await waitUntil(
      async () => Promise.resolve(sentry.envelopes.some((e) => e.includes('boom for some-key'))),
      {
        what: 'an envelope with the error reaches the fake Sentry',
        timeoutMs: 15_000,
      },
    );
    const envelope = sentry.envelopes.find((e) => e.includes('boom for some-key'))!;
    expect(envelope).toContain('"environment":"test"');
    expect(envelope).toContain('"type":"event"');
  });
});
