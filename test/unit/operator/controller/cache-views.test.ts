import { describe, expect, it } from '@jest/globals';
import type { KubernetesObject } from '@kubernetes/client-node';
import { trimmed, viewChanged } from '../../../../operator/src/controller/cache-views.ts';

/** A StatefulSet as the API sends it, with the fields the operator does not read. */
function statefulSet(resourceVersion: string, status: Record<string, unknown>): KubernetesObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: {
      name: 'demo-zookeeper',
      namespace: 'apps',
      resourceVersion,
      generation: 2,
      annotations: { 'capstan.dev/applied-hash': 'abc' },
      managedFields: [{ manager: 'kube-controller-manager', time: new Date(Number(resourceVersion)) }],
    },
    spec: {
      replicas: 3,
      template: { spec: { containers: [{ name: 'zookeeper', image: 'zookeeper:3.9' }] } },
    },
    status: {
      replicas: 3,
      readyReplicas: 2,
      updatedReplicas: 3,
      observedGeneration: 2,
      updateRevision: 'demo-zookeeper-1',
      currentReplicas: 3,
      availableReplicas: 2,
      conditions: [],
      ...status,
    },
  } as KubernetesObject;
}

describe('trimmed workloads', () => {
  const view = trimmed('StatefulSet');

  it('keeps the replica counts, observed generation and update revision, not the rest of the status or spec', () => {
    expect(view(statefulSet('1', {}))).toEqual({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: {
        name: 'demo-zookeeper',
        namespace: 'apps',
        resourceVersion: '1',
        generation: 2,
        annotations: { 'capstan.dev/applied-hash': 'abc' },
      },
      spec: { replicas: 3 },
      status: {
        replicas: 3,
        readyReplicas: 2,
        updatedReplicas: 3,
        observedGeneration: 2,
        updateRevision: 'demo-zookeeper-1',
      },
    });
  });

  it('counts an update as a change only when a field the operator reads changed', () => {
    const before = view(statefulSet('1', {}));
    // A new resourceVersion, managedFields timestamp and available count: nothing the reconciler reads.
    expect(viewChanged(before, view(statefulSet('2', { availableReplicas: 3, currentReplicas: 2 })))).toBe(
      false,
    );
    expect(viewChanged(before, view(statefulSet('2', { readyReplicas: 3 })))).toBe(true);
    expect(viewChanged(before, view(statefulSet('2', { updateRevision: 'demo-zookeeper-2' })))).toBe(true);
    const annotated = statefulSet('2', {});
    annotated.metadata = { ...annotated.metadata, annotations: { 'capstan.dev/applied-hash': 'def' } };
    expect(viewChanged(before, view(annotated))).toBe(true);
  });

  it('sees a deletion starting on an object cached as metadata only', () => {
    const service = trimmed('Service');
    const live = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'demo', resourceVersion: '5' } };
    const deleting = {
      ...live,
      metadata: { ...live.metadata, resourceVersion: '6', deletionTimestamp: new Date(0) },
    };
    expect(
      viewChanged(service(live), service({ ...live, metadata: { ...live.metadata, resourceVersion: '6' } })),
    ).toBe(false);
    expect(viewChanged(service(live), service(deleting))).toBe(true);
  });
});
