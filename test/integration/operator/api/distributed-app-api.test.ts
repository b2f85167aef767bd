import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { CRD_NAME, CRD_PATH } from '../../../../operator/src/api/crd.ts';
import { applySpecDefaults } from '../../../../operator/src/api/defaults.ts';
import type { DistributedApp } from '../../../../operator/src/api/schema.ts';
import { createNamespace, kubectl, waitFor, waitCrdEstablished } from '../../../harness/kube.ts';
import { INVALID_CASES, baseApp } from './invalid-cases.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../../..');
const examples = readdirSync(join(root, 'examples')).filter((f) => f.endsWith('.yaml'));
let ns = '';

async function getApp(name: string): Promise<DistributedApp> {
  const { stdout } = await kubectl(['get', 'dapp', name, '-n', ns, '-o', 'json']);
  return JSON.parse(stdout) as DistributedApp;
}

/** Creates `app` with server-side dry run and strict field validation; returns the failure text. */
async function rejection(app: object): Promise<string | undefined> {
  const args = ['create', '--dry-run=server', '--validate=strict', '-n', ns, '-f', '-', '-o', 'name'];
  const result = await kubectl(args, { input: JSON.stringify(app), allowFailure: true });
  return result.code === 0 ? undefined : result.stderr.trim();
}

beforeAll(async () => {
  await kubectl(['apply', '--server-side', '--force-conflicts', '-f', join(root, CRD_PATH)]);
  await waitCrdEstablished(CRD_NAME);
  ns = await createNamespace('api');
  await waitFor('the dapp resource in discovery', async () => {
    const result = await kubectl(['get', 'dapp', '-n', ns], { allowFailure: true });
    return result.code === 0 ? true : undefined;
  });
}, 120_000);

afterAll(async () => {
  if (ns) await kubectl(['delete', 'namespace', ns, '--wait=false'], { allowFailure: true });
});

describe('examples', () => {
  it.each(examples)('%s is accepted and stored with every default', async (file) => {
    const text = readFileSync(join(root, 'examples', file), 'utf8');
    const written = parse(text) as DistributedApp;
    await kubectl(['apply', '--server-side', '--validate=strict', '-n', ns, '-f', '-'], { input: text });
    const stored = await getApp(written.metadata.name!);
    expect(stored.spec).toEqual(applySpecDefaults(written.spec));
  });

  it('the stored minimal app shows the defaults of every component', async () => {
    const { spec } = await getApp('hello');
    expect(spec.workers).toMatchObject({ replicas: 3, partitions: 64, app: 'cache-gateway' });
    expect(spec.cache.redis).toEqual({ image: 'redis:7', maxMemory: '256Mi', evictionPolicy: 'allkeys-lru' });
    expect(spec.coordination.zookeeper).toMatchObject({ replicas: 1, storage: { size: '1Gi' } });
    expect(spec.loadBalancer.haproxy).toMatchObject({ replicas: 1, algorithm: 'roundrobin' });
    expect(spec.loadBalancer.haproxy.service).toEqual({ type: 'ClusterIP', port: 80 });
    expect(spec.failurePolicy).toEqual({
      rebalanceDelaySeconds: 10,
      crashLoopRestartAfterSeconds: 60,
      forceDeletePodsOnFailedNodes: false,
    });
  });
});

describe('invalid objects are rejected at admission, naming the field', () => {
  const messages: Record<string, string> = {};
  afterAll(() => {
    const out = process.env.CAPSTAN_API_MESSAGES_OUT;
    if (out) writeFileSync(out, JSON.stringify(messages, null, 2));
  });

  it('the valid base object is accepted', async () => {
    expect(await rejection(baseApp('base'))).toBeUndefined();
  });

  it.each(INVALID_CASES.map((c) => [c.name, c] as const))('%s', async (_name, invalid) => {
    const app = baseApp('invalid');
    invalid.edit(app);
    const message = await rejection(app);
    messages[invalid.name] = message ?? '(accepted)';
    expect(message).toContain(invalid.field);
  });
});

describe('updates', () => {
  beforeAll(async () => {
    await kubectl(['create', '-n', ns, '-f', '-'], { input: JSON.stringify(baseApp('updates')) });
  });

  it('rejects switching coordination to another ZooKeeper, and still accepts scaling the ensemble', async () => {
    const patch = JSON.stringify({
      spec: { coordination: { zookeeper: null, external: { connectString: 'zk-0.zk:2181' } } },
    });
    const result = await kubectl(['patch', 'dapp', 'updates', '-n', ns, '--type=merge', '-p', patch], {
      allowFailure: true,
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('spec.coordination');
    expect(result.stderr).toContain("partitions' epochs live in that ZooKeeper");
    expect((await getApp('updates')).spec.coordination).toEqual({ zookeeper: expect.anything() });
    const scale = JSON.stringify({ spec: { coordination: { zookeeper: { replicas: 3 } } } });
    await kubectl(['patch', 'dapp', 'updates', '-n', ns, '--type=merge', '-p', scale]);
    expect((await getApp('updates')).spec.coordination?.zookeeper?.replicas).toBe(3);
  });

  it('rejects a change of the partition count', async () => {
    const patch = JSON.stringify({ spec: { workers: { partitions: 128 } } });
    const result = await kubectl(['patch', 'dapp', 'updates', '-n', ns, '--type=merge', '-p', patch], {
      allowFailure: true,
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('spec.workers.partitions');
    expect(result.stderr).toContain('immutable');
    expect((await getApp('updates')).spec.workers.partitions).toBe(64);
  });

  it('kubectl scale changes spec.workers.replicas', async () => {
    await kubectl(['scale', 'dapp', 'updates', '-n', ns, '--replicas=5']);
    expect((await getApp('updates')).spec.workers.replicas).toBe(5);
  });

  it('a status write does not bump metadata.generation; a spec change does', async () => {
    const before = await getApp('updates');
    const status = {
      status: { phase: 'Running', selector: 'app=updates', workers: { desired: 5, ready: 2 } },
    };
    await kubectl([
      'patch',
      'dapp',
      'updates',
      '-n',
      ns,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify(status),
    ]);
    const afterStatus = await getApp('updates');
    expect(afterStatus.status?.phase).toBe('Running');
    expect(afterStatus.metadata.generation).toBe(before.metadata.generation);

    const spec = JSON.stringify({ spec: { workers: { replicas: 4 } } });
    await kubectl(['patch', 'dapp', 'updates', '-n', ns, '--type=merge', '-p', spec]);
    expect((await getApp('updates')).metadata.generation).toBe(before.metadata.generation! + 1);
  });

  it('the scale subresource reports the selector and replicas an HPA needs', async () => {
    const path = `/apis/capstan.dev/v1alpha1/namespaces/${ns}/distributedapps/updates/scale`;
    const scale = JSON.parse((await kubectl(['get', '--raw', path])).stdout) as {
      spec: { replicas: number };
      status: { selector?: string };
    };
    expect(scale.spec.replicas).toBe(4);
    expect(scale.status.selector).toBe('app=updates');
  });

  it('kubectl get shows the printer columns and the capstan category lists the app', async () => {
    const { stdout } = await kubectl(['get', 'dapp', 'updates', '-n', ns]);
    expect(stdout.split('\n')[0]).toMatch(/NAME\s+READY\s+DESIRED\s+PARTITIONS\s+OWNED\s+PHASE\s+AGE/);
    // No coordinator runs here, so Owned is empty.
    expect(stdout).toMatch(/updates\s+2\s+4\s+64\s+Running/);
    const all = await kubectl(['get', 'capstan', '-n', ns, '-o', 'name']);
    expect(all.stdout).toContain('distributedapp.capstan.dev/updates');
  });
});

describe('kubectl explain', () => {
  it('prints the descriptions of spec.workers', async () => {
    const out = await waitFor('kubectl explain to know the schema', async () => {
      const result = await kubectl(['explain', 'distributedapp.spec.workers'], { allowFailure: true });
      return result.code === 0 && result.stdout.includes('partitions') ? result.stdout : undefined;
    });
    const text = out.replace(/\s+/g, ' ');
    expect(text).toContain('The worker pods: image, count, partitions');
    expect(text).toContain('Immutable: changing it would remap every key. Default: 64.');
    expect(text).toContain('upstream <string> Base URL (http or https) of the upstream service');
  });
});
