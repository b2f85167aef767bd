import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { CoreV1Api, Watch, type V1Pod, type V1StatefulSet } from '@kubernetes/client-node';
import type { DistributedApp } from '../../../../operator/src/api/schema.ts';
import { CONFIG_CHECKSUM_ANNOTATION } from '../../../../operator/src/model/checksum.ts';
import { kubectl, loadKubeConfig, waitFor, eventsMatching } from '../../../harness/kube.ts';
import { applyApp, condition, getJson, waitForReady } from './helpers.ts';
import {
  metricsText,
  writeRequests,
  operatorSandbox,
  startLeader,
  type OperatorProcess,
  type OperatorSandbox,
} from './operator-process.ts';

const APP = 'zk';
const SET = `${APP}-zookeeper`;
const SELECTOR = `app.kubernetes.io/instance=${APP},app.kubernetes.io/name=zookeeper`;

function spec(zookeeper: Record<string, unknown>): unknown {
  return {
    workers: { upstream: 'http://backend.default.svc:8080', replicas: 1 },
    loadBalancer: { haproxy: { algorithm: 'roundrobin' } },
    coordination: { zookeeper },
  };
}

function isReady(pod: V1Pod): boolean {
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
  return ready && pod.metadata?.deletionTimestamp == null;
}

/**
 * Follows the ZooKeeper pods through a watch and remembers, for every member that starts going away (its
 * deletion seen first), how many of the other members were missing, not Ready or terminating at that
 * moment: the roller restarts a member only while all the others are up. A watch sees every change in
 * order, so no state between two changes is missed; a poll every 200 ms would miss most of them, because
 * kwok replaces a deleted pod by a Ready one faster than that. (The most members down at any moment is
 * kept too, for the log: it also counts what the roller does not cause, such as the node lifecycle
 * controller marking the pods of a kwok node NotReady while a loaded machine delays the node's lease.)
 */
class QuorumWatcher {
  readonly #kc = loadKubeConfig();
  readonly #namespace: string;
  readonly #members: number;
  readonly #pods = new Map<string, V1Pod>();
  #abort: AbortController | undefined;
  /** Most of members 0..members-1 missing, not Ready or terminating at once. */
  maxDown = 0;
  /** Members seen starting to go away (deleted, or given a deletion timestamp). */
  deletions = 0;
  /** Most of the other members down when one started to go away. */
  maxOthersDownAtDeletion = 0;
  changes = 0;

  constructor(namespace: string, members: number) {
    this.#namespace = namespace;
    this.#members = members;
  }

  async start(): Promise<void> {
    const list = await this.#kc.makeApiClient(CoreV1Api).listNamespacedPod({
      namespace: this.#namespace,
      labelSelector: SELECTOR,
    });
    for (const pod of list.items) this.#pods.set(pod.metadata?.name ?? '', pod);
    this.#observe();
    this.#abort = await new Watch(this.#kc).watch(
      `/api/v1/namespaces/${this.#namespace}/pods`,
      { labelSelector: SELECTOR, resourceVersion: list.metadata?.resourceVersion },
      (phase, pod: V1Pod) => {
        this.#noteDeletion(phase, pod);
        if (phase === 'DELETED') this.#pods.delete(pod.metadata?.name ?? '');
        else if (phase === 'ADDED' || phase === 'MODIFIED') this.#pods.set(pod.metadata?.name ?? '', pod);
        this.changes++;
        this.#observe();
      },
      () => undefined,
    );
  }

  stop(): void {
    this.#abort?.abort();
  }

  /** Before `pod`'s change is applied: whether it is the first sign of its deletion, and who is down then. */
  #noteDeletion(phase: string, pod: V1Pod): void {
    const name = pod.metadata?.name ?? '';
    const known = this.#pods.get(name);
    if (known === undefined || known.metadata?.deletionTimestamp != null) return;
    if (phase !== 'DELETED' && pod.metadata?.deletionTimestamp == null) return;
    this.deletions++;
    this.maxOthersDownAtDeletion = Math.max(this.maxOthersDownAtDeletion, this.#down(name));
  }

  #observe(): void {
    this.maxDown = Math.max(this.maxDown, this.#down());
  }

  /** Members missing, not Ready or terminating, leaving out `except`. */
  #down(except?: string): number {
    let down = 0;
    for (let ordinal = 0; ordinal < this.#members; ordinal++) {
      const name = `${SET}-${ordinal}`;
      const pod = this.#pods.get(name);
      if (name !== except && (pod === undefined || !isReady(pod))) down++;
    }
    return down;
  }
}

async function statefulSet(namespace: string): Promise<V1StatefulSet> {
  const set = await getJson<V1StatefulSet>('statefulset', SET, namespace);
  if (set === undefined) throw new Error(`${SET} missing`);
  return set;
}

/** Waits until `replicas` members are Ready on a new update revision that is also the current one. */
async function waitForRolled(namespace: string, replicas: number, before: string): Promise<void> {
  await waitFor(
    `${replicas} ZooKeeper members Ready on a revision other than ${before}`,
    async () => {
      const set = await statefulSet(namespace);
      const revision = set.status?.updateRevision;
      if (revision === undefined || revision === before) return undefined;
      const { stdout } = await kubectl(['get', 'pods', '-n', namespace, '-l', SELECTOR, '-o', 'json']);
      const pods = (JSON.parse(stdout) as { items: V1Pod[] }).items;
      const rolled = pods.filter(
        (pod) => isReady(pod) && pod.metadata?.labels?.['controller-revision-hash'] === revision,
      );
      return rolled.length === replicas && set.status?.currentRevision === revision ? true : undefined;
    },
    180_000,
  );
}

/** Names of the pods in ZooKeeperMemberRestarted events, in the order they were recorded. */
async function restartEvents(namespace: string): Promise<string[]> {
  const events = await eventsMatching(
    namespace,
    `involvedObject.name=${APP},reason=ZooKeeperMemberRestarted`,
  );
  return events.map((event) => /member (\S+)/.exec(event.message)?.[1] ?? '');
}

/** Successful reconciles of the DistributedApp controller so far. */
function reconciles(metrics: string): number {
  const match = /controller_runtime_reconcile_total\{[^}]*result="success"[^}]*\} (\d+)/.exec(metrics);
  return Number(match?.[1] ?? 0);
}

describe('ZooKeeper rolling restarts (operator process)', () => {
  let namespace: string;
  let sandbox: OperatorSandbox | undefined;
  let operator: OperatorProcess;

  beforeAll(async () => {
    sandbox = await operatorSandbox('op-zk', 5);
    namespace = sandbox.namespace;
    // A short resync, to show that revisiting converged apps writes nothing.
    operator = await startLeader(sandbox, 'zk', { extraArgs: ['--sync-period=1s'] });
    await applyApp(namespace, APP, spec({ replicas: 3 }));
    await waitForReady(namespace, APP, 180_000);
  });

  afterAll(async () => {
    await operator?.stop();
    await sandbox?.cleanup();
  });

  // kwok's stand-in pods have fake IPs that answer no `srvr`: the roller falls back to the ordinal order.
  it('restarts one member at a time, highest ordinal first, when the pod template changes', async () => {
    const before = await statefulSet(namespace);
    const watcher = new QuorumWatcher(namespace, 3);
    await watcher.start();
    try {
      await applyApp(namespace, APP, spec({ replicas: 3, resources: { requests: { cpu: '150m' } } }));
      await waitForRolled(namespace, 3, before.status?.updateRevision ?? '');
      const app = await waitForReady(namespace, APP, 120_000);
      expect(condition(app, 'Progressing')).toMatchObject({ status: 'False', reason: 'RolloutComplete' });
    } finally {
      watcher.stop();
    }
    expect(watcher.changes).toBeGreaterThanOrEqual(9);
    console.log(`most members down at once: ${watcher.maxDown}; deletions seen: ${watcher.deletions}`);
    expect(watcher.deletions).toBeGreaterThanOrEqual(3);
    expect(watcher.maxOthersDownAtDeletion).toBe(0);
    expect(await restartEvents(namespace)).toEqual([`${SET}-2`, `${SET}-1`, `${SET}-0`]);
  });

  it('rolls the existing members when the rendered zoo.cfg changes, keeping quorum', async () => {
    const before = await statefulSet(namespace);
    const checksum = before.spec?.template.metadata?.annotations?.[CONFIG_CHECKSUM_ANNOTATION];
    const watcher = new QuorumWatcher(namespace, 3);
    await watcher.start();
    try {
      // Five members: every member's zoo.cfg names two more servers.
      await applyApp(namespace, APP, spec({ replicas: 5, resources: { requests: { cpu: '150m' } } }));
      await waitForRolled(namespace, 5, before.status?.updateRevision ?? '');
      await waitForReady(namespace, APP, 120_000);
    } finally {
      watcher.stop();
    }
    const after = await statefulSet(namespace);
    expect(after.spec?.template.metadata?.annotations?.[CONFIG_CHECKSUM_ANNOTATION]).not.toBe(checksum);
    console.log(`most members down at once: ${watcher.maxDown}; deletions seen: ${watcher.deletions}`);
    expect(watcher.deletions).toBeGreaterThanOrEqual(3);
    expect(watcher.maxOthersDownAtDeletion).toBe(0);
    const restarted = (await restartEvents(namespace)).slice(3);
    expect(restarted).toEqual([`${SET}-2`, `${SET}-1`, `${SET}-0`]);
  });

  it('makes no write request once the roll is over, though the resync keeps reconciling', async () => {
    // Converged includes the partition coordinator's first report (the in-cluster ensemble is not reachable
    // from the test host, so Rebalancing turns Unknown once its first connection attempt failed).
    await waitFor('the Rebalancing condition reported', async () =>
      condition(await getJson<DistributedApp>('distributedapp', APP, namespace), 'Rebalancing'),
    );
    const before = await waitFor('metrics', () => metricsText(operator));
    const renewals = (text: string): number =>
      Number(/leader_election_lease_writes_total\{[^}]*\} (\d+)/.exec(text)?.[1] ?? 0);
    await waitFor(
      'five lease renewals',
      async () => {
        const text = await metricsText(operator);
        return text !== undefined && renewals(text) >= renewals(before) + 5 ? text : undefined;
      },
      60_000,
    );
    const after = await waitFor('metrics', () => metricsText(operator));
    expect(writeRequests(after)).toBe(writeRequests(before));
    expect(reconciles(after)).toBeGreaterThanOrEqual(reconciles(before) + 3);
    const app = await getJson<DistributedApp>('distributedapp', APP, namespace);
    expect(condition(app, 'Ready')?.status).toBe('True');
  });
});
