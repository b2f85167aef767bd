import { describe, it, expect } from '@jest/globals';
import { Readable } from 'node:stream';
import type { V1ConfigMap } from '@kubernetes/client-node';
import {
  enqueueHandler,
  generationOrMetadataChanged,
  requestsForOwner,
} from '../../../../operator/src/runtime/handler.ts';
import type { Request } from '../../../../operator/src/runtime/reconciler.ts';
import { readWatchLines } from '../../../../operator/src/runtime/watch-stream.ts';

const owned = (refs: NonNullable<V1ConfigMap['metadata']>['ownerReferences']): V1ConfigMap => ({
  metadata: { name: 'child', namespace: 'ns', ownerReferences: refs, resourceVersion: '1' },
});

describe('event handlers', () => {
  it('maps owned objects to their controlling owner of the given kind, ignoring the version', () => {
    const map = requestsForOwner<V1ConfigMap>({ apiVersion: 'capstan.dev/v1', kind: 'DistributedApp' });
    const obj = owned([
      { apiVersion: 'capstan.dev/v1alpha1', kind: 'DistributedApp', name: 'app', uid: '1', controller: true },
      { apiVersion: 'capstan.dev/v1alpha1', kind: 'DistributedApp', name: 'not-controller', uid: '2' },
      { apiVersion: 'apps/v1', kind: 'DistributedApp', name: 'other-group', uid: '3', controller: true },
    ]);
    expect(map(obj)).toEqual([{ namespace: 'ns', name: 'app' }]);
    expect(
      requestsForOwner({ apiVersion: 'capstan.dev/v1', kind: 'DistributedApp', controllerOnly: false })(obj),
    ).toHaveLength(2);
  });

  it('enqueues old and new owners on update and honours the update predicate', () => {
    const seen: Request[] = [];
    const handler = enqueueHandler<V1ConfigMap>((r) => seen.push(r), {
      updatePredicate: generationOrMetadataChanged,
    });
    const a: V1ConfigMap = { metadata: { name: 'a', namespace: 'ns', generation: 1 } };
    handler.onAdd!(a);
    handler.onUpdate!(a, { ...a, metadata: { ...a.metadata, resourceVersion: '2' }, data: { x: '1' } });
    expect(seen).toHaveLength(1);
    handler.onUpdate!(a, { metadata: { ...a.metadata, generation: 2 } });
    handler.onDelete!(a);
    expect(seen).toHaveLength(4);
  });
});

describe('readWatchLines', () => {
  it('splits events across chunk boundaries, skips junk and reports activity per chunk', async () => {
    const encoder = new TextEncoder();
    const text = '{"type":"ADDED","object":{"metadata":{"name":"a"}}}\nnot json\n{"type":"BOOK';
    const chunks = [
      text,
      'MARK","object":{"metadata":{"resourceVersion":"7"}}}\n{"type":"DELETED","object":{}}',
    ];
    const body = (): AsyncIterable<Uint8Array> => Readable.from(chunks.map((c) => encoder.encode(c)));
    let activity = 0;
    const events = [];
    for await (const e of readWatchLines(body(), () => activity++)) events.push(e.type);
    expect(events).toEqual(['ADDED', 'BOOKMARK', 'DELETED']);
    expect(activity).toBe(2);
  });
});
