import { describe, expect, it } from '@jest/globals';
import type { DistributedApp } from '../../../../operator/src/api/schema.ts';
import {
  addFinalizerPatch,
  finalizerStep,
  removeFinalizerCommand,
  removeFinalizerPatch,
  ZOOKEEPER_PATHS_FINALIZER,
  type FinalizerObservation,
} from '../../../../operator/src/controller/zookeeper-finalizer.ts';
import { externalApp, minimalApp } from '../model/fixtures.ts';

const CREDENTIALS = { operatorPassword: 'op', workerPassword: 'wk' };
const CONNECT = 'zk-0.zk.data.svc:2181,zk-1.zk.data.svc:2181/capstan';

/** Nothing left that writes, credentials at hand: the paths may go. */
const QUIET: FinalizerObservation = {
  workerSet: 'absent',
  workerPods: 0,
  coordinating: false,
  credentials: CREDENTIALS,
};

function withMetadata(app: DistributedApp, metadata: Partial<DistributedApp['metadata']>): DistributedApp {
  return { ...app, metadata: { ...app.metadata, ...metadata } };
}

function deleting(app: DistributedApp, finalizers = [ZOOKEEPER_PATHS_FINALIZER]): DistributedApp {
  return withMetadata(app, { deletionTimestamp: new Date('2030-01-01T00:00:00Z'), finalizers });
}

describe('finalizerStep', () => {
  it('adds the finalizer to a live app with an external ZooKeeper, and nothing once it is there', () => {
    expect(finalizerStep(externalApp(), QUIET)).toEqual({ kind: 'add' });
    const other = withMetadata(externalApp(), { finalizers: ['example.com/other'] });
    expect(finalizerStep(other, QUIET)).toEqual({ kind: 'add' });
    const present = withMetadata(externalApp(), {
      finalizers: ['example.com/other', ZOOKEEPER_PATHS_FINALIZER],
    });
    expect(finalizerStep(present, QUIET)).toEqual({ kind: 'none' });
  });

  it('never gives an app with an in-cluster ensemble the finalizer', () => {
    expect(finalizerStep(minimalApp(), QUIET)).toEqual({ kind: 'none' });
    expect(finalizerStep(deleting(minimalApp(), []), QUIET)).toEqual({ kind: 'none' });
  });

  it('leaves an app being deleted without the finalizer alone', () => {
    expect(finalizerStep(deleting(externalApp(), ['example.com/other']), QUIET)).toEqual({ kind: 'none' });
  });

  it('releases a finalizer that has nothing to remove (no external ZooKeeper)', () => {
    expect(finalizerStep(deleting(minimalApp()), QUIET)).toEqual({
      kind: 'release',
      why: 'nothing-to-remove',
    });
  });

  it('stops every writer first: the worker StatefulSet, its pods, then the coordinator', () => {
    const app = deleting(externalApp());
    const steps = [
      { ...QUIET, workerSet: 'live', workerPods: 2, coordinating: true },
      { ...QUIET, workerSet: 'deleting', workerPods: 2, coordinating: true },
      { ...QUIET, workerPods: 1, coordinating: true },
      { ...QUIET, coordinating: true },
    ] satisfies FinalizerObservation[];
    expect(steps.map((observed) => finalizerStep(app, observed))).toEqual([
      { kind: 'delete-workers' },
      { kind: 'wait', what: 'workers' },
      { kind: 'wait', what: 'workers' },
      { kind: 'wait', what: 'coordinator' },
    ]);
  });

  it('removes the paths as the app’s operator once nothing writes there', () => {
    expect(finalizerStep(deleting(externalApp()), QUIET)).toEqual({
      kind: 'remove-paths',
      connectString: CONNECT,
      credentials: CREDENTIALS,
    });
  });

  it('releases the finalizer when the credentials are gone, rather than block the deletion', () => {
    const observed = { ...QUIET, credentials: undefined };
    expect(finalizerStep(deleting(externalApp()), observed)).toEqual({
      kind: 'release',
      why: 'no-credentials',
    });
  });
});

describe('the finalizer patches', () => {
  it('adds to an absent list only while it is absent, and appends to a list it tests', () => {
    const app = externalApp();
    expect(addFinalizerPatch(app)).toEqual([
      { op: 'test', path: '/metadata/uid', value: 'uid-counters' },
      { op: 'test', path: '/metadata/finalizers', value: null },
      { op: 'add', path: '/metadata/finalizers', value: [ZOOKEEPER_PATHS_FINALIZER] },
    ]);
    expect(addFinalizerPatch(withMetadata(app, { finalizers: ['example.com/other'] }))).toEqual([
      { op: 'test', path: '/metadata/uid', value: 'uid-counters' },
      { op: 'test', path: '/metadata/finalizers', value: ['example.com/other'] },
      { op: 'add', path: '/metadata/finalizers/-', value: ZOOKEEPER_PATHS_FINALIZER },
    ]);
  });

  it('removes the finalizer at the index it tests, and nothing without it', () => {
    const app = deleting(externalApp(), ['example.com/other', ZOOKEEPER_PATHS_FINALIZER]);
    expect(removeFinalizerPatch(app)).toEqual([
      { op: 'test', path: '/metadata/uid', value: 'uid-counters' },
      { op: 'test', path: '/metadata/finalizers/1', value: ZOOKEEPER_PATHS_FINALIZER },
      { op: 'remove', path: '/metadata/finalizers/1' },
    ]);
    expect(removeFinalizerPatch(deleting(externalApp(), ['example.com/other']))).toBeUndefined();
  });

  it('tells a person how to remove the finalizer by hand', () => {
    const app = deleting(externalApp(), ['example.com/other', ZOOKEEPER_PATHS_FINALIZER]);
    expect(removeFinalizerCommand(app)).toBe(
      `kubectl patch dapp counters -n demo --type=json -p '[{"op":"test","path":"/metadata/finalizers/1",` +
        `"value":"capstan.dev/zookeeper-paths"},{"op":"remove","path":"/metadata/finalizers/1"}]'`,
    );
  });
});
