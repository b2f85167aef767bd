import { describe, it, expect } from '@jest/globals';
import type { V1Secret } from '@kubernetes/client-node';
import { applyDefaults } from '../../../../operator/src/api/defaults.ts';
import type { DistributedApp } from '../../../../operator/src/api/schema.ts';
import { MultiStore } from '../../../../operator/src/controller/multi-store.ts';
import {
  describeMissing,
  missingSecrets,
  referencedSecrets,
} from '../../../../operator/src/controller/referenced-secrets.ts';
import { withTrouble } from '../../../../operator/src/controller/trouble.ts';
import { computeStatus } from '../../../../operator/src/model/status.ts';
import { ObjectStore } from '../../../../operator/src/runtime/index.ts';

function app(): DistributedApp {
  return applyDefaults({
    apiVersion: 'capstan.dev/v1alpha1',
    kind: 'DistributedApp',
    metadata: { name: 'ext', namespace: 'ns', uid: 'u', generation: 3 },
    spec: {
      workers: {
        app: 'counters',
        env: [{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'tokens', key: 'api' } } }],
      },
      cache: { external: { url: 'redis://r:6379', passwordSecretRef: { name: 'redis-pw' } } },
      coordination: { external: { connectString: 'zk:2181' } },
    },
  });
}

function secrets(...items: V1Secret[]): MultiStore<V1Secret> {
  const store = new ObjectStore<V1Secret>();
  for (const item of items) store.put(item);
  return new MultiStore(new Map([['ns', store]]));
}

describe('referenced Secrets and trouble', () => {
  it('lists the Secrets the spec refers to and which are missing', () => {
    expect(referencedSecrets(app()).map((r) => `${r.name}/${r.key}`)).toEqual([
      'redis-pw/password',
      'tokens/api',
    ]);
    const store = secrets({ metadata: { name: 'tokens', namespace: 'ns' }, data: { other: '' } });
    const missing = missingSecrets(app(), store);
    expect(missing.map((r) => r.name)).toEqual(['redis-pw', 'tokens']);
    expect(describeMissing(missing)).toContain('Secret "redis-pw"');
    expect(
      missingSecrets(
        app(),
        secrets(
          { metadata: { name: 'tokens', namespace: 'ns' }, data: { api: '' } },
          { metadata: { name: 'redis-pw', namespace: 'ns' }, data: { password: '' } },
        ),
      ),
    ).toEqual([]);
  });

  it('lays trouble over the status as Degraded, keeping the transition time while it lasts', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    const base = app();
    const first = withTrouble(
      base,
      computeStatus(base, {}, now),
      [{ reason: 'SecretMissing', message: 'Secret "redis-pw" not found' }],
      now,
    );
    const degraded = first.conditions?.find((c) => c.type === 'Degraded');
    expect(degraded).toMatchObject({
      status: 'True',
      reason: 'SecretMissing',
      observedGeneration: 3,
      lastTransitionTime: now.toISOString(),
    });
    expect(first.phase).toBe('Degraded');
    const later = new Date('2026-01-01T00:05:00Z');
    const again = { ...base, status: first };
    const second = withTrouble(
      again,
      computeStatus(again, {}, later),
      [{ reason: 'SecretMissing', message: 'Secret "redis-pw" not found' }],
      later,
    );
    expect(second.conditions?.find((c) => c.type === 'Degraded')?.lastTransitionTime).toBe(now.toISOString());
    expect(withTrouble(base, first, [], now)).toBe(first);
  });
});
