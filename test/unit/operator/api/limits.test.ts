import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { APP_NAME_MAX_LENGTH, CAPSTAN_VERSION } from '../../../../operator/src/api/limits.ts';
import { MAX_APP_NAME_LENGTH, nameLimits } from '../../../../operator/src/model/names.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../../..');

describe('limits', () => {
  it('the worker image tag follows the package version', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    expect(CAPSTAN_VERSION).toBe(pkg.version);
  });

  it('the CRD name rule allows no name whose derived names break a Kubernetes limit', () => {
    expect(APP_NAME_MAX_LENGTH).toBeLessThanOrEqual(MAX_APP_NAME_LENGTH);
    const tooLong = nameLimits('a'.repeat(APP_NAME_MAX_LENGTH)).filter((l) => l.name.length > l.max);
    expect(tooLong).toEqual([]);
  });
});
