import { describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import { podView } from '../../../../operator/src/controller/cache-views.ts';
import {
  RESTART_WINDOW_MS,
  workerVerdicts,
  type GonePod,
  type WorkerVerdict,
} from '../../../../operator/src/remediation/worker-verdicts.ts';

const NOW = 1_000_000_000;

type Status = NonNullable<V1Pod['status']>;
type ContainerStatus = NonNullable<Status['containerStatuses']>[number];

function pod(name: string, worker: Partial<ContainerStatus>, status: Partial<Status> = {}): V1Pod {
  return podView({
    metadata: {
      name,
      namespace: 'ns',
      uid: `uid-${name}`,
      labels: { 'app.kubernetes.io/component': 'worker' },
    },
    status: {
      phase: 'Running',
      ...status,
      containerStatuses: [
        {
          name: 'worker',
          image: 'w',
          imageID: '',
          ready: true,
          restartCount: 0,
          state: { running: { startedAt: new Date(NOW) } },
          ...worker,
        },
      ],
    },
  });
}

const running = pod('w-0', {});
const backingOff = pod('w-1', {
  restartCount: 4,
  state: { waiting: { reason: 'CrashLoopBackOff' } },
  lastState: { terminated: { exitCode: 137, reason: 'OOMKilled' } },
});
const failed = pod('w-2', { state: { terminated: { exitCode: 1, reason: 'Error' } } }, { phase: 'Failed' });
const terminatedRestarting = pod('w-3', { state: { terminated: { exitCode: 1, reason: 'Error' } } });
const nodeFailure = pod(
  'w-4',
  {},
  {
    conditions: [{ type: 'DisruptionTarget', status: 'True', reason: 'DeletionByTaintManager' }],
  },
);

function restarts(uid: string, ...agoMs: number[]): Map<string, number[]> {
  return new Map([[uid, agoMs.map((ago) => NOW - ago)]]);
}

interface Case {
  readonly name: string;
  readonly pods?: V1Pod[];
  readonly gone?: GonePod[];
  readonly restarts?: Map<string, number[]>;
  readonly expected: Partial<WorkerVerdict>[];
}

const cases: Case[] = [
  { name: 'a healthy running worker: nothing', pods: [running], expected: [] },
  {
    name: 'gone after a graceful termination: dead (pod-gone)',
    gone: [{ pod: running, terminatedGracefully: true }],
    expected: [{ worker: 'w-0', kind: 'dead', cause: 'pod-gone' }],
  },
  {
    name: 'gone without a graceful termination (force-deleted): unproven',
    gone: [{ pod: running, terminatedGracefully: false }],
    expected: [{ worker: 'w-0', kind: 'unproven', cause: 'force-deleted' }],
  },
  {
    name: 'gone gracefully but removed for a failed node: unproven',
    gone: [{ pod: nodeFailure, terminatedGracefully: true }],
    expected: [{ worker: 'w-4', kind: 'unproven' }],
  },
  {
    name: 'force-deleted after the kubelet reported it terminal: dead (container-terminated)',
    gone: [{ pod: failed, terminatedGracefully: false }],
    expected: [{ worker: 'w-2', kind: 'dead', cause: 'container-terminated' }],
  },
  {
    name: 'a terminal pod with its worker terminated: dead (container-terminated)',
    pods: [failed],
    expected: [{ worker: 'w-2', kind: 'dead', cause: 'container-terminated' }],
  },
  {
    name: 'terminated in a running pod (the kubelet restarts it): no verdict',
    pods: [terminatedRestarting],
    expected: [],
  },
  {
    name: 'CrashLoopBackOff: crash-looping, process dead, last exit named',
    pods: [backingOff],
    expected: [
      { worker: 'w-1', kind: 'crash-looping', processDead: true, lastExit: 'OOMKilled (exit code 137)' },
    ],
  },
  {
    name: 'three restarts within the window, running now: crash-looping, process alive',
    pods: [running],
    restarts: restarts('uid-w-0', 1_000, 60_000, 120_000),
    expected: [{ worker: 'w-0', kind: 'crash-looping', processDead: false }],
  },
  {
    name: 'one restart, running again: restarted (no move before the delay)',
    pods: [running],
    restarts: restarts('uid-w-0', 5_000),
    expected: [{ worker: 'w-0', kind: 'restarted', restarts: 1 }],
  },
  {
    name: 'restarts older than the window: nothing',
    pods: [running],
    restarts: restarts('uid-w-0', RESTART_WINDOW_MS + 1, RESTART_WINDOW_MS + 2, RESTART_WINDOW_MS + 3),
    expected: [],
  },
];

describe('workerVerdicts', () => {
  it.each(cases)('$name', (c) => {
    const verdicts = workerVerdicts({
      pods: c.pods ?? [],
      gone: c.gone ?? [],
      restarts: c.restarts ?? new Map(),
      now: NOW,
    });
    expect(verdicts).toHaveLength(c.expected.length);
    c.expected.forEach((expected, i) => expect(verdicts[i]).toMatchObject(expected));
  });

  it('judges a gone pod and its successor of the same name apart, by uid', () => {
    const successor = { ...running, metadata: { ...running.metadata, uid: 'uid-new' } };
    const verdicts = workerVerdicts({
      pods: [successor],
      gone: [{ pod: running, terminatedGracefully: true }],
      restarts: new Map(),
      now: NOW,
    });
    expect(verdicts).toEqual([{ worker: 'w-0', uid: 'uid-w-0', kind: 'dead', cause: 'pod-gone' }]);
  });
});

describe('podView', () => {
  it('keeps the node and the pod address and drops the rest of the spec', () => {
    const view = podView({
      metadata: { name: 'shop-worker-0', namespace: 'demo', uid: 'u1' },
      spec: {
        nodeName: 'node-b',
        containers: [{ name: 'worker', image: 'capstan', env: [{ name: 'A', value: 'x' }] }],
      },
      status: { phase: 'Running', podIP: '10.244.1.7', hostIP: '10.243.0.3' },
    });
    expect(view.spec).toEqual({ nodeName: 'node-b', containers: [] });
    expect(view.status).toEqual({ phase: 'Running', podIP: '10.244.1.7', containerStatuses: [] });
  });

  it('keeps what the verdicts read: phase, worker state, restart count, last exit', () => {
    expect(backingOff.status).toEqual({
      phase: 'Running',
      containerStatuses: [
        {
          name: 'worker',
          restartCount: 4,
          state: { waiting: { reason: 'CrashLoopBackOff' } },
          lastState: { terminated: { exitCode: 137, reason: 'OOMKilled' } },
        },
      ],
    });
  });
});
