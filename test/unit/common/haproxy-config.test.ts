import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ConfigRenderError } from '../../../common/src/config-render-error.ts';
import {
  HAPROXY_CLIENT_KEEP_ALIVE_MS,
  HAPROXY_POOL_PURGE_DELAY_MS,
  renderHaproxyConfig,
  type HaproxyConfigOptions,
} from '../../../common/src/haproxy-config.ts';

const staticOptions: HaproxyConfigOptions = {
  frontend: { bind: '0.0.0.0', port: 8080 },
  backend: {
    servers: [
      { name: 'w0', host: '10.0.0.1', port: 3000 },
      { name: 'w1', host: 'worker-1.workers.ns.svc', port: 3000 },
    ],
  },
  healthCheck: { path: '/readyz', interval: 500 },
  algorithm: 'roundrobin',
  retries: 3,
  stats: { bind: '0.0.0.0', port: 8404 },
};

const dnsOptions: HaproxyConfigOptions = {
  ...staticOptions,
  backend: {
    serverTemplate: { prefix: 'worker', count: 8, fqdn: 'workers.ns.svc.cluster.local', port: 3000 },
    resolvers: { nameserver: '10.96.0.10:53' },
  },
  algorithm: 'leastconn',
};

/** The indented lines of one section, e.g. `backend workers`. */
function section(text: string, header: string): string[] {
  const blocks = text.split('\n\n').map((b) => b.trimEnd().split('\n'));
  const block = blocks.find((b) => b[0] === header);
  if (!block) throw new Error(`no section ${header} in\n${text}`);
  return block.slice(1).map((l) => l.trim());
}

describe('renderHaproxyConfig', () => {
  it('health-checks the workers with GET /readyz in HAProxy 2.6 syntax', () => {
    const backend = section(renderHaproxyConfig(staticOptions), 'backend workers');
    expect(backend).toEqual(
      expect.arrayContaining([
        'balance roundrobin',
        'option httpchk',
        'http-check send meth GET uri /readyz',
        'http-check expect status 200',
        'default-server check inter 500ms fall 2 rise 1 init-addr last,libc,none',
        'server w0 10.0.0.1:3000',
        'server w1 worker-1.workers.ns.svc:3000',
      ]),
    );
  });

  it('retries and redispatches on connection failures, empty responses and timeouts', () => {
    const defaults = section(renderHaproxyConfig(staticOptions), 'defaults');
    expect(defaults).toEqual(
      expect.arrayContaining([
        'mode http',
        'retries 3',
        'option redispatch',
        'retry-on conn-failure empty-response response-timeout',
      ]),
    );
  });

  it('keeps connections alive on both sides and shares idle connections to the workers', () => {
    const text = renderHaproxyConfig(staticOptions);
    expect(section(text, 'defaults')).toEqual(
      expect.arrayContaining([
        'option http-keep-alive',
        'http-reuse aggressive',
        `timeout http-keep-alive ${HAPROXY_CLIENT_KEEP_ALIVE_MS}ms`,
      ]),
    );
    expect(section(text, 'backend workers')).toContain(
      `default-server pool-purge-delay ${HAPROXY_POOL_PURGE_DELAY_MS}ms`,
    );
    const shorter = renderHaproxyConfig({ ...staticOptions, timeouts: { httpKeepAlive: 500 } });
    expect(section(shorter, 'defaults')).toContain('timeout http-keep-alive 500ms');
  });

  it('sends a request that reached a worker again only when it cannot be applied twice: a read or a keyed write', () => {
    const backend = section(renderHaproxyConfig(staticOptions), 'backend workers');
    expect(backend).toContain(
      'http-request disable-l7-retry if !METH_GET !{ req.hdr(idempotency-key) -m found }',
    );
  });

  it("answers with the workers' JSON error codes: 503 nothing sent, 502/504 outcome unknown", () => {
    const defaults = section(renderHaproxyConfig(staticOptions), 'defaults');
    const answer = (status: number) => {
      const line = defaults.find((l) => l.startsWith(`http-error status ${status} `));
      const body = /string '(.*)'/.exec(line ?? '')?.[1];
      return body === undefined ? undefined : (JSON.parse(body) as { error: string }).error;
    };
    expect([answer(502), answer(503), answer(504)]).toEqual([
      'OUTCOME_UNKNOWN',
      'NO_WORKER_AVAILABLE',
      'OUTCOME_UNKNOWN',
    ]);
    expect(defaults.find((l) => l.startsWith('http-error status 503 '))).toMatch(/hdr retry-after 1$/);
  });

  it("routes a request to its partition's owner from the map, and opens the admin socket", () => {
    const text = renderHaproxyConfig({
      ...staticOptions,
      ownerRouting: { sample: 'path,field(4,/),url_dec,crc32,mod(8)', mapFile: '/run/owners.map' },
      runtime: { bind: '127.0.0.1', port: 9999 },
    });
    expect(section(text, 'backend workers')).toEqual(
      expect.arrayContaining([
        'http-request set-var(txn.owner) path,field(4,/),url_dec,crc32,mod(8),map(/run/owners.map)',
        'use-server %[var(txn.owner)] if { var(txn.owner) -m found }',
      ]),
    );
    expect(section(text, 'global')).toContain('stats socket ipv4@127.0.0.1:9999 level admin');
    const bad = { ...staticOptions, ownerRouting: { sample: 'path x', mapFile: '/m' } };
    expect(() => renderHaproxyConfig(bad)).toThrow(expect.objectContaining({ field: 'ownerRouting.sample' }));
  });

  it('serves stats and the Prometheus exporter on the stats listener only', () => {
    const text = renderHaproxyConfig(staticOptions);
    expect(section(text, 'frontend stats')).toEqual(
      expect.arrayContaining([
        'bind 0.0.0.0:8404',
        'http-request use-service prometheus-exporter if { path /metrics }',
        'stats enable',
        'stats uri /stats',
      ]),
    );
    const publicFrontend = section(text, 'frontend public');
    expect(publicFrontend).toEqual([
      'bind 0.0.0.0:8080',
      'option httplog',
      'http-response set-header keep-alive timeout=9',
      'default_backend workers',
    ]);
    expect(text.match(/prometheus-exporter/g)).toHaveLength(1);
  });

  it('discovers servers through DNS with a server template and resolvers', () => {
    const text = renderHaproxyConfig(dnsOptions);
    expect(section(text, 'resolvers dns')).toContain('nameserver ns1 10.96.0.10:53');
    expect(section(text, 'backend workers')).toEqual(
      expect.arrayContaining([
        'balance leastconn',
        'server-template worker 8 workers.ns.svc.cluster.local:3000 resolvers dns init-addr none',
      ]),
    );
  });

  it('omits the resolvers section for a static backend', () => {
    expect(renderHaproxyConfig(staticOptions)).not.toContain('resolvers');
  });

  it('brackets IPv6 bind addresses', () => {
    const text = renderHaproxyConfig({ ...staticOptions, frontend: { bind: '::', port: 8080 } });
    expect(section(text, 'frontend public')).toContain('bind [::]:8080');
  });

  it.each<[string, Partial<HaproxyConfigOptions>, string]>([
    ['no servers', { backend: { servers: [] } }, 'backend.servers'],
    [
      'duplicate server names',
      {
        backend: {
          servers: [
            { name: 'a', host: 'h', port: 1 },
            { name: 'a', host: 'h', port: 2 },
          ],
        },
      },
      'backend.servers[1].name',
    ],
    ['a relative check path', { healthCheck: { path: 'readyz', interval: 100 } }, 'healthCheck.path'],
    ['a zero interval', { healthCheck: { path: '/readyz', interval: 0 } }, 'healthCheck.interval'],
    ['negative retries', { retries: -1 }, 'retries'],
    ['a bad stats port', { stats: { bind: '0.0.0.0', port: 0 } }, 'stats.port'],
    ['a host with a space', { frontend: { bind: '0.0.0.0 ssl', port: 1 } }, 'frontend.bind'],
  ])('rejects %s', (_name, patch, field) => {
    const render = () => renderHaproxyConfig({ ...staticOptions, ...patch });
    expect(render).toThrow(ConfigRenderError);
    expect(render).toThrow(expect.objectContaining({ field }));
  });
});

const haproxyBinary = ['/usr/sbin/haproxy', '/usr/bin/haproxy'].find((p) => existsSync(p));

// Needs the Debian haproxy package (hack/bootstrap.sh debs); skipped where it is not installed.
(haproxyBinary ? describe : describe.skip)('renderHaproxyConfig output accepted by haproxy -c', () => {
  it.each([
    ['static servers', staticOptions],
    ['a DNS server template', dnsOptions],
  ])('with %s', async (_name, options) => {
    const dir = await mkdtemp(join(tmpdir(), 'capstan-haproxy-check-'));
    try {
      const file = join(dir, 'haproxy.cfg');
      await writeFile(file, renderHaproxyConfig(options));
      const { stdout, stderr } = await promisify(execFile)(haproxyBinary!, ['-c', '-f', file]);
      expect(`${stdout}${stderr}`).toContain('Configuration file is valid');
      // Only the expected warning: a static host name that does not resolve here disables its server.
      const warnings = stderr.split('\n').filter((l) => /\[(WARNING|ALERT)\]/.test(l));
      expect(warnings.filter((l) => !l.includes('could not resolve address'))).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
