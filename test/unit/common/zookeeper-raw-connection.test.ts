import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createRequire } from 'node:module';
import zookeeper from 'node-zookeeper-client';
import type { Client } from 'node-zookeeper-client';
import { abandonConnection, dropConnection } from '../../../common/src/zookeeper-raw-connection.ts';
import { waitUntil } from '../../../workload/src/local/probes.ts';
import { startSilentServer, type SilentServer } from '../../harness/silent-peers.ts';

const { STATES } = createRequire(import.meta.url)('node-zookeeper-client/lib/ConnectionManager.js') as {
  STATES: Record<string, number>;
};

const managerState = (raw: Client): number =>
  (raw as unknown as { connectionManager: { state: number } }).connectionManager.state;

const until = (what: string, check: () => boolean): Promise<void> =>
  waitUntil(() => Promise.resolve(check()), { what, timeoutMs: 5_000, intervalMs: 10 });

describe('the raw connection of node-zookeeper-client', () => {
  let server: SilentServer;
  let raw: Client;

  beforeEach(async () => {
    server = await startSilentServer();
    raw = zookeeper.createClient(server.address, {
      sessionTimeout: 10_000,
      spinDelay: 200,
      retries: 0,
    });
  });

  afterEach(async () => {
    abandonConnection(raw);
    await server.close();
  });

  it('is abandoned without close-session while its connect response is pending', async () => {
    raw.connect();
    await until('connect request received', () => (server.connections[0]?.bytes ?? 0) > 0);
    const sent = server.connections[0]!.bytes;
    abandonConnection(raw);
    await until('socket closed', () => server.connections[0]!.ended);
    expect(server.connections[0]!.bytes).toBe(sent);
    await until('library closed', () => managerState(raw) === STATES.CLOSED);
    expect(server.connections).toHaveLength(1);
  });

  it('closes a socket opened after it was abandoned before sending the connect request', async () => {
    raw.connect();
    // The library opens its socket on the next tick: abandoned before that, the attempt still runs.
    abandonConnection(raw);
    await until('attempt connected and closed', () => server.connections[0]?.ended ?? false);
    expect(server.connections[0]!.bytes).toBe(0);
    await until('library closed', () => managerState(raw) === STATES.CLOSED);
  });

  it('reconnects after its connection is dropped', async () => {
    raw.connect();
    await until('connected', () => server.connections.length === 1);
    dropConnection(raw);
    await until('reconnected', () => server.connections.length === 2 && server.connections[0]!.ended);
  });

  it('agrees with the library on the value of CLOSING', () => {
    expect(STATES.CLOSING).toBe(-1);
  });
});
