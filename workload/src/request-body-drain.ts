import type { IncomingMessage } from 'node:http';

/**
 * How much of a refused request's unread body a worker reads and discards before it answers. Bounded in
 * bytes and time so that a client streaming without end cannot hold a worker; past either bound the answer
 * goes out anyway.
 */
export const BODY_DRAIN_MAX_BYTES = 8 * 1024 * 1024;
export const BODY_DRAIN_MAX_MS = 5_000;

/**
 * Reads and discards what is left of a request's body, up to the bounds above.
 *
 * Why: fastify refuses a body over its limit (or of a type it cannot parse) before reading it, and closes
 * the connection after its answer. Closing a socket that still holds unread data makes the kernel send a
 * reset, and a reset that reaches HAProxy while it is still sending the body loses the answer too: the
 * client sees its connection closed instead of a 413. Reading the body first (what nginx calls a
 * lingering close) lets the answer and the close arrive in order.
 */
export async function drainRequestBody(
  raw: IncomingMessage,
  bounds: { maxBytes?: number; maxMs?: number } = {},
): Promise<void> {
  if (raw.complete || raw.readableEnded || raw.destroyed) return;
  const maxBytes = bounds.maxBytes ?? BODY_DRAIN_MAX_BYTES;
  const maxMs = bounds.maxMs ?? BODY_DRAIN_MAX_MS;
  await new Promise<void>((resolve) => {
    let bytes = 0;
    const finish = () => {
      clearTimeout(timer);
      raw.off('data', onData);
      raw.off('end', finish);
      raw.off('error', finish);
      raw.off('close', finish);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > maxBytes) finish();
    };
    const timer = setTimeout(finish, maxMs);
    raw.on('data', onData);
    raw.once('end', finish);
    raw.once('error', finish);
    raw.once('close', finish);
    raw.resume();
  });
}
