/**
 * Writes the files generated from the DistributedApp schema source: the CRD and the API reference.
 * `node hack/manifests.ts` (make manifests) writes them; `--check` only compares and exits 1 when a
 * checked-in file differs from what the source generates.
 */
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { API_DOCS_PATH, renderApiDocs } from '../operator/src/api/api-docs.ts';
import { CRD_PATH, renderCrdYaml } from '../operator/src/api/crd.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outputs: [string, string][] = [
  [CRD_PATH, renderCrdYaml()],
  [API_DOCS_PATH, renderApiDocs()],
];

async function current(path: string): Promise<string | undefined> {
  try {
    return await readFile(join(root, path), 'utf8');
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function main(check: boolean): Promise<number> {
  let stale = 0;
  for (const [path, text] of outputs) {
    if ((await current(path)) === text) continue;
    if (check) {
      stale += 1;
      console.error(`${path} is out of date; run make manifests`);
      continue;
    }
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
    console.log(`wrote ${path}`);
  }
  return stale === 0 ? 0 : 1;
}

process.exitCode = await main(process.argv.includes('--check'));
