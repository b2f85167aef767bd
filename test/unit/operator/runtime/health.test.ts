import { describe, it, expect } from '@jest/globals';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { HealthChecks, buildHealthServer } from '../../../../operator/src/runtime/health.ts';
import { createLogger } from '../../../../operator/src/runtime/logger.ts';

describe('health server', () => {
  it('answers /healthz, /readyz and /metrics from registered checks and the given registry', async () => {
    const checks = new HealthChecks();
    let synced = false;
    checks.addHealthz('ping', () => true);
    checks.addReadyz('synced', () => synced);
    checks.addReadyz('throws-later', () => {
      if (!synced) throw new Error('not yet');
    });
    const app = buildHealthServer({ checks, registry: new Registry() });
    expect((await app.inject('/healthz')).body).toBe('ok');
    const notReady = await app.inject('/readyz');
    expect(notReady.statusCode).toBe(500);
    expect(notReady.body).toContain('[-]synced failed');
    expect(notReady.body).toContain('[-]throws-later failed: not yet');
    synced = true;
    expect((await app.inject('/readyz')).statusCode).toBe(200);
    expect((await app.inject('/readyz?verbose')).body).toContain('[+]synced ok');
    expect((await app.inject('/metrics')).statusCode).toBe(200);
    await app.close();
  });
});

describe('logger', () => {
  it('writes JSON lines and redacts credentials', () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const log = createLogger({ destination });
    log.info({ request: { authorization: 'Bearer secret-token' }, token: 'abc' }, 'hello');
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 'info', msg: 'hello', token: '[redacted]' });
    expect(lines[0]).not.toContain('secret-token');
  });
});
