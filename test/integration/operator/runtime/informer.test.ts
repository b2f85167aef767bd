import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { Informer } from '../../../../operator/src/runtime/informer.ts';
import { createNamespace, kubectl, loadKubeConfig, waitFor } from '../../../harness/kube.ts';

const configMaps = { group: '', version: 'v1', plural: 'configmaps' };

function recordEvents(informer: Informer<V1ConfigMap>): string[] {
  const events: string[] = [];
  informer.addHandler({
    onAdd: (cm) => events.push(`add ${cm.metadata!.name} ${cm.data?.v ?? ''}`),
    onUpdate: (_old, cm) => events.push(`update ${cm.metadata!.name} ${cm.data?.v ?? ''}`),
    onDelete: (cm) => events.push(`delete ${cm.metadata!.name}`),
  });
  return events;
}

function configMap(namespace: string, name: string, value: string, labels: Record<string, string>): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace, labels },
    data: { v: value },
  });
}

const ok = (condition: boolean): Promise<true | undefined> => Promise.resolve(condition ? true : undefined);

describe('Informer against the apiserver', () => {
  let namespace: string;
  const informers: Informer<V1ConfigMap>[] = [];

  beforeAll(async () => {
    namespace = await createNamespace('rt-informer');
  });

  afterAll(async () => {
    await Promise.all(informers.map((i) => i.stop()));
    await kubectl(['delete', 'namespace', namespace, '--wait=false'], { allowFailure: true });
  });

  it('lists, then sees create, update and delete of labelled ConfigMaps only', async () => {
    await kubectl(['apply', '-f', '-'], { input: configMap(namespace, 'before', '1', { app: 'rt' }) });
    const informer = new Informer<V1ConfigMap>(loadKubeConfig(), {
      resource: configMaps,
      namespace,
      labelSelector: 'app=rt',
    });
    informers.push(informer);
    const events = recordEvents(informer);
    informer.start();
    await informer.waitForSync();
    expect(informer.store.get(namespace, 'before')?.data?.v).toBe('1');

    await kubectl(['apply', '-f', '-'], { input: configMap(namespace, 'other', '1', { app: 'not-rt' }) });
    await kubectl(['apply', '-f', '-'], { input: configMap(namespace, 'cm', '1', { app: 'rt' }) });
    await waitFor('add of cm', () => ok(events.includes(`add cm 1`)));
    await kubectl(['apply', '-f', '-'], { input: configMap(namespace, 'cm', '2', { app: 'rt' }) });
    await waitFor('update of cm', () => ok(events.includes(`update cm 2`)));
    await kubectl(['delete', 'configmap', 'cm', '-n', namespace]);
    await waitFor('delete of cm', () => ok(events.includes('delete cm')));

    expect(informer.store.get(namespace, 'other')).toBeUndefined();
    expect(informer.store.list(namespace).map((cm) => cm.metadata!.name)).toEqual(['before']);
    expect(informer.store.get(namespace, 'before')?.metadata?.managedFields).toBeUndefined();
  });

  it('resumes after the server ends the watch and after its watchdog breaks a silent one', async () => {
    const informer = new Informer<V1ConfigMap>(loadKubeConfig(), {
      resource: configMaps,
      namespace,
      labelSelector: 'app=rt-recover',
      watchTimeoutSeconds: 1,
      watchdogMs: 400,
    });
    informers.push(informer);
    const events = recordEvents(informer);
    informer.start();
    await informer.waitForSync();
    await waitFor('several watch restarts', () => ok(informer.stats.watches >= 3));
    await kubectl(['apply', '-f', '-'], { input: configMap(namespace, 'late', 'x', { app: 'rt-recover' }) });
    await waitFor('add after restarts', () => ok(events.includes('add late x')));
    await kubectl(['apply', '-f', '-'], { input: configMap(namespace, 'late', 'y', { app: 'rt-recover' }) });
    await waitFor('update after restarts', () => ok(events.includes('update late y')));
    expect(informer.stats.lists).toBe(1);
  });

  it('restarts a watch that goes silent, without relisting', async () => {
    const informer = new Informer<V1ConfigMap>(loadKubeConfig(), {
      resource: configMaps,
      namespace,
      labelSelector: 'app=rt-silent',
      watchTimeoutSeconds: 3600,
      watchdogMs: 300,
    });
    informers.push(informer);
    const events = recordEvents(informer);
    informer.start();
    await informer.waitForSync();
    await waitFor('a watchdog restart', () => ok(informer.stats.watchdogRestarts >= 2));
    await kubectl(['apply', '-f', '-'], { input: configMap(namespace, 'quiet', 'z', { app: 'rt-silent' }) });
    await waitFor('add after watchdog restarts', () => ok(events.includes('add quiet z')));
    expect(informer.stats.lists).toBe(1);
    expect(informer.stats.errors).toBe(0);
  });
});
