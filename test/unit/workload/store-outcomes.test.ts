/**
 * A fenced write that Redis did not answer may have been applied: the worker says OUTCOME_UNKNOWN
 * (504) for it, and 503 CAPSTAN_STORE_UNAVAILABLE (nothing applied) when the command was never sent.
 */
import { describe, expect, it } from '@jest/globals';
import { defineApp } from '../../../workload/src/define-app.ts';
import type { AppServices } from '../../../workload/src/define-app.ts';
import { StoreUnavailableError } from '../../../workload/src/fenced-store.ts';
import { createWorkloadMetrics } from '../../../workload/src/metrics.ts';
import { StaticDirectory } from '../../../workload/src/partition-directory.ts';
import { buildApp } from '../../../workload/src/server.ts';

/** ioredis's messages: a command that timed out after it was sent, and one refused while offline. */
const TIMED_OUT = 'Command timed out';
const NOT_SENT = "Stream isn't writeable and enableOfflineQueue options is false";

async function answerTo(error: StoreUnavailableError): Promise<{ status: number; code: string }> {
  const app = await buildApp({
    definition: defineApp({
      name: 'store',
      routes: [{ method: 'POST', url: '/v1/things/:key', handler: () => Promise.reject(error) }],
    }),
    directory: new StaticDirectory(
      'here',
      Array.from({ length: 4 }, () => ({ workerId: 'here', address: '' })),
    ),
    services: {} as AppServices,
    metrics: createWorkloadMetrics(),
    partitions: 4,
  });
  const response = await app.inject({ method: 'POST', url: '/v1/things/a' });
  await app.close();
  return { status: response.statusCode, code: response.json<{ error: string }>().error };
}

describe('store failures of writes', () => {
  it.each([
    ['a write that timed out', new StoreUnavailableError(new Error(TIMED_OUT), true), 504, 'OUTCOME_UNKNOWN'],
    [
      'a write never sent',
      new StoreUnavailableError(new Error(NOT_SENT), true),
      503,
      'CAPSTAN_STORE_UNAVAILABLE',
    ],
    [
      'a read that timed out',
      new StoreUnavailableError(new Error(TIMED_OUT)),
      503,
      'CAPSTAN_STORE_UNAVAILABLE',
    ],
  ])('%s', async (_name, error, status, code) => {
    expect(await answerTo(error)).toEqual({ status, code });
  });
});
