import { describe, expect, it } from '@jest/globals';
import {
  desiredCoordinators,
  diffCoordinators,
} from '../../../../operator/src/coordination/coordinator-diff.ts';
import {
  coordinatorKey,
  coordinatorSpec,
  type CoordinatorSpec,
} from '../../../../operator/src/coordination/coordinator-spec.ts';
import { workerEnv } from '../../../../operator/src/model/worker-env.ts';
import { storedApp } from './helpers.ts';

const EXTERNAL = { external: { connectString: 'zk-a:2181,zk-b:2181/capstan' } };

function spec(app: string, changes: Partial<CoordinatorSpec> = {}): CoordinatorSpec {
  return {
    namespace: 'demo',
    app,
    connectString: 'zk:2181',
    partitions: 8,
    departureDelayMs: 0,
    replicas: 3,
    ...changes,
  };
}

function byKey(...specs: CoordinatorSpec[]): Map<string, CoordinatorSpec> {
  return new Map(specs.map((s) => [coordinatorKey(s), s]));
}

describe('desiredCoordinators', () => {
  it('gives each live app the connect string its workers get, its partitions and its delay', () => {
    const inCluster = storedApp('shop', {
      workers: { upstream: 'http://backend.default.svc:8080', partitions: 32 },
      coordination: { zookeeper: { replicas: 3 } },
      failurePolicy: { rebalanceDelaySeconds: 7 },
    });
    const external = storedApp('orders', { coordination: EXTERNAL });
    const observed = { clusterDomain: 'example.internal' };
    const desired = desiredCoordinators([inCluster, external], (app) => coordinatorSpec(app, observed));

    const workersGet = workerEnv(inCluster, observed).find(
      (v) => v.name === 'CAPSTAN_ZOOKEEPER_CONNECT',
    )?.value;
    expect(desired.get('demo/shop')).toEqual({
      namespace: 'demo',
      app: 'shop',
      connectString: workersGet,
      // What a port-forward tunnel forwards to, member by member.
      members: ['shop-zookeeper-0', 'shop-zookeeper-1', 'shop-zookeeper-2'],
      partitions: 32,
      departureDelayMs: 7_000,
      replicas: 3,
    });
    expect(workersGet?.split(',')).toEqual([
      'shop-zookeeper-0.shop-zookeeper-headless.demo.svc.example.internal:2181',
      'shop-zookeeper-1.shop-zookeeper-headless.demo.svc.example.internal:2181',
      'shop-zookeeper-2.shop-zookeeper-headless.demo.svc.example.internal:2181',
    ]);
    // Defaults: 64 partitions, rebalanceDelaySeconds 10; the external string passes through unchanged.
    expect(desired.get('demo/orders')).toEqual(
      spec('orders', {
        connectString: 'zk-a:2181,zk-b:2181/capstan',
        partitions: 64,
        departureDelayMs: 10_000,
      }),
    );
  });

  it('with a credential source, gives an app its credentials and none before its Secret holds them', () => {
    const credentials = { operatorPassword: 'op', workerPassword: 'wk' };
    const apps = [
      storedApp('ready', { coordination: EXTERNAL }),
      storedApp('new', { coordination: EXTERNAL }),
    ];
    const desired = desiredCoordinators(
      apps,
      (app) => coordinatorSpec(app, {}),
      (ref) => (ref.app === 'ready' ? credentials : undefined),
    );
    expect([...desired.keys()]).toEqual(['demo/ready']);
    expect(desired.get('demo/ready')?.credentials).toEqual(credentials);
  });

  it('wants none for an app being deleted or not yet stored', () => {
    const deleting = storedApp('gone', { coordination: EXTERNAL }, { deletionTimestamp: new Date() });
    const unstored = storedApp('draft', { coordination: EXTERNAL }, { uid: undefined });
    expect(desiredCoordinators([deleting, unstored], (app) => coordinatorSpec(app, {})).size).toBe(0);
  });
});

describe('diffCoordinators', () => {
  it('does nothing when the running set is the desired one', () => {
    const both = byKey(spec('a'), spec('b'));
    expect(diffCoordinators(both, new Map(both))).toEqual({ start: [], stop: [] });
  });

  it('starts the missing and stops the unwanted, sorted by key', () => {
    const diff = diffCoordinators(
      byKey(spec('c'), spec('a'), spec('keep')),
      byKey(spec('keep'), spec('z'), spec('y')),
    );
    expect(diff.start.map((s) => s.app)).toEqual(['a', 'c']);
    expect(diff.stop).toEqual(['demo/y', 'demo/z']);
  });

  it.each([
    ['connect string', { connectString: 'other:2181' }],
    ['partitions', { partitions: 16 }],
    ['departure delay', { departureDelayMs: 5_000 }],
    ['worker count (the workers it drains)', { replicas: 2 }],
    ['credentials', { credentials: { operatorPassword: 'new', workerPassword: 'new' } }],
  ])('restarts a coordinator whose %s changed', (_what, change) => {
    const changed = spec('a', change);
    expect(diffCoordinators(byKey(changed, spec('b')), byKey(spec('a'), spec('b')))).toEqual({
      start: [changed],
      stop: ['demo/a'],
    });
  });

  it('keeps apps of the same name in different namespaces apart', () => {
    const other = spec('a', { namespace: 'other' });
    expect(diffCoordinators(byKey(spec('a'), other), byKey(spec('a')))).toEqual({ start: [other], stop: [] });
  });
});
