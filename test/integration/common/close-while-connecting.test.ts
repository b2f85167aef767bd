import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  makeTempDir,
  removeDir,
  spawnManaged,
  startZooKeeper,
  waitUntil,
} from '../../../workload/src/local/index.ts';
import type { ZooKeeperService } from '../../../workload/src/local/index.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/close-while-connecting.ts', import.meta.url));

// The first connection attempt reaches a paused server (the kernel accepts it; the server answers once it
// continues), so connect() times out and closes the client while that attempt is still pending. The late
// answer used to be read as the reply to the close request and throw from a socket callback.
describe('closing a client whose first connection attempt is pending', () => {
  let zk: ZooKeeperService;
  let dir: string;

  beforeAll(async () => {
    [zk, dir] = await Promise.all([startZooKeeper(), makeTempDir('close-while-connecting')]);
  }, 60_000);

  afterAll(async () => {
    await zk?.stop();
    await removeDir(dir);
  });

  it('survives the server answering late and connects once the server resumes', async () => {
    const server = zk.members[0]!;
    server.pause();
    const child = spawnManaged({
      name: 'client',
      command: process.execPath,
      args: [FIXTURE, zk.connectString],
      dir,
    });
    const log = (): Promise<string> => readFile(child.logFile, 'utf8').catch(() => '');
    try {
      await waitUntil(async () => (await log()).includes('first connect:'), {
        what: 'the first connect given up',
        timeoutMs: 20_000,
        intervalMs: 25,
        abortReason: () => child.describeExit(),
      });
      server.resume();
      // The process ends by itself only when the abandoned client holds no socket any more.
      await waitUntil(() => Promise.resolve(child.exitInfo !== undefined), {
        what: 'the client process exited',
        timeoutMs: 30_000,
        intervalMs: 25,
        details: () => child.logTail(),
      });
    } finally {
      server.resume();
      await child.stop();
    }
    expect({ exit: child.exitInfo, log: await log() }).toEqual({
      exit: { code: 0, signal: null },
      log: 'first connect: TIMEOUT\nsecond connect: root exists true\nclosed\n',
    });
  }, 60_000);
});
