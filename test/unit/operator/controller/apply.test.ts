import { describe, it, expect } from '@jest/globals';
import {
  APPLIED_HASH_ANNOTATION,
  appliedHash,
  isUpToDate,
  withAppliedHash,
} from '../../../../operator/src/controller/apply.ts';
import { toWire } from '../../../../operator/src/controller/wire.ts';

const configMap = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'c', namespace: 'n', labels: { a: '1', b: '2' } },
  data: { 'x.cfg': 'x' },
};

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
