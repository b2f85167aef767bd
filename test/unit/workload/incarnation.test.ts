import { describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nextIncarnation } from '../../../workload/src/incarnation.ts';

describe('nextIncarnation', () => {
  it('counts each start in the pod from 1, keeping the count in the file', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'capstan-incarnation-')), 'incarnation');
    expect(await nextIncarnation('uid-a', file)).toEqual({ pod: 'uid-a', count: 1 });
    expect(await nextIncarnation('uid-a', file)).toEqual({ pod: 'uid-a', count: 2 });
    expect((await readFile(file, 'utf8')).trim()).toBe('2');
  });

  it('starts again from 1 when the file holds no count', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'capstan-incarnation-')), 'incarnation');
    await writeFile(file, 'garbage');
    expect(await nextIncarnation('uid-b', file)).toEqual({ pod: 'uid-b', count: 1 });
  });
});
