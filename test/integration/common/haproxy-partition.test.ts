/**
 * HAProxy computes the same partition as the workers: a real HAProxy answers each request with the
 * value of {@link haproxyPartitionSample} for its path, compared with {@link partitionOf} on random keys
 * (ASCII, Unicode, spaces, `+`, `/` and `%` percent-encoded as clients send them).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { haproxyPartitionSample, partitionOf } from '../../../common/src/partition.ts';
import {
  canConnect,
  findBinary,
  freePort,
  makeTempDir,
  removeDir,
  spawnManaged,
  waitUntil,
  type ManagedProcess,
} from '../../../workload/src/local/index.ts';

const PARTITIONS = 64;
const KEYS = 500;
const ALPHABET = [...'abcXYZ019-_.~:@ +/%?#', 'é', 'ключ', '鍵', '🙂'];

/** A deterministic pseudo-random key (so a failure can be reproduced). */
function keyAt(i: number): string {
  let x = i * 2654435761 + 1;
  let key = '';
  for (let n = 1 + (i % 12); n > 0; n--) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    key += ALPHABET[x % ALPHABET.length];
  }
  return key;
}

describe('the partition HAProxy computes', () => {
  let dir: string;
  let haproxy: ManagedProcess;
  let port: number;

  beforeAll(async () => {
    dir = await makeTempDir('haproxy-partition');
    port = await freePort();
    const config = [
      'defaults',
      '  mode http',
      '  timeout connect 1s',
      '  timeout client 10s',
      '  timeout server 10s',
      'frontend partition',
      `  bind 127.0.0.1:${port}`,
      `  http-request return status 200 content-type text/plain lf-string "%[${haproxyPartitionSample(PARTITIONS, 3)}]"`,
      '',
    ].join('\n');
    const file = join(dir, 'haproxy.cfg');
    await writeFile(file, config);
    haproxy = spawnManaged({
      name: 'haproxy',
      command: findBinary('haproxy', 'haproxy'),
      args: ['-db', '-f', file],
      dir,
    });
    await waitUntil(() => canConnect('127.0.0.1', port), { what: 'HAProxy listening', timeoutMs: 10_000 });
  });

  afterAll(async () => {
    await haproxy?.stop();
    await removeDir(dir);
  });

  it('equals partitionOf for random keys, percent-encoded in the path', async () => {
    const mismatches: { key: string; haproxy: number; workers: number }[] = [];
    for (let i = 0; i < KEYS; i++) {
      const key = keyAt(i);
      // URL clients resolve the path segments `.` and `..` (also written %2E): no path can carry them.
      if (key === '.' || key === '..') continue;
      const response = await request(`http://127.0.0.1:${port}/v1/cache/${encodeURIComponent(key)}`);
      const computed = Number(await response.body.text());
      if (computed !== partitionOf(key, PARTITIONS))
        mismatches.push({ key, haproxy: computed, workers: partitionOf(key, PARTITIONS) });
    }
    expect(mismatches).toEqual([]);
  });

  it('reads the key segment of a longer path (counters: /v1/counters/<key>/incr)', async () => {
    const response = await request(
      `http://127.0.0.1:${port}/v1/counters/${encodeURIComponent('a b/c')}/incr`,
    );
    expect(Number(await response.body.text())).toBe(partitionOf('a b/c', PARTITIONS));
  });
});
