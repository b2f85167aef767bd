import { describe, expect, it } from '@jest/globals';
import { DistributedApp } from '../../../../operator/src/api/schema.ts';
import { toStructural } from '../../../../operator/src/api/structural.ts';
import type { JsonSchema } from '../../../../operator/src/api/structural.ts';

interface Node {
  path: string;
  schema: JsonSchema;
  optional: boolean;
}

/** Every schema node of the CRD with its path, depth first. */
function walk(schema: JsonSchema, path = '', optional = false): Node[] {
  const nodes: Node[] = [{ path, schema, optional }];
  const required = (schema.required ?? []) as string[];
  for (const [key, child] of Object.entries((schema.properties ?? {}) as Record<string, JsonSchema>)) {
    nodes.push(...walk(child, `${path}.${key}`, !required.includes(key)));
  }
  if (schema.items) nodes.push(...walk(schema.items as JsonSchema, `${path}[]`));
  if (typeof schema.additionalProperties === 'object') {
    nodes.push(...walk(schema.additionalProperties as JsonSchema, `${path}{}`));
  }
  return nodes;
}

const root = toStructural(DistributedApp);
const nodes = walk(root);
const specNodes = nodes.filter((n) => n.path.startsWith('.spec.'));

/** Optional spec fields whose absence means something, so they have no default. */
const OPTIONAL_WITHOUT_DEFAULT = new Set([
  '.spec.workers.upstream',
  '.spec.workers.env',
  '.spec.workers.env[].value',
  '.spec.workers.env[].valueFrom',
  '.spec.errorReporting',
  '.spec.errorReporting.sentry',
  '.spec.cache.redis',
  '.spec.cache.external',
  '.spec.cache.external.passwordSecretRef',
  '.spec.coordination.zookeeper',
  '.spec.coordination.external',
  '.spec.coordination.zookeeper.storage.storageClassName',
  '.spec.loadBalancer.haproxy.service.nodePort',
]);

describe('structural schema', () => {
  it('carries no $id, $schema or additionalProperties: false anywhere', () => {
    const text = JSON.stringify(root);
    expect(text).not.toContain('"$id"');
    expect(text).not.toContain('"$schema"');
    expect(nodes.filter((n) => n.schema.additionalProperties === false)).toEqual([]);
  });

  it('gives every node a type, or marks it int-or-string', () => {
    const untyped = nodes.filter((n) => !n.schema.type && n.schema['x-kubernetes-int-or-string'] !== true);
    expect(untyped.map((n) => n.path)).toEqual([]);
  });

  it('uses anyOf only for int-or-string', () => {
    const anyOf = nodes.filter((n) => n.schema.anyOf && n.schema['x-kubernetes-int-or-string'] !== true);
    expect(anyOf.map((n) => n.path)).toEqual([]);
  });

  it('describes every field (kubectl explain)', () => {
    const undescribed = nodes.filter((n) => typeof n.schema.description !== 'string').map((n) => n.path);
    // metadata's schema belongs to the apiserver; a CRD may only give its type.
    expect(undescribed).toEqual(['.metadata']);
  });

  it('bounds every list, map and free-form string so CEL costs stay bounded', () => {
    const unbounded = nodes.filter(({ path, schema }) => {
      if (schema.type === 'array') return schema.maxItems === undefined;
      if (schema.type === 'object' && schema.additionalProperties) return schema.maxProperties === undefined;
      if (schema.type !== 'string' || path === '.apiVersion' || path === '.kind') return false;
      return schema.maxLength === undefined && !schema.enum && schema.format !== 'date-time';
    });
    expect(unbounded.map((n) => n.path)).toEqual([]);
  });

  it('gives optional spec fields a default unless their absence means something', () => {
    const missing = specNodes.filter(
      (n) => n.optional && !('default' in n.schema) && !n.path.includes('.resources'),
    );
    expect(missing.map((n) => n.path).sort()).toEqual([...OPTIONAL_WITHOUT_DEFAULT].sort());
  });

  it('keeps required only the fields without a default', () => {
    const requiredWithDefault = nodes.filter(({ schema }) =>
      ((schema.required ?? []) as string[]).some((key) => {
        const child = (schema.properties as Record<string, JsonSchema>)[key];
        return child !== undefined && 'default' in child;
      }),
    );
    expect(requiredWithDefault).toEqual([]);
    expect(root.required).toEqual(['metadata', 'spec']);
  });

  it('attaches a message to every CEL rule', () => {
    const rules = nodes.flatMap((n) => (n.schema['x-kubernetes-validations'] ?? []) as JsonSchema[]);
    expect(rules.length).toBeGreaterThanOrEqual(10);
    expect(rules.filter((r) => typeof r.message !== 'string')).toEqual([]);
  });

  it('makes partitions immutable with a transition rule', () => {
    const partitions = nodes.find((n) => n.path === '.spec.workers.partitions')!;
    expect(partitions.schema['x-kubernetes-validations']).toEqual([
      expect.objectContaining({ rule: 'self == oldSelf' }),
    ]);
  });
});
