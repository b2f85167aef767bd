import { readFile, rename, writeFile } from 'node:fs/promises';
import type { Incarnation } from '../../common/src/partition-ownership.ts';

/**
 * Counts this start of the worker in its pod: reads the count the previous start left in `file`
 * (none: 0), stores one more and returns it with the pod's UID. The file lives on a volume that
 * survives container restarts but not the pod, so the count restarts with each new pod, whose UID
 * differs. Written through a rename, so a process killed mid-write leaves the old count, never half
 * of one.
 */
export async function nextIncarnation(podUid: string, file: string): Promise<Incarnation> {
  const previous = await readFile(file, 'utf8').then(
    (text) => Number.parseInt(text, 10),
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return 0;
      throw error;
    },
  );
  const count = (Number.isSafeInteger(previous) && previous > 0 ? previous : 0) + 1;
  await writeFile(`${file}.next`, `${count}\n`);
  await rename(`${file}.next`, file);
  return { pod: podUid, count };
}
