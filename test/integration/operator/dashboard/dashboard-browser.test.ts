/**
 * The dashboard page in a real browser (headless Chromium from Debian, /usr/bin/chromium, driven by
 * playwright-core, which never downloads one) against a real operator process, the test control plane and
 * a loopback ZooKeeper with workers that register and claim through the workers' own PartitionOwnership.
 * The page lists the app and its map equals ZooKeeper's assignment; when a worker leaves, the map shows its
 * partitions at their new owners, and a member that does not claim what it was given shows them moving,
 * all without a reload. Screenshots of each state go to tmp/dashboard-*.png.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { AssignmentRecord } from '../../../../common/src/assignment-record.ts';
import { connect, type ZooKeeperClient } from '../../../../common/src/zookeeper-client.ts';
import { freePort } from '../../../../workload/src/local/ports.ts';
import { startZooKeeper, type ZooKeeperService } from '../../../../workload/src/local/index.ts';
import { waitFor } from '../../../harness/kube.ts';
import { applyApp } from '../controller/helpers.ts';
import {
  operatorSandbox,
  startLeader,
  startOperator,
  type OperatorProcess,
  type OperatorSandbox,
} from '../controller/operator-process.ts';
import { appAccess, readAssignment, startWorker, type FakeWorker } from '../coordination/helpers.ts';
import { memberPath, membersPath } from '../../../../common/src/zk-paths.ts';
import { assignmentCells, serviceAccountToken } from './helpers.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const SHOTS = join(repoRoot, 'tmp');
const CHROMIUM = '/usr/bin/chromium';

interface ShownCell {
  owner: string | null;
  epoch: number;
  state: string;
}

/** The partition map as the page shows it now (evaluated in the page, which has the DOM). */
function shownCells(page: Page): Promise<ShownCell[]> {
  return page.evaluate<ShownCell[]>(
    `[...document.querySelectorAll('#partition-map .cell')].map((c) => ({
      owner: c.dataset.owner === '' ? null : c.dataset.owner,
      epoch: Number(c.dataset.epoch),
      state: c.dataset.state,
    }))`,
  );
}

/** Marks the document, so that a reload (a new document) shows. */
const MARK = 'window.capstanSameDocument = true';
const MARKED = 'window.capstanSameDocument === true';

function sameOwners(shown: readonly ShownCell[], record: AssignmentRecord | undefined): boolean {
  if (record === undefined) return false;
  const expected = assignmentCells(record);
  return JSON.stringify(shown.map(({ owner, epoch }) => ({ owner, epoch }))) === JSON.stringify(expected);
}

describe('the dashboard page in Chromium', () => {
  let zk: ZooKeeperService;
  let sandbox: OperatorSandbox;
  let operator: OperatorProcess | undefined;
  let standby: OperatorProcess | undefined;
  const cleanups: (() => Promise<void>)[] = [];
  let browser: Browser | undefined;
  let page: Page;
  let reader: ZooKeeperClient;
  let silent: ZooKeeperClient | undefined;
  const workers: FakeWorker[] = [];
  let ref: { namespace: string; app: string };

  /** Waits until the page's map is ZooKeeper's assignment and every cell satisfies `check`; returns it. */
  async function pageShowsAssignment(
    what: string,
    check: (cells: ShownCell[]) => boolean,
  ): Promise<ShownCell[]> {
    return waitFor(what, async () => {
      const shown = await shownCells(page);
      return sameOwners(shown, await readAssignment(reader, ref)) && check(shown) ? shown : undefined;
    });
  }

  beforeAll(async () => {
    await mkdir(SHOTS, { recursive: true });
    [zk, sandbox] = await Promise.all([startZooKeeper(), operatorSandbox('dash-ui', 1)]);
    ref = { namespace: sandbox.namespace, app: 'shop' };
    // Four replicas: the member that joins later (ordinal 3) is given partitions, not retired.
    await applyApp(ref.namespace, 'shop', {
      workers: { upstream: 'http://backend.default.svc:8080', replicas: 4, partitions: 12 },
      coordination: { external: { connectString: zk.connectString } },
      failurePolicy: { rebalanceDelaySeconds: 0 },
    });
    const port = await freePort();
    operator = await startLeader(sandbox, 'dash-ui', {
      extraArgs: ['--coordinate=true', `--dashboard-bind-address=127.0.0.1:${port}`],
    });
    const access = await appAccess(ref);
    for (const id of ['shop-workers-0', 'shop-workers-1', 'shop-workers-2']) {
      workers.push(await startWorker(zk, ref, id, access.worker));
    }
    reader = await connect({ connectString: zk.connectString, sessionTimeoutMs: 4_000, ...access.operator });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    await page.goto(`http://127.0.0.1:${port}/#${encodeURIComponent(`${ref.namespace}/shop`)}`);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all([operator?.stop('SIGKILL'), standby?.stop('SIGKILL')]);
    for (const cleanup of cleanups) await cleanup();
    for (const worker of workers) await worker.client.close();
    await silent?.close();
    await reader?.close();
    await zk?.stop();
    await sandbox?.cleanup();
  });

  it('lists the app and shows the assignment ZooKeeper holds', async () => {
    await page.waitForSelector(`#apps tr[data-app="${ref.namespace}/shop"]`);
    const shown = await pageShowsAssignment('the page’s map equal to the assignment, all owned', (cells) =>
      cells.every((c) => c.state === 'owned'),
    );
    expect(new Set(shown.map((c) => c.owner))).toEqual(
      new Set(['shop-workers-0', 'shop-workers-1', 'shop-workers-2']),
    );
    expect(await page.textContent('#leader')).toBe('leader');
    await page.screenshot({ path: join(SHOTS, 'dashboard-owned.png'), fullPage: true });
  });

  it('shows a leaving worker’s partitions at their new owners without a reload', async () => {
    await page.evaluate(MARK);
    const before = await shownCells(page);
    const leaving = workers.pop()!;
    await leaving.ownership.close();
    await leaving.client.close();
    const after = await pageShowsAssignment('the page’s map after shop-workers-2 left', (cells) =>
      cells.every((c) => c.state === 'owned' && c.owner !== 'shop-workers-2'),
    );
    const moved = after.filter((c, p) => c.owner !== before[p]?.owner).length;
    expect(moved).toBe(before.filter((c) => c.owner === 'shop-workers-2').length);
    expect(await page.evaluate<boolean>(MARKED)).toBe(true);
    await page.waitForSelector('#rebalances tbody tr');
    await page.screenshot({ path: join(SHOTS, 'dashboard-after-worker-left.png'), fullPage: true });
  });

  it('marks partitions given to a member that has not claimed them as moving', async () => {
    // A member that registers and claims nothing: a worker still starting, or a frozen one.
    silent = await connect({
      connectString: zk.connectString,
      sessionTimeoutMs: 4_000,
      ...(await appAccess(ref)).worker,
    });
    await silent.mkdirp(membersPath(ref));
    await silent.create(
      memberPath(ref, 'shop-workers-3'),
      JSON.stringify({ address: 'shop-workers-3:80' }),
      'ephemeral',
    );
    const shown = await pageShowsAssignment(
      'the page’s map with partitions moving to shop-workers-3',
      (cells) => cells.some((c) => c.owner === 'shop-workers-3'),
    );
    const toSilent = shown.filter((c) => c.owner === 'shop-workers-3');
    expect(toSilent.every((c) => c.state === 'moving')).toBe(true);
    expect(shown.filter((c) => c.owner !== 'shop-workers-3').every((c) => c.state === 'owned')).toBe(true);
    expect(await page.locator('#partition-map .cell.moving').count()).toBe(toSilent.length);
    expect(await page.evaluate<boolean>(MARKED)).toBe(true);
    await page.screenshot({ path: join(SHOTS, 'dashboard-moving.png'), fullPage: true });
  });

  it('on a standby bound beyond loopback, asks for a token and then says it does not lead', async () => {
    const port = await freePort();
    standby = await startOperator({
      kubeconfig: sandbox.kubeconfig,
      namespaces: [ref.namespace],
      leaseNamespace: ref.namespace,
      leaseId: 'dash-ui',
      extraArgs: ['--coordinate=true', `--dashboard-bind-address=0.0.0.0:${port}`],
    });
    const reader = await serviceAccountToken(ref.namespace, 'dash-ui-reader', true);
    cleanups.push(reader.cleanup);
    const second = await browser!.newPage({ viewport: { width: 1280, height: 800 } });
    await waitFor('the standby’s dashboard', () =>
      second.goto(`http://127.0.0.1:${port}/`).then(
        () => true,
        () => undefined,
      ),
    );
    await second.waitForSelector('#token-form:not([hidden])');
    expect(await second.textContent('#token-error')).toContain('bearer token is required');
    await second.screenshot({ path: join(SHOTS, 'dashboard-token.png') });
    await second.fill('#token', reader.token);
    await second.click('#token-form button');
    await second.waitForSelector(`#apps tr[data-app="${ref.namespace}/shop"]`);
    // The standby names the leader once it has read the Lease, which may be after its first answer.
    await second.waitForFunction(`document.getElementById('leader').textContent.includes('(leader: ')`);
    const leader = await page.textContent('#identity');
    expect(await second.textContent('#leader')).toBe(`standby: not the leader (leader: ${leader})`);
    expect(await second.isHidden('#token-form')).toBe(true);
    await second.click(`#apps tr[data-app="${ref.namespace}/shop"]`);
    await second.waitForSelector('#detail:not([hidden])');
    expect(await second.textContent('#map-note')).toContain('only the leading operator reads ZooKeeper');
    await second.screenshot({ path: join(SHOTS, 'dashboard-standby.png'), fullPage: true });
  });
});
