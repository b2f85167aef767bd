import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import {
  LeaderElector,
  type LeaderElectionOptions,
} from '../../../../operator/src/runtime/leader-election.ts';
import { InstrumentedKubeConfig } from '../../../../operator/src/runtime/rest-client.ts';
import { createNamespace, kubectl, loadKubeConfig, waitFor } from '../../../harness/kube.ts';

interface LeaseJson {
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    renewTime?: string;
    acquireTime?: string;
    leaseTransitions?: number;
  };
}

const ok = (condition: boolean): Promise<true | undefined> => Promise.resolve(condition ? true : undefined);

describe('LeaderElector against the apiserver', () => {
  let namespace: string;
  const electors: LeaderElector[] = [];

  function elector(
    identity: string,
    name: string,
    overrides: Partial<LeaderElectionOptions> = {},
  ): LeaderElector & { log: string[] } {
    const log: string[] = [];
    const e = new LeaderElector({
      kubeConfig: loadKubeConfig(),
      namespace,
      name,
      identity,
      leaseDurationMs: 3_000,
      renewDeadlineMs: 2_000,
      retryPeriodMs: 250,
      onStartedLeading: () => log.push('started'),
      onStoppedLeading: () => log.push('stopped'),
      ...overrides,
    });
    electors.push(e);
    return Object.assign(e, { log });
  }

  async function lease(name: string): Promise<LeaseJson> {
    const { stdout } = await kubectl(['get', 'lease', name, '-n', namespace, '-o', 'json']);
    return JSON.parse(stdout) as LeaseJson;
  }

  beforeAll(async () => {
    namespace = await createNamespace('rt-leader');
  });

  afterAll(async () => {
    await Promise.all(electors.map((e) => e.stop()));
    await kubectl(['delete', 'namespace', namespace, '--wait=false'], { allowFailure: true });
  });

  it('elects exactly one of two candidates and hands over at once on release', async () => {
    // A long lease: only an explicit release lets the standby in before the deadline below.
    const options = { leaseDurationMs: 60_000, renewDeadlineMs: 40_000 };
    const a = elector('a', 'release', options);
    const b = elector('b', 'release', options);
    a.start();
    b.start();
    const leader = await waitFor('a leader', () => Promise.resolve([a, b].find((e) => e.isLeader())));
    const standby = leader === a ? b : a;
    for (let i = 0; i < 4; i++) {
      await kubectl(['get', 'lease', 'release', '-n', namespace]);
      expect([a, b].filter((e) => e.isLeader())).toHaveLength(1);
    }
    const held = await lease('release');
    expect(held.spec.holderIdentity).toBe(leader === a ? 'a' : 'b');
    expect(held.spec.renewTime).toMatch(/\.\d{6}Z$/);
    expect(held.spec.acquireTime).toMatch(/\.\d{6}Z$/);

    await leader.stop({ release: true });
    expect(leader.log).toEqual(['started', 'stopped']);
    await waitFor('the standby to lead after release', () => ok(standby.isLeader()), 15_000);
    const taken = await lease('release');
    expect(taken.spec.holderIdentity).toBe(standby === a ? 'a' : 'b');
    expect(taken.spec.leaseTransitions).toBe(1);
  });

  it('replaces a leader that stopped without releasing once its lease expires', async () => {
    const first = elector('first', 'expiry');
    first.start();
    await waitFor('first to lead', () => ok(first.isLeader()));
    const second = elector('second', 'expiry');
    second.start();
    await first.stop();
    expect((await lease('expiry')).spec.holderIdentity).toBe('first');
    await waitFor('second to lead after expiry', () => ok(second.isLeader()), 30_000);
    expect((await lease('expiry')).spec.holderIdentity).toBe('second');
  });

  it('renews with one write per renewal and no read while it leads', async () => {
    const requests: string[] = [];
    const kubeConfig = new InstrumentedKubeConfig(loadKubeConfig(), {
      request: (method: string) => requests.push(method),
    });
    const leader = elector('counted', 'fast-path', { kubeConfig });
    leader.start();
    await waitFor('counted to lead', () => ok(leader.isLeader()));
    const from = requests.length;
    await waitFor('four renewals', () => ok(requests.length >= from + 4));
    const renewals = requests.slice(from, from + 4);
    expect(renewals).toEqual(['PUT', 'PUT', 'PUT', 'PUT']);
    expect(leader.isLeader()).toBe(true);
  });

  it('stops leading when someone else takes the lease', async () => {
    const holder = elector('holder', 'stolen');
    holder.start();
    await waitFor('holder to lead', () => ok(holder.isLeader()));
    const current = await lease('stolen');
    const spec = { ...current.spec, holderIdentity: 'intruder', leaseDurationSeconds: 3600 };
    await kubectl([
      'patch',
      'lease',
      'stolen',
      '-n',
      namespace,
      '--type=merge',
      '-p',
      JSON.stringify({ spec }),
    ]);
    await waitFor('holder to step down', () => ok(!holder.isLeader()), 15_000);
    await holder.done();
    expect(holder.log).toEqual(['started', 'stopped']);
  });
});
