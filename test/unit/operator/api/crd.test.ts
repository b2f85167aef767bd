import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { API_DOCS_PATH, renderApiDocs } from '../../../../operator/src/api/api-docs.ts';
import { CRD_PATH, buildCrd, renderCrdYaml } from '../../../../operator/src/api/crd.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../../..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

type Json = { [key: string]: unknown };
const version = () => ((buildCrd().spec as Json).versions as Json[])[0]!;

describe('generated files', () => {
  it('the checked-in CRD is what the schema source generates (run make manifests)', () => {
    expect(read(CRD_PATH)).toBe(renderCrdYaml());
  });

  it('the checked-in API reference is what the schema source generates (run make manifests)', () => {
    expect(read(API_DOCS_PATH)).toBe(renderApiDocs());
  });

  it('the YAML parses back to the CRD object', () => {
    expect(parse(renderCrdYaml())).toEqual(buildCrd());
  });
});

describe('CRD', () => {
  it('has the names, short names and category', () => {
    const spec = buildCrd().spec as Json;
    expect(spec.group).toBe('capstan.dev');
    expect(spec.scope).toBe('Namespaced');
    expect(spec.names).toMatchObject({
      kind: 'DistributedApp',
      plural: 'distributedapps',
      shortNames: ['dapp', 'dapps'],
      categories: ['capstan'],
    });
  });

  it('serves one stored version with status and scale subresources', () => {
    expect(version()).toMatchObject({
      name: 'v1alpha1',
      served: true,
      storage: true,
      subresources: {
        status: {},
        scale: {
          specReplicasPath: '.spec.workers.replicas',
          statusReplicasPath: '.status.workers.current',
          labelSelectorPath: '.status.selector',
        },
      },
    });
  });

  it('prints ready workers, partitions and owned ones, phase and age', () => {
    const columns = (version().additionalPrinterColumns as Json[]).map((c) => c.name);
    expect(columns).toEqual(['Ready', 'Desired', 'Partitions', 'Owned', 'Phase', 'Age']);
  });

  it('the API reference documents every spec section', () => {
    const docs = renderApiDocs();
    for (const section of ['workers', 'cache.redis', 'coordination.zookeeper', 'loadBalancer.haproxy']) {
      expect(docs).toContain(`### spec.${section}\n`);
    }
    expect(docs).toContain('| `partitions` | integer (1..4096) | `64` |');
  });
});
