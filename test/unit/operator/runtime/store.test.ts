import { describe, expect, it } from '@jest/globals';
import type { KubernetesObject } from '@kubernetes/client-node';
import { ObjectStore } from '../../../../operator/src/runtime/index.ts';

function pod(namespace: string, name: string, app?: string): KubernetesObject {
  return { metadata: { namespace, name, ...(app === undefined ? {} : { labels: { app } }) } };
}

const byAppLabel = (obj: KubernetesObject): string[] => {
  const app = obj.metadata?.labels?.app;
  return app === undefined ? [] : [`${obj.metadata?.namespace ?? ''}/${app}`];
};

const names = (objects: KubernetesObject[]): string[] => objects.map((o) => o.metadata?.name ?? '').sort();

describe('ObjectStore indexes', () => {
  it('finds objects by index value, across puts, relabels and deletes', () => {
    const store = new ObjectStore<KubernetesObject>({ app: byAppLabel });
    store.put(pod('a', 'x-0', 'x'));
    store.put(pod('a', 'x-1', 'x'));
    store.put(pod('a', 'y-0', 'y'));
    store.put(pod('b', 'x-0', 'x'));
    store.put(pod('a', 'loose'));
    expect(names(store.byIndex('app', 'a/x'))).toEqual(['x-0', 'x-1']);
    expect(names(store.byIndex('app', 'b/x'))).toEqual(['x-0']);

    // A changed label moves the object to its new value only.
    store.put(pod('a', 'x-1', 'y'));
    expect(names(store.byIndex('app', 'a/x'))).toEqual(['x-0']);
    expect(names(store.byIndex('app', 'a/y'))).toEqual(['x-1', 'y-0']);

    // The stored object is the latest one.
    const latest = { ...pod('a', 'y-0', 'y'), kind: 'Pod' };
    store.put(latest);
    expect(store.byIndex('app', 'a/y').find((o) => o.metadata?.name === 'y-0')).toBe(latest);

    store.delete('a', 'x-0');
    expect(store.byIndex('app', 'a/x')).toEqual([]);
    expect(store.size()).toBe(4);
  });

  it('finds nothing for an index it does not have, and returns copies callers may change', () => {
    const store = new ObjectStore<KubernetesObject>({ app: byAppLabel });
    store.put(pod('a', 'x-0', 'x'));
    expect(store.byIndex('other', 'a/x')).toEqual([]);
    store.byIndex('app', 'a/x').pop();
    expect(names(store.byIndex('app', 'a/x'))).toEqual(['x-0']);
    expect(new ObjectStore<KubernetesObject>().byIndex('app', 'a/x')).toEqual([]);
  });
});
