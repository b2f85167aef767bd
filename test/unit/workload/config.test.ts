import { describe, expect, it } from '@jest/globals';
import { digestId, OPERATOR_USER, WORKER_USER, workerAccess } from '../../../common/src/zookeeper-acl.ts';
import { ConfigError, loadConfig, loadOwnerMapConfig } from '../../../workload/src/config.ts';

const base = {
  CAPSTAN_APP_NAME: 'hello',
  CAPSTAN_ZOOKEEPER_CONNECT: '127.0.0.1:2181',
  CAPSTAN_REDIS_URL: 'redis://127.0.0.1:6379',
  CAPSTAN_UPSTREAM: 'http://127.0.0.1:9000',
};

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).variables;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies defaults', () => {
    const config = loadConfig({
      ...base,
      CAPSTAN_WORKER_ID: 'w1',
      CAPSTAN_HOST: '127.0.0.1',
      CAPSTAN_PORT: '0',
    });
    expect(config).toMatchObject({
      workerId: 'w1',
      namespace: 'default',
      app: 'cache-gateway',
      partitions: 64,
      advertiseAddress: 'http://127.0.0.1:0',
      zookeeper: { connectString: '127.0.0.1:2181', sessionTimeoutMs: 10_000 },
      redis: { commandTimeoutMs: 500 },
      sentry: undefined,
    });
  });

  it('names each bad variable', () => {
    expect(problemsOf({ ...base, CAPSTAN_PARTITIONS: 'many' })).toEqual(['CAPSTAN_PARTITIONS']);
    expect(problemsOf({ ...base, CAPSTAN_PORT: '70000', SENTRY_DSN: 'not a url' })).toEqual([
      'CAPSTAN_PORT',
      'SENTRY_DSN',
    ]);
    expect(problemsOf({ CAPSTAN_UPSTREAM: 'ftp://x' })).toEqual(
      expect.arrayContaining([
        'CAPSTAN_APP_NAME',
        'CAPSTAN_ZOOKEEPER_CONNECT',
        'CAPSTAN_REDIS_URL',
        'CAPSTAN_UPSTREAM',
      ]),
    );
  });

  it('requires an upstream only for cache-gateway and a module for custom apps', () => {
    const { CAPSTAN_UPSTREAM: _, ...noUpstream } = base;
    expect(problemsOf(noUpstream)).toEqual(['CAPSTAN_UPSTREAM']);
    expect(loadConfig({ ...noUpstream, CAPSTAN_APP: 'counters' }).upstream.url).toBeUndefined();
    expect(problemsOf({ ...base, CAPSTAN_APP: 'mine' })).toEqual(['CAPSTAN_APP_MODULE']);
  });

  it('reads Sentry settings only with a DSN', () => {
    const config = loadConfig({ ...base, SENTRY_DSN: 'http://key@127.0.0.1:9/1', SENTRY_SAMPLE_RATE: '0.5' });
    expect(config.sentry).toEqual({
      dsn: 'http://key@127.0.0.1:9/1',
      environment: 'production',
      sampleRate: 0.5,
    });
    expect(problemsOf({ ...base, SENTRY_DSN: 'http://key@127.0.0.1:9/1', SENTRY_SAMPLE_RATE: '2' })).toEqual([
      'SENTRY_SAMPLE_RATE',
    ]);
  });

  it('gives the worker its ZooKeeper identity only with both the password and the operator id', () => {
    const operatorId = digestId(OPERATOR_USER, 'op-secret');
    const config = loadConfig({
      ...base,
      CAPSTAN_ZOOKEEPER_PASSWORD: 'wk-secret',
      CAPSTAN_ZOOKEEPER_OPERATOR_ID: operatorId,
    });
    expect(config.zookeeper.access).toEqual(workerAccess('wk-secret', operatorId));
    expect(config.zookeeper.access?.auth).toEqual({ user: WORKER_USER, password: 'wk-secret' });
    expect(config.zookeeper.access?.acl.map((e) => e.id)).toEqual([
      digestId(WORKER_USER, 'wk-secret'),
      operatorId,
    ]);
    expect(loadConfig(base).zookeeper.access).toBeUndefined();
    expect(problemsOf({ ...base, CAPSTAN_ZOOKEEPER_PASSWORD: 'wk-secret' })).toEqual([
      'CAPSTAN_ZOOKEEPER_OPERATOR_ID',
    ]);
    expect(problemsOf({ ...base, CAPSTAN_ZOOKEEPER_OPERATOR_ID: operatorId })).toEqual([
      'CAPSTAN_ZOOKEEPER_PASSWORD',
    ]);
    expect(
      problemsOf({
        ...base,
        CAPSTAN_ZOOKEEPER_PASSWORD: 'wk-secret',
        CAPSTAN_ZOOKEEPER_OPERATOR_ID: 'op-secret',
      }),
    ).toEqual(['CAPSTAN_ZOOKEEPER_OPERATOR_ID']);
  });

  it('never puts a ZooKeeper password into an error message', () => {
    try {
      loadConfig({
        ...base,
        CAPSTAN_ZOOKEEPER_PASSWORD: 'wk-secret',
        CAPSTAN_ZOOKEEPER_OPERATOR_ID: 'not an id',
      });
      throw new Error('expected a ConfigError');
    } catch (error) {
      expect((error as Error).message).not.toContain('wk-secret');
      expect((error as Error).message).not.toContain('not an id');
    }
  });

  it('reads the ZooKeeper disconnect grace: unset by default, 0 up to half the session timeout', () => {
    expect(loadConfig(base).zookeeper.disconnectGraceMs).toBeUndefined();
    const grace = (value: string, session?: string) =>
      loadConfig({
        ...base,
        CAPSTAN_ZOOKEEPER_DISCONNECT_GRACE_MS: value,
        ...(session ? { CAPSTAN_ZOOKEEPER_SESSION_TIMEOUT_MS: session } : {}),
      }).zookeeper.disconnectGraceMs;
    expect(grace('0')).toBe(0);
    expect(grace('2500')).toBe(2500);
    expect(grace('5000')).toBe(5000);
    expect(grace('2000', '4000')).toBe(2000);
    for (const bad of ['-1', '1.5', 'soon', '5001']) {
      expect(problemsOf({ ...base, CAPSTAN_ZOOKEEPER_DISCONNECT_GRACE_MS: bad })).toEqual([
        'CAPSTAN_ZOOKEEPER_DISCONNECT_GRACE_MS',
      ]);
    }
    try {
      loadConfig({
        ...base,
        CAPSTAN_ZOOKEEPER_SESSION_TIMEOUT_MS: '4000',
        CAPSTAN_ZOOKEEPER_DISCONNECT_GRACE_MS: '3000',
      });
      throw new Error('expected a ConfigError');
    } catch (error) {
      expect((error as Error).message).toContain(
        'CAPSTAN_ZOOKEEPER_DISCONNECT_GRACE_MS: must be at most half of CAPSTAN_ZOOKEEPER_SESSION_TIMEOUT_MS (2000 ms)',
      );
    }
  });

  it('gives the worker an incarnation only with both the pod UID and the file', () => {
    const both = { CAPSTAN_POD_UID: 'uid-1', CAPSTAN_INCARNATION_FILE: '/tmp/capstan-incarnation' };
    expect(loadConfig({ ...base, ...both }).incarnation).toEqual({
      podUid: 'uid-1',
      file: '/tmp/capstan-incarnation',
    });
    expect(loadConfig({ ...base, CAPSTAN_POD_UID: 'uid-1' }).incarnation).toBeUndefined();
    expect(loadConfig(base).incarnation).toBeUndefined();
  });
});

describe('loadOwnerMapConfig', () => {
  const base = {
    CAPSTAN_APP_NAME: 'shop',
    CAPSTAN_NAMESPACE: 'demo',
    CAPSTAN_ZOOKEEPER_CONNECT: 'zk:2181',
    CAPSTAN_HAPROXY_MAP: '/usr/local/etc/haproxy/owners.map',
  };

  it('reads the app, ZooKeeper, the admin socket (default 127.0.0.1:9999) and the map file', () => {
    const config = loadOwnerMapConfig(base);
    expect(config).toMatchObject({
      namespace: 'demo',
      appName: 'shop',
      runtime: { host: '127.0.0.1', port: 9999 },
      mapFile: '/usr/local/etc/haproxy/owners.map',
    });
    expect(config.zookeeper.connectString).toBe('zk:2181');
  });

  it('names every bad or missing variable', () => {
    const bad = { CAPSTAN_APP_NAME: 'Shop!', CAPSTAN_HAPROXY_RUNTIME: 'nowhere' };
    try {
      loadOwnerMapConfig(bad);
      throw new Error('expected a ConfigError');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).variables).toEqual(
        expect.arrayContaining([
          'CAPSTAN_APP_NAME',
          'CAPSTAN_HAPROXY_RUNTIME',
          'CAPSTAN_HAPROXY_MAP',
          'CAPSTAN_ZOOKEEPER_CONNECT',
        ]),
      );
    }
  });
});
