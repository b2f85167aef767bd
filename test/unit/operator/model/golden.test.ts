import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { stringify } from 'yaml';
import type { DistributedApp } from '../../../../operator/src/api/schema.ts';
import { desiredState } from '../../../../operator/src/model/desired-state.ts';
import { externalApp, minimalApp, OBSERVED, productionApp } from './fixtures.ts';

const GOLDEN_DIR = join(import.meta.dirname, 'golden');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

/** The app's spec followed by every desired object, as one multi-document YAML text. */
function render(app: DistributedApp): string {
  const documents = [{ input: { metadata: app.metadata, spec: app.spec } }, ...desiredState(app, OBSERVED)];
  return documents
    .map((doc) => stringify(doc, { lineWidth: 0, aliasDuplicateObjects: false, singleQuote: true }))
    .join('---\n');
}

describe('golden files (UPDATE_GOLDEN=1 regenerates them)', () => {
  it.each([
    ['minimal', minimalApp],
    ['production', productionApp],
    ['external', externalApp],
  ])('%s app', (name, build) => {
    const path = join(GOLDEN_DIR, `${name}.yaml`);
    const actual = render(build());
    if (UPDATE) writeFileSync(path, actual);
    if (!existsSync(path)) throw new Error(`${path} is missing: run with UPDATE_GOLDEN=1 to create it`);
    expect(actual).toBe(readFileSync(path, 'utf8'));
  });
});
