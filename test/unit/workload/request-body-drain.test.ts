import { describe, expect, it } from '@jest/globals';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { drainRequestBody } from '../../../workload/src/request-body-drain.ts';

/** A server that refuses every body unread, as fastify does over its limit, closing after its answer. */
async function refusingServer(drain: boolean) {
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const answer = () => {
      response.writeHead(413, { connection: 'close', 'content-type': 'text/plain' });
      response.end('too large');
    };
    if (drain) void drainRequestBody(request, { maxBytes: 64 * 1024 * 1024, maxMs: 20_000 }).then(answer);
    else answer();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/**
 * Sends headers and a 16 MiB body in pieces, the way a proxy streams it (more than the kernel's socket
 * buffers hold, so the write cannot finish before the server's close is seen), and reads the answer.
 * Returns what came back and the socket's error, once the socket closed.
 */
async function uploadThenRead(port: number): Promise<{ answer: string; error?: string }> {
  const size = 16 * 1024 * 1024;
  const socket = connect(port, '127.0.0.1');
  let answer = '';
  let error: string | undefined;
  socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
  socket.on('error', (failure: NodeJS.ErrnoException) => (error ??= failure.code ?? failure.message));
  return new Promise((resolve) => {
    socket.once('close', () => resolve(error === undefined ? { answer } : { answer, error }));
    const send = async (): Promise<void> => {
      socket.write(`POST /x HTTP/1.1\r\nhost: a\r\ncontent-length: ${size}\r\n\r\n`);
      const piece = Buffer.alloc(64 * 1024, 'x');
      for (let sent = 0; sent < size && !socket.destroyed; sent += piece.length) {
        if (!socket.write(piece)) await new Promise((r) => socket.once('drain', r));
        await new Promise((r) => setImmediate(r));
      }
    };
    socket.once('connect', () => void send());
  });
}

describe('drainRequestBody', () => {
  it('lets a refused upload read its answer and a clean close', async () => {
    const server = await refusingServer(true);
    try {
      const { port } = server.address() as AddressInfo;
      const result = await uploadThenRead(port);
      expect(result.error).toBeUndefined();
      expect(result.answer).toMatch(/^HTTP\/1.1 413 /);
      expect(result.answer).toContain('too large');
    } finally {
      server.close();
    }
  });

  it('is needed: without it the same upload is reset', async () => {
    const server = await refusingServer(false);
    try {
      const { port } = server.address() as AddressInfo;
      const result = await uploadThenRead(port);
      expect(result.error).toMatch(/ECONNRESET|EPIPE/);
    } finally {
      server.close();
    }
  });

  it('returns at once for a body already read and stops at its byte bound', async () => {
    const completeAfterDrain: boolean[] = [];
    const server = createServer((request, response) => {
      void drainRequestBody(request, { maxBytes: 256 * 1024, maxMs: 60_000 }).then(() => {
        completeAfterDrain.push(request.complete);
        response.writeHead(200, { connection: 'close' });
        response.end('done');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const small = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: 'abc' });
      expect(await small.text()).toBe('done');
      // 16 MiB declared, the bound is 256 KiB: the drain gives up long before the body could end.
      await uploadThenRead(port);
      expect(completeAfterDrain).toEqual([true, false]);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
