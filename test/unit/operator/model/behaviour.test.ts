import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import type { V1ConfigMap, V1Secret, V1StatefulSet } from '@kubernetes/client-node';
import type { DistributedApp } from '../../../../operator/src/api/schema.ts';
import {
  CONFIG_CHECKSUM_ANNOTATION,
  RESTARTED_AT_ANNOTATION,
} from '../../../../operator/src/model/checksum.ts';
import { desiredState } from '../../../../operator/src/model/desired-state.ts';
import type { DesiredObject } from '../../../../operator/src/model/desired-state.ts';
import {
  HAPROXY_CONFIG_DIR,
  HAPROXY_CONFIG_FILE,
  HAPROXY_MIN_SERVER_SLOTS,
  HAPROXY_OWNER_MAP_FILE,
  haproxyServerSlots,
} from '../../../../operator/src/model/haproxy-config-map.ts';
import { digestId, OPERATOR_USER } from '../../../../common/src/zookeeper-acl.ts';
import { externalApp, minimalApp, OBSERVED, productionApp } from './fixtures.ts';
import { find, podTemplate, ref } from './helpers.ts';

/** Checksum annotation of each workload, by `kind/name`. */
function checksums(objects: DesiredObject[]): Record<string, string | undefined> {
  return Object.fromEntries(
    objects
      .filter((o) => podTemplate(o) !== undefined)
      .map((o) => [ref(o), podTemplate(o)?.metadata?.annotations?.[CONFIG_CHECKSUM_ANNOTATION]]),
  );
}

/** `kind/name` of the objects that differ between two desired states of the same app. */
function changed(before: DesiredObject[], after: DesiredObject[]): string[] {
  const old = new Map(before.map((o) => [ref(o), JSON.stringify(o)]));
  return after.filter((o) => old.get(ref(o)) !== JSON.stringify(o)).map(ref);
}

function changedChecksums(edit: (app: DistributedApp) => void): string[] {
  const app = productionApp();
  const before = checksums(desiredState(app, OBSERVED));
  edit(app);
  const after = checksums(desiredState(app, OBSERVED));
  return Object.keys(after).filter((key) => after[key] !== before[key]);
}

function haproxyConfig(objects: DesiredObject[], name: string): string {
  return find<V1ConfigMap>(objects, 'ConfigMap', name).data![HAPROXY_CONFIG_FILE]!;
}

function workerEnv(objects: DesiredObject[], name: string): Record<string, unknown> {
  const set = find<V1StatefulSet>(objects, 'StatefulSet', name);
  const env = set.spec!.template.spec!.containers[0]!.env ?? [];
  return Object.fromEntries(env.map((v) => [v.name, v.value ?? v.valueFrom]));
}

describe('rolling restarts', () => {
  it('puts a config checksum on the ZooKeeper, Redis and HAProxy pod templates', () => {
    const sums = checksums(desiredState(productionApp(), OBSERVED));
    expect(sums).toEqual({
      'StatefulSet/shop-zookeeper': expect.stringMatching(/^[0-9a-f]{64}$/),
      'Deployment/shop-redis': expect.stringMatching(/^[0-9a-f]{64}$/),
      'StatefulSet/shop-worker': undefined,
      'Deployment/shop-haproxy': expect.stringMatching(/^[0-9a-f]{64}$/),
    });
  });

  it.each([
    [
      'Redis maxMemory',
      (a: DistributedApp) => (a.spec.cache.redis!.maxMemory = '2Gi'),
      'Deployment/shop-redis',
    ],
    [
      'Redis eviction policy',
      (a: DistributedApp) => (a.spec.cache.redis!.evictionPolicy = 'volatile-lru'),
      'Deployment/shop-redis',
    ],
    [
      'the ensemble size',
      (a: DistributedApp) => (a.spec.coordination.zookeeper!.replicas = 5),
      'StatefulSet/shop-zookeeper',
    ],
    [
      'the balance algorithm',
      (a: DistributedApp) => (a.spec.loadBalancer.haproxy.algorithm = 'roundrobin'),
      'Deployment/shop-haproxy',
    ],
  ])('a change of %s changes exactly that component checksum', (_what, edit, workload) => {
    expect(changedChecksums(edit)).toEqual([workload]);
  });

  it('changes no checksum when only replica counts change within the same HAProxy slot count', () => {
    expect(
      changedChecksums((a) => {
        a.spec.workers.replicas = 7;
        a.spec.loadBalancer.haproxy.replicas = 3;
      }),
    ).toEqual([]);
  });

  it('rolls HAProxy, and only HAProxy, when the workers outgrow its server slots', () => {
    expect(changedChecksums((a) => (a.spec.workers.replicas = HAPROXY_MIN_SERVER_SLOTS + 1))).toEqual([
      'Deployment/shop-haproxy',
    ]);
  });

  it('keeps the slots of draining workers until the StatefulSet has shrunk', () => {
    const app = productionApp();
    app.spec.workers.replicas = 2;
    const draining = haproxyConfig(
      desiredState(app, { ...OBSERVED, workerReplicas: 12 }),
      'shop-haproxy-config',
    );
    const drained = haproxyConfig(desiredState(app, OBSERVED), 'shop-haproxy-config');
    expect(draining).toContain('server-template worker 16 ');
    expect(drained).toContain(`server-template worker ${HAPROXY_MIN_SERVER_SLOTS} `);
  });

  it('copies capstan.dev/restartedAt to the worker pod template and nothing else', () => {
    const app = minimalApp();
    const before = desiredState(app, OBSERVED);
    app.metadata.annotations = { [RESTARTED_AT_ANNOTATION]: '2030-01-01T00:00:00Z' };
    const after = desiredState(app, OBSERVED);
    expect(changed(before, after)).toEqual(['StatefulSet/hello-worker']);
    const template = podTemplate(find(after, 'StatefulSet', 'hello-worker'))!;
    expect(template.metadata!.annotations).toEqual({ [RESTARTED_AT_ANNOTATION]: '2030-01-01T00:00:00Z' });
  });
});

describe('external Redis and ZooKeeper', () => {
  const objects = desiredState(externalApp(), { zooKeeperCredentials: OBSERVED.zooKeeperCredentials! });

  it('deploy nothing for those components but the ZooKeeper credentials', () => {
    const components = new Set(objects.map((o) => o.metadata.labels!['app.kubernetes.io/component']));
    expect([...components].sort()).toEqual(['coordination', 'load-balancer', 'worker']);
    const coordination = objects.filter(
      (o) => o.metadata.labels!['app.kubernetes.io/component'] === 'coordination',
    );
    expect(coordination.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'Secret/counters-zookeeper-auth',
    ]);
  });

  it('pass the connection through to the workers', () => {
    const env = workerEnv(objects, 'counters-worker');
    expect(env.CAPSTAN_REDIS_URL).toBe('rediss://redis.data.svc:6380');
    expect(env.CAPSTAN_REDIS_PASSWORD).toEqual({ secretKeyRef: { name: 'counters-redis', key: 'password' } });
    expect(env.CAPSTAN_ZOOKEEPER_CONNECT).toBe('zk-0.zk.data.svc:2181,zk-1.zk.data.svc:2181/capstan');
  });
});

describe('Redis', () => {
  it('stores the given password, immutable, and never one of its own', () => {
    const secret = find<V1Secret>(desiredState(minimalApp(), OBSERVED), 'Secret', 'hello-redis-auth');
    expect(secret.immutable).toBe(true);
    expect(Buffer.from(secret.data!.password!, 'base64').toString()).toBe(OBSERVED.redisPassword);
  });

  it('passes no Secret-backed variable on any command line (kubelet `$(VAR)` expansion)', () => {
    const containers = [minimalApp, productionApp, externalApp].flatMap((build) =>
      desiredState(build(), OBSERVED).flatMap((object) =>
        (podTemplate(object)?.spec?.containers ?? []).map((container) => ({
          object: ref(object),
          container,
        })),
      ),
    );
    expect(containers.length).toBeGreaterThan(0);
    for (const { object, container } of containers) {
      const argv = [...(container.command ?? []), ...(container.args ?? [])].join(' ');
      const expanded = (container.env ?? [])
        .filter((v) => v.valueFrom?.secretKeyRef !== undefined && argv.includes(`$(${v.name})`))
        .map((v) => v.name);
      expect({ object, container: container.name, expanded }).toEqual({
        object,
        container: container.name,
        expanded: [],
      });
    }
  });

  it('refuses to build without the generated password', () => {
    const withoutPassword = { zooKeeperCredentials: OBSERVED.zooKeeperCredentials! };
    expect(() => desiredState(minimalApp(), withoutPassword)).toThrow(/observed.redisPassword/);
  });
});

describe('ZooKeeper credentials', () => {
  const credentials = OBSERVED.zooKeeperCredentials!;
  const decoded = (secret: V1Secret, key: string): string =>
    Buffer.from(secret.data![key]!, 'base64').toString();

  it.each([
    ['in-cluster', minimalApp, 'hello'],
    ['external', externalApp, 'counters'],
  ])(
    'are kept in an immutable Secret for an %s ensemble, with the operator digest id',
    (_kind, build, name) => {
      const secret = find<V1Secret>(desiredState(build(), OBSERVED), 'Secret', `${name}-zookeeper-auth`);
      expect(secret.immutable).toBe(true);
      expect(decoded(secret, 'operator-password')).toBe(credentials.operatorPassword);
      expect(decoded(secret, 'worker-password')).toBe(credentials.workerPassword);
      expect(decoded(secret, 'operator-id')).toBe(digestId(OPERATOR_USER, credentials.operatorPassword));
    },
  );

  it('reach the workers by Secret reference: their own password and the operator id, never the operator password', () => {
    const objects = desiredState(minimalApp(), OBSERVED);
    const env = workerEnv(objects, 'hello-worker');
    expect(env.CAPSTAN_ZOOKEEPER_PASSWORD).toEqual({
      secretKeyRef: { name: 'hello-zookeeper-auth', key: 'worker-password' },
    });
    expect(env.CAPSTAN_ZOOKEEPER_OPERATOR_ID).toEqual({
      secretKeyRef: { name: 'hello-zookeeper-auth', key: 'operator-id' },
    });
    const set = find<V1StatefulSet>(objects, 'StatefulSet', 'hello-worker');
    const template = JSON.stringify(set.spec!.template);
    expect(template).not.toContain('operator-password');
    expect(template).not.toContain(credentials.workerPassword);
  });

  it('are required to build anything', () => {
    const withoutCredentials = { redisPassword: OBSERVED.redisPassword! };
    expect(() => desiredState(minimalApp(), withoutCredentials)).toThrow(/observed.zooKeeperCredentials/);
  });

  it('keeps the password out of the ConfigMap and sets maxmemory in bytes without persistence', () => {
    const config = find<V1ConfigMap>(
      desiredState(productionApp(), OBSERVED),
      'ConfigMap',
      'shop-redis-config',
    );
    const text = config.data!['redis.conf']!;
    expect(text).not.toContain(OBSERVED.redisPassword);
    expect(text).toContain('maxmemory 1073741824\n');
    expect(text).toContain('maxmemory-policy allkeys-lfu\n');
    expect(text).toContain('save ""\n');
    expect(text).toContain('appendonly no\n');
  });
});

describe('workers', () => {
  it('get the Sentry DSN from the referenced Secret, and none while that Secret is missing', () => {
    const app = productionApp();
    const withSecret = workerEnv(desiredState(app, OBSERVED), 'shop-worker');
    expect(withSecret.SENTRY_DSN).toEqual({ secretKeyRef: { name: 'shop-sentry', key: 'dsn' } });
    const without = workerEnv(
      desiredState(app, { ...OBSERVED, sentryDsnSecretExists: false }),
      'shop-worker',
    );
    expect(without.SENTRY_DSN).toBeUndefined();
  });

  it('name every ZooKeeper member by its stable DNS name in the connect string', () => {
    const env = workerEnv(desiredState(productionApp(), OBSERVED), 'shop-worker');
    expect(env.CAPSTAN_ZOOKEEPER_CONNECT).toBe(
      [0, 1, 2]
        .map((i) => `shop-zookeeper-${i}.shop-zookeeper-headless.demo.svc.cluster.local:2181`)
        .join(','),
    );
  });
});

describe('ZooKeeper', () => {
  it('names each member by its stable DNS name, ids from the ordinal', () => {
    const config = find<V1ConfigMap>(
      desiredState(productionApp(), OBSERVED),
      'ConfigMap',
      'shop-zookeeper-config',
    );
    const text = config.data!['zoo.cfg']!;
    for (const i of [0, 1, 2]) {
      expect(text).toContain(
        `server.${i + 1}=shop-zookeeper-${i}.shop-zookeeper-headless.demo.svc.cluster.local:2888:3888`,
      );
    }
    expect(text).toContain('4lw.commands.whitelist=ruok,srvr,mntr');
  });
});

/** The HAProxy binary (Debian installs it in /usr/sbin, which is not always on PATH). */
const HAPROXY = existsSync('/usr/sbin/haproxy') ? '/usr/sbin/haproxy' : 'haproxy';

describe('HAProxy config', () => {
  it.each([
    [1, 64, 8],
    [8, 64, 8],
    [9, 64, 16],
    [33, 64, 64],
    [64, 64, 64],
    [3, 4, 4],
    [100, 1024, 128],
  ])('gives %i workers of %i partitions %i server slots', (workers, partitions, slots) => {
    expect(haproxyServerSlots(workers, partitions)).toBe(slots);
  });

  const dir = mkdtempSync(join(tmpdir(), 'capstan-haproxy-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['minimal', minimalApp],
    ['production', productionApp],
  ])('of the %s app passes haproxy -c', (name, build) => {
    const app = build();
    const config = find<V1ConfigMap>(
      desiredState(app, OBSERVED),
      'ConfigMap',
      `${app.metadata.name}-haproxy-config`,
    );
    const text = config.data![HAPROXY_CONFIG_FILE]!;
    expect(text).toContain('parse-resolv-conf');
    expect(text).toContain(`resolvers dns`);
    // The config names files of the ConfigMap at its mount point: write them all here instead.
    const files = join(dir, name);
    mkdirSync(files, { recursive: true });
    for (const [key, value] of Object.entries(config.data!)) writeFileSync(join(files, key), value);
    const path = join(files, HAPROXY_CONFIG_FILE);
    writeFileSync(path, text.replaceAll(`${HAPROXY_CONFIG_DIR}/`, `${files}/`));
    expect(text).toContain(`map(${HAPROXY_CONFIG_DIR}/${HAPROXY_OWNER_MAP_FILE})`);
    expect(() => execFileSync(HAPROXY, ['-c', '-f', path], { stdio: 'pipe' })).not.toThrow();
  });
});
