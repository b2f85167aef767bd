import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { DistributedApp } from '../../../../operator/src/api/schema.ts';
import { CachedAuthorizer, type ReviewApi } from '../../../../operator/src/dashboard/auth.ts';
import { CoordinationLog } from '../../../../operator/src/dashboard/coordination-log.ts';
import {
  buildDashboardServer,
  type DashboardSources,
} from '../../../../operator/src/dashboard/dashboard-server.ts';
import { sampleOf } from '../../../../operator/src/dashboard/metrics-sample.ts';
import { loadStaticFiles } from '../../../../operator/src/dashboard/static-files.ts';
import type { OperatorView } from '../../../../operator/src/dashboard/view-model.ts';
import { silentLogger } from '../../../../operator/src/runtime/index.ts';

const PASSWORD = 'generated-worker-password';

const shop = {
  apiVersion: 'capstan.dev/v1alpha1',
  kind: 'DistributedApp',
  metadata: { name: 'shop', namespace: 'a' },
  spec: { workers: { replicas: 1, partitions: 2, env: [{ name: 'P', value: PASSWORD }] } },
  status: { phase: 'Running', workers: { desired: 1, ready: 1 } },
} as unknown as DistributedApp;

function sources(coordination: CoordinationLog): DashboardSources {
  return {
    apps: {
      list: () => [shop],
      get: (namespace, name) => (namespace === 'a' && name === 'shop' ? shop : undefined),
    },
    coordination,
    events: {
      list: () =>
        Promise.resolve([{ time: 't', type: 'Normal', reason: 'Rebalanced', message: 'm', count: 1 }]),
    },
    leadership: { identity: 'op-1', isLeading: () => true, observedLeader: () => 'op-1' },
    history: {
      intervalMs: 10_000,
      points: () => [],
      current: () => Promise.resolve({ ...sampleOf([], 5), reconciles: 7 }),
    },
  };
}

const reviews: ReviewApi = {
  tokenReview: (token) => Promise.resolve(token === 'forged' ? undefined : { username: token }),
  accessReview: (user) => Promise.resolve({ allowed: user.username === 'reader', reason: '' }),
};

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('the dashboard server', () => {
  const coordination = new CoordinationLog();
  const files = loadStaticFiles();
  const open = buildDashboardServer({ sources: sources(coordination), files, logger: silentLogger() });
  const secured = buildDashboardServer({
    sources: sources(coordination),
    files,
    authorizer: new CachedAuthorizer({ api: reviews }),
    logger: silentLogger(),
  });
  let openUrl = '';
  let securedUrl = '';

  beforeAll(async () => {
    coordination.observed(
      { namespace: 'a', app: 'shop' },
      {
        record: {
          partitions: [
            { owner: 'shop-workers-0', epoch: 1 },
            { owner: undefined, epoch: 0 },
          ],
        },
        version: 3,
        holders: new Map([[0, 'shop-workers-0']]),
        members: new Set(['shop-workers-0']),
      },
    );
    [openUrl, securedUrl] = await Promise.all([listen(open), listen(secured)]);
  });

  afterAll(async () => {
    await Promise.all([open, secured].map((s) => new Promise((resolve) => s.close(resolve))));
  });

  it('serves the page and its module', async () => {
    const page = await fetch(`${openUrl}/`);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toContain('static/app.js');
    const js = await fetch(`${openUrl}/static/app.js`);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
  });

  it('lists apps and answers one with its partition map, rebalances and events', async () => {
    const list = (await (await fetch(`${openUrl}/api/v1/apps`)).json()) as { items: { name: string }[] };
    expect(list.items.map((a) => a.name)).toEqual(['shop']);
    const response = await fetch(`${openUrl}/api/v1/apps/a/shop`);
    const text = await response.text();
    expect(response.status).toBe(200);
    expect(text).not.toContain(PASSWORD);
    const detail = JSON.parse(text) as {
      partitionMap: { partitions: { state: string }[] };
      events: unknown[];
    };
    expect(detail.partitionMap.partitions.map((p) => p.state)).toEqual(['owned', 'unassigned']);
    expect(detail.events).toHaveLength(1);
  });

  it('answers the operator view with current totals', async () => {
    const view = (await (await fetch(`${openUrl}/api/v1/operator`)).json()) as OperatorView;
    expect(view).toMatchObject({
      identity: 'op-1',
      leader: { leading: true, holder: 'op-1' },
      totals: { reconciles: 7, p99Seconds: null },
      history: { intervalMs: 10_000, points: [] },
    });
  });

  it('answers unknown apps and routes with 404, writes with 405', async () => {
    expect((await fetch(`${openUrl}/api/v1/apps/a/nope`)).status).toBe(404);
    expect((await fetch(`${openUrl}/api/v1/secrets`)).status).toBe(404);
    expect((await fetch(`${openUrl}/api/v1/apps/%ff/x`)).status).toBe(400);
    const post = await fetch(`${openUrl}/api/v1/apps`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('beyond loopback: 401 without or with a bad token, 403 without the permission, 200 with it', async () => {
    const get = (token?: string) =>
      fetch(
        `${securedUrl}/api/v1/apps`,
        token === undefined ? {} : { headers: { Authorization: `Bearer ${token}` } },
      );
    const none = await get();
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ error: 'UNAUTHENTICATED' });
    expect((await get('forged')).status).toBe(401);
    const denied = await get('stranger');
    expect(denied.status).toBe(403);
    expect(await denied.json()).toMatchObject({
      error: 'FORBIDDEN',
      message: expect.stringContaining('"stranger"'),
    });
    expect((await get('reader')).status).toBe(200);
    // The page itself holds no data, so that it can ask for a token.
    expect((await fetch(`${securedUrl}/`)).status).toBe(200);
  });
});
