import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../../workload/src/main.ts', import.meta.url));

/** Runs the worker entry point with `env` (and nothing inherited) and collects how it ended. */
function runWorker(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [MAIN], { env, timeout: 20_000 }, (_error, _stdout, stderr) =>
      resolve({ code: child.exitCode, stderr }),
    );
  });
}

describe('worker process configuration', () => {
  it('stops at start with a message naming each bad variable', async () => {
    const { code, stderr } = await runWorker({
      CAPSTAN_APP_NAME: 'hello',
      CAPSTAN_ZOOKEEPER_CONNECT: '127.0.0.1:1',
      CAPSTAN_REDIS_URL: 'redis://127.0.0.1:1',
      CAPSTAN_UPSTREAM: 'http://127.0.0.1:1',
      CAPSTAN_PARTITIONS: 'lots',
      CAPSTAN_MOVE_WAIT_MS: '-5',
    });
    expect(code).toBe(2);
    const line = JSON.parse(stderr.trim().split('\n').at(-1)!) as {
      code: string;
      variables: string[];
      msg: string;
    };
    expect(line.code).toBe('CAPSTAN_CONFIG_INVALID');
    expect(line.variables).toEqual(['CAPSTAN_PARTITIONS', 'CAPSTAN_MOVE_WAIT_MS']);
    expect(line.msg).toContain('CAPSTAN_PARTITIONS: expected an integer from 1 to 4096, got "lots"');
  });
});
