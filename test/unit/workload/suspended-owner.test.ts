/**
 * A forwarded request that reaches its owner while the owner is suspended (a short ZooKeeper
 * disconnection) waits there for the reconnection instead of bouncing back with 421; past half the move
 * wait, or at a worker that is not the owner, it gets 421 as before.
 */
import { describe, expect, it } from '@jest/globals';
import { defineApp } from '../../../workload/src/define-app.ts';
import type { AppServices } from '../../../workload/src/define-app.ts';
import { HOP_HEADER } from '../../../workload/src/forwarder.ts';
import { createWorkloadMetrics } from '../../../workload/src/metrics.ts';
import type {
  CoordinationStatus,
  InFlightWork,
  PartitionDirectory,
} from '../../../workload/src/partition-directory.ts';
import { buildApp } from '../../../workload/src/server.ts';

/** Owns every partition; serves nothing while suspended. */
class SwitchableDirectory implements PartitionDirectory {
  readonly workerId = 'here';
  suspended = true;
  readonly owner: string;
  constructor(owner: string) {
    this.owner = owner;
  }
  begin(): InFlightWork | undefined {
    return this.suspended ? undefined : { epoch: 3, end: () => undefined };
  }
  ownerOf() {
    return { workerId: this.owner, address: 'http://127.0.0.1:1' };
  }
  status(): CoordinationStatus {
    return {
      state: this.suspended ? 'suspended' : 'connected',
      ready: true,
      suspended: this.suspended,
      owned: [],
    };
  }
}

async function forwardedTo(
  directory: SwitchableDirectory,
  reconnectAfterMs: number | undefined,
  moveWaitMs = 20_000,
) {
  const app = await buildApp({
    definition: defineApp({
      name: 'held',
      routes: [
        {
          method: 'GET',
          url: '/v1/things/:key',
          handler: async (_q, _r, ctx) => Promise.resolve({ epoch: ctx.epoch }),
        },
      ],
    }),
    directory,
    services: {} as AppServices,
    metrics: createWorkloadMetrics(),
    partitions: 4,
    routing: { moveWaitMs },
  });
  if (reconnectAfterMs !== undefined) setTimeout(() => (directory.suspended = false), reconnectAfterMs);
  const response = await app.inject({
    method: 'GET',
    url: '/v1/things/a',
    headers: { [HOP_HEADER]: 'there' },
  });
  await app.close();
  return response.statusCode;
}

describe('a forwarded request at a suspended owner', () => {
  it('waits for the reconnection and is served', async () => {
    expect(await forwardedTo(new SwitchableDirectory('here'), 200)).toBe(200);
  });

  it('gets 421 when the suspension outlasts half the move wait', async () => {
    expect(await forwardedTo(new SwitchableDirectory('here'), undefined, 400)).toBe(421);
  });

  it('gets 421 at a suspended worker that is not the owner', async () => {
    expect(await forwardedTo(new SwitchableDirectory('elsewhere'), 200)).toBe(421);
  });
});
