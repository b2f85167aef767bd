/**
 * Writes `config/rbac/role.yaml` from the rules in `rules.ts` (`node operator/src/rbac/generate.ts`), or
 * with `--check` exits 1 when the file is out of date.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { rbacManifests } from './manifests.ts';

/** Path of the generated file. */
export const ROLE_YAML = join(
  resolve(dirname(fileURLToPath(import.meta.url)), '../../..'),
  'config/rbac/role.yaml',
);

/** The text of `config/rbac/role.yaml`. */
export function roleYaml(): string {
  const header =
    '# Generated from operator/src/rbac/rules.ts by `node operator/src/rbac/generate.ts`. Do not edit.\n';
  return (
    header +
    rbacManifests()
      .map((doc) => `---\n${stringify(doc, { singleQuote: true })}`)
      .join('')
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = roleYaml();
  if (process.argv.includes('--check')) {
    const current = existsSync(ROLE_YAML) ? readFileSync(ROLE_YAML, 'utf8') : '';
    if (current !== text) {
      process.stderr.write(`${ROLE_YAML} is out of date: run node operator/src/rbac/generate.ts\n`);
      process.exitCode = 1;
    }
  } else {
    mkdirSync(dirname(ROLE_YAML), { recursive: true });
    writeFileSync(ROLE_YAML, text);
  }
}
