/**
 * Capstan on the real nodes of the e2e cluster, through the steps `make demo` runs: the operator
 * installed with helm from the image built by `make images`, examples/minimal.yaml applied with
 * kubectl into a namespace that enforces Pod Security restricted, requests through the HAProxy
 * Service, and real failures (kill -9 of a worker container, deletion of the Redis pod).
 * Timings are printed, never asserted.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { request } from 'undici';
import {
  appPods,
  appUrls,
  applyApp,
  burst,
  deployUpstream,
  killWorkerContainer,
  podReady,
  upstreamFetches,
  waitAppReady,
  type PodJson,
} from '../../hack/demo/app-steps.ts';
import {
  OPERATOR_IMAGE,
  RESTRICTED_CONTAINER,
  applyObjects,
  getJson,
  installOperator,
  quietSteps,
  repoRoot,
  restrictedDeployment,
  restrictedNamespace,
  step,
  upstreamObjects,
  waitFor,
  type Steps,
} from '../../hack/demo/kube-steps.ts';
import { CAPSTAN_VERSION } from '../../operator/src/api/limits.ts';
import { forwardsFrom } from '../../workload/src/metrics.ts';
import { runLoad } from '../../workload/src/local/load.ts';
import { killContainer } from '../../hack/local-cluster/containers.ts';
import { toolsBin } from '../../hack/local-cluster/tools.ts';
import { freePort } from '../../workload/src/local/index.ts';
import { eventsMatching, loadKubeConfig, testKubeconfig } from '../harness/kube.ts';
import type { V1Secret } from '@kubernetes/client-node';
import { decodeAssignment } from '../../common/src/assignment-record.ts';
import { assignmentPath } from '../../common/src/zk-paths.ts';
import { operatorAccess } from '../../common/src/zookeeper-acl.ts';
import { connect } from '../../common/src/zookeeper-client.ts';
import { fourLetterWord } from '../../common/src/zookeeper-four-letter.ts';
import { credentialsOf } from '../../operator/src/controller/generated-secrets.ts';
import { portForwardTunnel } from '../../operator/src/coordination/zookeeper-tunnel.ts';
import { createLogger } from '../../operator/src/runtime/index.ts';
import { observeFailover, workerStatus } from '../../hack/demo/owner-sampler.ts';

const NAMESPACE = 'e2e-real';
const OPERATOR_NAMESPACE = 'capstan-system';
const IMAGE = `${OPERATOR_IMAGE.repository}:${CAPSTAN_VERSION}`;
const APP = 'hello';

interface PartitionsStatus {
  epoch?: number;
  byWorker?: Record<string, number>;
}

interface AppStatus {
  observedGeneration?: number;
  partitions?: PartitionsStatus;
  lastRebalance?: { time?: string; reason?: string; moved?: number };
}

function workerRestarts(pod: PodJson): number | undefined {
  return pod.status.containerStatuses?.find((c) => c.name === 'worker')?.restartCount;
}

async function cacheGet(base: string, key: string): Promise<{ status: number; cache: string | undefined }> {
  const response = await request(`${base}/v1/cache/${key}`, { headersTimeout: 10_000, bodyTimeout: 10_000 });
  await response.body.text();
  const cache = response.headers['x-cache'];
  return { status: response.statusCode, cache: typeof cache === 'string' ? cache : undefined };
}

/** Opens a TCP connection from inside `pod` and says how it went: `connected`, `timeout` or `error <code>`. */
async function tcpFrom(steps: Steps, pod: string, host: string, port: number): Promise<string> {
  const script = [
    `const s = require('node:net').connect({ host: '${host}', port: ${port}, timeout: 3000 });`,
    'const done = (what) => { console.log(what); process.exit(0); };',
    "s.on('connect', () => done('connected'));",
    "s.on('timeout', () => done('timeout'));",
    "s.on('error', (e) => done('error ' + e.code));",
  ].join(' ');
  const result = await step(steps, 'kubectl', ['exec', '-n', NAMESPACE, pod, '--', 'node', '-e', script]);
  return result.stdout.trim();
}

describe('on real nodes: the operator from helm runs examples/minimal.yaml', () => {
  let steps: Steps;
  let urls: { haproxy: string; upstream: string };

  beforeAll(async () => {
    steps = quietSteps(testKubeconfig());
    const started = Date.now();
    await installOperator(steps, OPERATOR_NAMESPACE, [`image.repository=${OPERATOR_IMAGE.repository}`]);
    await deployUpstream(steps, upstreamObjects('default', IMAGE), 'default');
    await restrictedNamespace(steps, NAMESPACE);
    await applyApp(steps, join(repoRoot, 'examples', 'minimal.yaml'), NAMESPACE);
    await waitAppReady(steps, NAMESPACE, APP);
    urls = await appUrls(steps, NAMESPACE, APP, 'default');
    console.log(`operator installed and ${NAMESPACE}/${APP} Ready in ${Date.now() - started} ms`);
  }, 600_000);

  afterAll(async () => {
    await step(steps, 'kubectl', ['delete', 'namespace', NAMESPACE, '--wait=false'], { allowFailure: true });
  });

  it('runs every component of the app and the operator on the real nodes, Ready through their own probes', async () => {
    const pods = await appPods(steps, NAMESPACE, APP);
    const byComponent = (c: string): PodJson[] =>
      pods.filter((p) => p.metadata.labels?.['app.kubernetes.io/component'] === c);
    expect(byComponent('worker')).toHaveLength(3);
    expect(byComponent('cache')).toHaveLength(1);
    expect(byComponent('coordination')).toHaveLength(1);
    expect(byComponent('load-balancer')).toHaveLength(1);
    const operators = await getJson<{ items: PodJson[] }>(steps, ['pods', '-n', OPERATOR_NAMESPACE]);
    expect(operators?.items).toHaveLength(2);
    for (const pod of [...pods, ...(operators?.items ?? [])]) {
      expect({
        pod: pod.metadata.name,
        node: pod.spec.nodeName?.startsWith('capstan-node-'),
        ready: podReady(pod),
      }).toEqual({
        pod: pod.metadata.name,
        node: true,
        ready: true,
      });
    }
  });

  it("passes the chart's own test (helm test): the operator answers through its metrics Service", async () => {
    const result = await step(steps, 'helm', [
      'test',
      'capstan',
      '--namespace',
      OPERATOR_NAMESPACE,
      '--timeout=3m',
    ]);
    expect(result.stdout).toMatch(/Phase:\s+Succeeded/);
  });

  it("serves the operator's dashboard through kubectl port-forward, behind a Kubernetes token", async () => {
    const port = await freePort();
    const forward = spawn(
      join(toolsBin(), 'kubectl'),
      [
        '--kubeconfig',
        testKubeconfig(),
        'port-forward',
        '-n',
        OPERATOR_NAMESPACE,
        'deploy/capstan-operator',
        `${port}:8082`,
      ],
      { stdio: 'ignore' },
    );
    try {
      const api = `http://127.0.0.1:${port}/api/v1/apps`;
      const without = await waitFor('the dashboard through the port-forward', async () => {
        const response = await fetch(api).catch(() => undefined);
        return response?.status;
      });
      // Bound beyond loopback in its pod, it asks for a token: the operator's own ServiceAccount may read the apps.
      const token = (
        await step(steps, 'kubectl', ['create', 'token', 'capstan-operator', '-n', OPERATOR_NAMESPACE])
      ).stdout.trim();
      const withToken = await fetch(api, { headers: { authorization: `Bearer ${token}` } });
      const apps = (await withToken.json()) as { items?: { namespace: string; name: string }[] };
      const page = await fetch(`http://127.0.0.1:${port}/`);
      console.log(
        `dashboard via port-forward: without a token ${without}, with one ${withToken.status}, page ${page.status}`,
      );
      expect(without).toBe(401);
      expect(withToken.status).toBe(200);
      expect(apps.items?.some((a) => a.namespace === NAMESPACE && a.name === APP)).toBe(true);
      expect(page.status).toBe(200);
    } finally {
      forward.kill('SIGTERM');
    }
  });

  it('enforces Pod Security restricted in the namespace: the app was admitted, a root pod is not', async () => {
    const rejected = await step(
      steps,
      'kubectl',
      [
        'run',
        'root-shell',
        '-n',
        NAMESPACE,
        `--image=${IMAGE}`,
        '--overrides={"spec":{"securityContext":{"runAsUser":0}}}',
        '--',
        'sleep',
        '1',
      ],
      { allowFailure: true },
    );
    expect(rejected.code).not.toBe(0);
    expect(rejected.stderr).toMatch(/violates PodSecurity "restricted/);
  });

  it("enforces the app's NetworkPolicies: a pod outside the app cannot reach Redis or ZooKeeper, a worker can", async () => {
    const labels = { 'app.kubernetes.io/name': 'outsider' };
    const container = {
      name: 'outsider',
      image: IMAGE,
      command: ['node', '-e', 'setInterval(() => {}, 1 << 30)'],
      securityContext: RESTRICTED_CONTAINER,
    };
    await applyObjects(
      steps,
      [restrictedDeployment({ name: 'outsider', namespace: NAMESPACE, labels }, { containers: [container] })],
      'outsider.yaml',
    );
    await step(steps, 'kubectl', [
      'rollout',
      'status',
      'deployment/outsider',
      '-n',
      NAMESPACE,
      '--timeout=120s',
    ]);
    const outsider = (
      await getJson<{ items: PodJson[] }>(steps, [
        'pods',
        '-n',
        NAMESPACE,
        '-l',
        'app.kubernetes.io/name=outsider',
      ])
    )?.items.find(podReady);
    const [worker] = await appPods(steps, NAMESPACE, APP, 'worker');
    const targets = { redis: [`${APP}-redis`, 6379], zookeeper: [`${APP}-zookeeper`, 2181] } as const;
    const reach = async (pod: string): Promise<Record<string, string>> => ({
      redis: await tcpFrom(steps, pod, ...targets.redis),
      zookeeper: await tcpFrom(steps, pod, ...targets.zookeeper),
      // Not behind a policy: shows that the pod's network works and only the policies stop it.
      upstream: await tcpFrom(steps, pod, 'backend.default.svc', 8080),
    });
    const fromOutsider = await reach(outsider!.metadata.name);
    const fromWorker = await reach(worker!.metadata.name);
    console.log(
      `from outsider: ${JSON.stringify(fromOutsider)}; from a worker: ${JSON.stringify(fromWorker)}`,
    );
    expect(fromOutsider).toEqual({ redis: 'timeout', zookeeper: 'timeout', upstream: 'connected' });
    expect(fromWorker).toEqual({ redis: 'connected', zookeeper: 'connected', upstream: 'connected' });
  }, 240_000);

  it('reaches the in-cluster ZooKeeper through the API server, as make run does (--zookeeper-access=port-forward)', async () => {
    const secret = await getJson<V1Secret>(steps, ['secret', `${APP}-zookeeper-auth`, '-n', NAMESPACE]);
    const credentials = credentialsOf(secret);
    expect(credentials).toBeDefined();
    const tunnel = await portForwardTunnel(loadKubeConfig(), createLogger({ level: 'silent' })).open({
      namespace: NAMESPACE,
      pods: [`${APP}-zookeeper-0`],
      port: 2181,
    });
    try {
      const [host, port] = tunnel.connectString.split(':');
      expect(host).toBe('127.0.0.1');
      expect(await fourLetterWord(host!, Number(port), 'ruok', { timeoutMs: 10_000 })).toBe('imok');
      const client = await connect({ connectString: tunnel.connectString, ...operatorAccess(credentials!) });
      try {
        const record = decodeAssignment(
          (await client.get(assignmentPath({ namespace: NAMESPACE, app: APP }))).data,
        );
        expect(record.partitions).toHaveLength(64);
      } finally {
        await client.close();
      }
    } finally {
      await tunnel.close();
    }
  }, 120_000);

  it("guards the app's ZooKeeper paths with its digest ACLs: a worker reads the assignment but cannot write it, anyone else reads nothing", async () => {
    const [worker] = await appPods(steps, NAMESPACE, APP, 'worker');
    // Inside a worker container: its own client module, the worker identity from its environment.
    const script = [
      "const { connect } = await import('/app/common/src/zookeeper-client.js');",
      "const { workerAccess } = await import('/app/common/src/zookeeper-acl.js');",
      'const e = process.env; const path = `/capstan/${e.CAPSTAN_NAMESPACE}/${e.CAPSTAN_APP_NAME}/assignment`;',
      'const outcome = (p) => p.then(() => "ok", (err) => err.code);',
      'const open = (access) => connect({ connectString: e.CAPSTAN_ZOOKEEPER_CONNECT, ...access });',
      'const anonymous = await open({});',
      'const worker = await open(workerAccess(e.CAPSTAN_ZOOKEEPER_PASSWORD, e.CAPSTAN_ZOOKEEPER_OPERATOR_ID));',
      'const result = { anonymousRead: await outcome(anonymous.get(path)), workerRead: await outcome(worker.get(path)),',
      '  workerWrite: await outcome(worker.set(path, "{}")), anonymousCreate: await outcome(anonymous.create(path + "-x")) };',
      'console.log(JSON.stringify(result)); await anonymous.close(); await worker.close(); process.exit(0);',
    ].join(' ');
    const result = await step(steps, 'kubectl', [
      ...['exec', '-n', NAMESPACE, worker!.metadata.name, '-c', 'worker', '--'],
      ...['node', '--input-type=module', '-e', script],
    ]);
    expect(JSON.parse(result.stdout.trim().split('\n').at(-1)!)).toEqual({
      anonymousRead: 'NO_AUTH',
      workerRead: 'ok',
      workerWrite: 'NO_AUTH',
      anonymousCreate: 'NO_AUTH',
    });
  }, 120_000);

  it('serves requests through the HAProxy Service; a repeated key is a hit; concurrent misses of a key make one fetch', async () => {
    const first = await burst(urls, { prefix: 'e2e', requests: 200, keys: 50 });
    console.log(`burst: ok=${first.load.ok} failed=${first.load.failed} fetches=${first.upstreamFetches}`);
    expect(first.load.ok).toBe(200);
    expect(first.maxFetchesPerKey).toBe(1);
    expect(await cacheGet(urls.haproxy, 'e2e-0')).toEqual({ status: 200, cache: 'hit' });
    const results = await Promise.all(
      Array.from({ length: 40 }, () => cacheGet(urls.haproxy, 'e2e-together')),
    );
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect((await upstreamFetches(urls.upstream)).get('e2e-together')).toBe(1);
  });

  /**
   * The workers and one that never restarted: the kubelet restarts that one at once, without a back-off
   * (which would make a crash loop the operator acts on), and the operator counts no earlier restart.
   * When every worker restarted already (a slow start), one pod is recreated, and the partitions are
   * balanced over all three again, each worker serving what the status says.
   */
  async function workerWithoutRestarts(
    ownedBy: (url: string) => Promise<number[]>,
  ): Promise<{ workers: PodJson[]; victim: PodJson }> {
    const first = await appPods(steps, NAMESPACE, APP, 'worker');
    if (!first.some((p) => workerRestarts(p) === 0))
      await step(steps, 'kubectl', [
        'delete',
        'pod',
        '-n',
        NAMESPACE,
        first[0]!.metadata.name,
        '--wait=true',
      ]);
    return waitFor(
      'a worker without restarts, partitions balanced and served',
      async () => {
        const workers = await appPods(steps, NAMESPACE, APP, 'worker');
        const victim = workers.find((p) => workerRestarts(p) === 0 && podReady(p));
        const byWorker = (await appStatus()).partitions?.byWorker ?? {};
        const counts = workers.map((p) => byWorker[p.metadata.name] ?? 0);
        if (!victim || workers.length !== 3 || Math.max(...counts) - Math.min(...counts) > 1)
          return undefined;
        const served = await ownedBy(`http://${victim.status.podIP}:8080`);
        return served.length === byWorker[victim.metadata.name] ? { workers, victim } : undefined;
      },
      180_000,
    );
  }

  const appStatus = async (): Promise<AppStatus> =>
    (await getJson<{ status?: AppStatus }>(steps, ['dapp', APP, '-n', NAMESPACE]))?.status ?? {};

  it("sends each request straight to its partition's owner: once HAProxy's owner map is in step, no worker forwards", async () => {
    const workers = await appPods(steps, NAMESPACE, APP, 'worker');
    const forwarded = async (): Promise<number> => {
      let sum = 0;
      for (const pod of workers) {
        const text = await (await fetch(`http://${pod.status.podIP}:8080/metrics`)).text();
        sum += forwardsFrom(text).ok ?? 0;
      }
      return sum;
    };
    // The owner-map container beside HAProxy fills the map after the pod starts: wait for a clean burst.
    const clean = await waitFor('a burst through HAProxy with no forward', async () => {
      const before = await forwarded();
      const b = await burst(urls, { prefix: `routed-${Date.now()}`, requests: 100, keys: 50 });
      return b.load.ok === 100 && (await forwarded()) === before ? b : undefined;
    });
    const before = await forwarded();
    const again = await burst(urls, { prefix: `routed-again-${Date.now()}`, requests: 200, keys: 100 });
    console.log(
      `owner-routed bursts: ${clean.load.ok} then ${again.load.ok} ok; forwards during the second: ${(await forwarded()) - before}`,
    );
    expect(again.load.ok).toBe(200);
    expect((await forwarded()) - before).toBe(0);
  });

  it('restarts a worker killed with kill -9 in its pod: nothing moves, it serves its own partitions again, never two owners', async () => {
    const partitions = async (): Promise<PartitionsStatus> => (await appStatus()).partitions ?? {};
    // "Within the delay nothing moves": a delay long enough that a restart slowed by a loaded machine
    // still comes inside it. The operator has taken it once the status observed the new generation.
    await step(steps, 'kubectl', [
      'patch',
      'dapp',
      APP,
      '-n',
      NAMESPACE,
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { failurePolicy: { rebalanceDelaySeconds: 60 } } }),
    ]);
    await waitFor('the operator observing the longer rebalance delay', async () => {
      const app = await getJson<{ metadata: { generation: number }; status?: AppStatus }>(steps, [
        'dapp',
        APP,
        '-n',
        NAMESPACE,
      ]);
      return app && app.status?.observedGeneration === app.metadata.generation ? true : undefined;
    });
    const ownedBy = async (url: string): Promise<number[]> =>
      ((await workerStatus(url))?.owned ?? []).sort((a, b) => a - b);
    const { workers, victim } = await workerWithoutRestarts(ownedBy);
    const before = await partitions();
    const workerUrls = workers.map((p) => `http://${p.status.podIP}:8080`);
    const victimUrl = `http://${victim.status.podIP}:8080`;
    const ownedBefore = await ownedBy(victimUrl);
    expect(ownedBefore.length).toBeGreaterThan(0);
    const observers = observeFailover({ haproxy: urls.haproxy, prefix: 'during-kill', keys: 40, workerUrls });
    const killedAt = Date.now();
    const kill = await killWorkerContainer(steps, NAMESPACE, victim.metadata.name).catch(
      async (error: unknown) => {
        await observers.stop();
        throw error;
      },
    );
    const ownedAgain = await waitFor('the restarted worker serving its partitions again', async () => {
      const now = await ownedBy(victimUrl);
      return now.length === ownedBefore.length ? now : undefined;
    });
    const servedAfterMs = Date.now() - killedAt;
    const { load: during, owners: sampled } = await observers.stop();
    const after = await partitions();
    console.log(
      `kill -9 ${kill.pid} in ${kill.pod} on ${kill.node}: restarts ${kill.restartsBefore} -> ${kill.restartsAfter}; ` +
        `its ${ownedBefore.length} partitions served again ${servedAfterMs} ms after the kill; ` +
        `GETs meanwhile: ${during.ok} ok, ${during.failed} failed ${JSON.stringify(Object.fromEntries(during.failures))}; ` +
        `${sampled.rounds} ownership samples; last rebalance ${JSON.stringify((await appStatus()).lastRebalance)}`,
    );
    expect(kill.restartsAfter).toBe(kill.restartsBefore + 1);
    expect(kill.exitCode).toBe(137);
    expect(ownedAgain).toEqual(ownedBefore);
    expect({ epoch: after.epoch, byWorker: after.byWorker }).toEqual({
      epoch: before.epoch,
      byWorker: before.byWorker,
    });
    expect(sampled.rounds).toBeGreaterThan(0);
    expect(sampled.doubles).toEqual([]);
    const next = await waitFor('a burst served in full after the restart', async () => {
      const b = await burst(urls, { prefix: `after-kill-${Date.now()}`, requests: 60, keys: 20 });
      return b.load.ok === 60 ? b : undefined;
    });
    expect(next.maxFetchesPerKey).toBe(1);
  }, 240_000);

  it('serves from the upstream while the Redis pod is replaced, then caches again', async () => {
    const [redis] = await appPods(steps, NAMESPACE, APP, 'cache');
    await step(steps, 'kubectl', ['delete', 'pod', '-n', NAMESPACE, redis!.metadata.name, '--wait=false']);
    const bypassed = await waitFor('a request served with the cache bypassed', async () => {
      const r = await cacheGet(urls.haproxy, `no-redis-${Date.now()}`);
      return r.status === 200 && r.cache === 'bypass' ? r : undefined;
    });
    expect(bypassed.status).toBe(200);
    const key = `redis-back-${Date.now()}`;
    await waitFor(
      'Redis back: a miss, then a hit',
      async () => {
        const pods = await appPods(steps, NAMESPACE, APP, 'cache');
        if (!pods.some((p) => p.metadata.uid !== redis!.metadata.uid && podReady(p))) return undefined;
        await cacheGet(urls.haproxy, key);
        const again = await cacheGet(urls.haproxy, key);
        return again.cache === 'hit' ? again : undefined;
      },
      180_000,
    );
  }, 240_000);

  it('scales down 3 -> 2: the partitions leave the worker that goes before its pod stops, with the leading operator killed with -9 meanwhile', async () => {
    const going = `${APP}-worker-2`;
    const goingIp = (await getJson<PodJson>(steps, ['pod', going, '-n', NAMESPACE]))?.status.podIP;
    const lease = await getJson<{ spec?: { holderIdentity?: string } }>(steps, [
      'lease',
      'capstan-operator',
      '-n',
      OPERATOR_NAMESPACE,
    ]);
    const leader = await getJson<PodJson>(steps, [
      'pod',
      lease?.spec?.holderIdentity?.replace(/_[^_]*$/, '') ?? '',
      '-n',
      OPERATOR_NAMESPACE,
    ]);
    let stop = false;
    const load = runLoad({
      url: (i) => `${urls.haproxy}/v1/cache/scale-${i % 40}`,
      concurrency: 4,
      total: 100_000,
      maxMs: 240_000,
      stop: () => stop,
    });
    // What the going worker served when its pod was first seen terminating (undefined: not seen).
    let servedWhenStopping: number[] | undefined;
    const watch = (async () => {
      while (!stop && servedWhenStopping === undefined) {
        const pod = await getJson<PodJson>(steps, ['pod', going, '-n', NAMESPACE]);
        if (pod === undefined) break;
        if (pod.metadata.deletionTimestamp !== undefined) {
          const response = await request(`http://${goingIp}:8080/_capstan/status`).catch(() => undefined);
          servedWhenStopping = response ? ((await response.body.json()) as { owned: number[] }).owned : [];
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    await step(steps, 'kubectl', ['scale', 'dapp', APP, '-n', NAMESPACE, '--replicas=2']);
    const killed = await killContainer(
      leader!.status.containerStatuses!.find((c) => c.name === 'operator')!.containerID!,
    );
    const done = await waitFor(
      `${going} gone and every partition served by the 2 others`,
      async () => {
        const app = await getJson<{ status?: { partitions?: PartitionsStatus & { owned?: number } } }>(
          steps,
          ['dapp', APP, '-n', NAMESPACE],
        );
        const pods = await appPods(steps, NAMESPACE, APP, 'worker');
        const workers = Object.keys(app?.status?.partitions?.byWorker ?? {}).sort();
        return pods.length === 2 && app?.status?.partitions?.owned === 64 ? workers : undefined;
      },
      180_000,
    );
    stop = true;
    const [during] = await Promise.all([load, watch]);
    const events = await eventsMatching(NAMESPACE, `involvedObject.name=${APP}`);
    const reasons = new Set(events.map((e) => e.reason));
    console.log(
      `scale 3 -> 2 with the leader (${leader!.metadata.name}, pid ${killed}) killed: ${going} served ` +
        `${JSON.stringify(servedWhenStopping)} when seen terminating; GETs meanwhile: ${during.ok} ok, ` +
        `${during.failed} failed ${JSON.stringify(Object.fromEntries(during.failures))}`,
    );
    expect(done).toEqual([`${APP}-worker-0`, `${APP}-worker-1`]);
    expect(servedWhenStopping).toEqual([]);
    expect([reasons.has('DrainStarted'), reasons.has('DrainFinished')]).toEqual([true, true]);
  }, 300_000);

  it('rolls the operator on helm upgrade with a changed value', async () => {
    const operatorPods = async (): Promise<PodJson[]> =>
      (await getJson<{ items: PodJson[] }>(steps, ['pods', '-n', OPERATOR_NAMESPACE]))?.items ?? [];
    const oldNames = new Set((await operatorPods()).map((p) => p.metadata.name));
    await installOperator(steps, OPERATOR_NAMESPACE, [
      `image.repository=${OPERATOR_IMAGE.repository}`,
      'logLevel=debug',
    ]);
    // helm --wait returns once the new pods are Ready; the old ones may still be terminating.
    const rolled = await waitFor('two new operator pods Ready and the old ones gone', async () => {
      const pods = await operatorPods();
      const current = pods.filter((p) => p.metadata.deletionTimestamp === undefined);
      return pods.length === 2 && current.length === 2 && current.every(podReady) ? current : undefined;
    });
    expect(rolled.some((p) => oldNames.has(p.metadata.name))).toBe(false);
  }, 360_000);
});
