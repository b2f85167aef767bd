import { describe, expect, it } from '@jest/globals';
import { createServer } from 'node:net';
import { freePort, freePorts, LOOPBACK } from '../../../../workload/src/local/ports.ts';

describe('freePort', () => {
  it('never hands out a port twice in one process, however often the kernel offers it again', async () => {
    const ports = [...(await freePorts(20))];
    for (let i = 0; i < 300; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(ports.length);
  });

  it('hands out ports that can be bound on loopback', async () => {
    const port = await freePort();
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: LOOPBACK, port, exclusive: true }, resolve);
    });
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});
