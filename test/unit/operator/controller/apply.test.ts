import { describe, it, expect } from '@jest/globals';
import {
  APPLIED_HASH_ANNOTATION,
  appliedHash,
  canonicalJson,
  isUpToDate,
  withAppliedHash,
} from '../../../../operator/src/controller/apply.ts';
import { toWire } from '../../../../operator/src/controller/wire.ts';
import { applyDefaults } from '../../../../operator/src/api/defaults.ts';
import { desiredState } from '../../../../operator/src/model/desired-state.ts';

/** The definition the applied hashes were made with: JSON.stringify with a key-sorting replacer. */
function sortedByReplacer(value: unknown): string | undefined {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner !== null && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner,
  );
}

const configMap = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'c', namespace: 'n', labels: { a: '1', b: '2' } },
  data: { 'x.cfg': 'x' },
};

describe('canonicalJson', () => {
  it('writes exactly what JSON.stringify with sorted keys writes, so applied hashes stay the same', () => {
    const odd = {
      z: 1,
      a: [3, undefined, () => 1, { y: null, b: 'é\u2028"\\', c: undefined }],
      m: { when: new Date(0), nested: { 'Z-key': true, 'a key': -0.5e-7, '': 'empty' } },
      f: () => 2,
      u: undefined,
      n: null,
    };
    expect(canonicalJson(odd)).toBe(sortedByReplacer(odd));
    expect(canonicalJson([undefined])).toBe('[null]');
    expect(canonicalJson(undefined)).toBeUndefined();
    expect(canonicalJson('text')).toBe('"text"');
    const app = applyDefaults({
      apiVersion: 'capstan.dev/v1alpha1',
      kind: 'DistributedApp',
      metadata: { name: 'shop', namespace: 'n', uid: 'u-1', generation: 1 },
      spec: { workers: { upstream: 'http://backend:8080', replicas: 3 } },
    });
    const objects = desiredState(app, {
      redisPassword: 'p'.repeat(48),
      zooKeeperCredentials: { operatorPassword: 'o'.repeat(48), workerPassword: 'w'.repeat(48) },
    });
    expect(objects.length).toBeGreaterThan(10);
    for (const object of objects) {
      const wire = toWire(object, object.kind);
      expect(canonicalJson(wire)).toBe(sortedByReplacer(wire));
    }
  });
});

describe('apply helper', () => {
  it('hashes the desired object whatever its key order', () => {
    const reordered = {
      data: { 'x.cfg': 'x' },
      metadata: { labels: { b: '2', a: '1' }, namespace: 'n', name: 'c' },
      kind: 'ConfigMap',
      apiVersion: 'v1',
    };
    expect(appliedHash(reordered)).toBe(appliedHash(configMap));
    const changed = { ...configMap, data: { 'x.cfg': 'y' } };
    expect(appliedHash(changed)).not.toBe(appliedHash(configMap));
  });

  it('treats a live object as up to date only when it carries the hash of exactly this desired object', () => {
    const applied = withAppliedHash(configMap);
    expect(configMap.metadata).not.toHaveProperty('annotations');
    const live = {
      ...applied,
      metadata: { ...applied.metadata, resourceVersion: '7', uid: 'u' },
      status: {},
    };
    expect(isUpToDate(configMap, live)).toBe(true);
    const changed = { ...configMap, data: { 'x.cfg': 'changed' } };
    expect(isUpToDate(changed, live)).toBe(false);
    expect(isUpToDate(configMap, undefined)).toBe(false);
    expect(
      isUpToDate(configMap, { ...live, metadata: { ...live.metadata, deletionTimestamp: new Date() } }),
    ).toBe(false);
    const annotations = (live.metadata as { annotations?: Record<string, string> }).annotations;
    expect(annotations?.[APPLIED_HASH_ANNOTATION]).toMatch(/^[0-9a-f]{64}$/);
  });

  it('writes client-node model fields in their wire names', () => {
    const policy = {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'p', namespace: 'n' },
      spec: { podSelector: {}, ingress: [{ _from: [{ podSelector: {} }] }] },
    };
    expect(JSON.stringify(toWire(policy, 'NetworkPolicy'))).toContain('"from":');
    expect(JSON.stringify(toWire(policy, 'NetworkPolicy'))).not.toContain('_from');
  });
});
