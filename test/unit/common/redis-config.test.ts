import { describe, expect, it } from '@jest/globals';
import { ConfigRenderError } from '../../../common/src/config-render-error.ts';
import { renderRedisConfig } from '../../../common/src/redis-config.ts';

const lines = (text: string): string[] => text.trimEnd().split('\n');

describe('renderRedisConfig', () => {
  it('listens where asked, in the foreground, logging to stdout', () => {
    const out = lines(renderRedisConfig({ port: 6390, bind: '0.0.0.0' }));
    expect(out).toEqual(expect.arrayContaining(['port 6390', 'bind 0.0.0.0', 'daemonize no', 'logfile ""']));
  });

  it('persists nothing unless asked', () => {
    const out = lines(renderRedisConfig({ port: 6379, bind: '127.0.0.1' }));
    expect(out).toContain('save ""');
    expect(out).toContain('appendonly no');
  });

  it('keeps protected mode on without a password and turns it off with one', () => {
    const open = lines(renderRedisConfig({ port: 6379, bind: '127.0.0.1' }));
    expect(open).toContain('protected-mode yes');
    expect(open.some((l) => l.startsWith('requirepass'))).toBe(false);
    const locked = lines(renderRedisConfig({ port: 6379, bind: '0.0.0.0', password: 's3cr"et\\' }));
    expect(locked).toContain('protected-mode no');
    expect(locked).toContain('requirepass "s3cr\\"et\\\\"');
  });

  it('sets a memory limit with allkeys-lru eviction by default', () => {
    const out = lines(renderRedisConfig({ port: 6379, bind: '127.0.0.1', maxMemory: '256MB' }));
    expect(out).toEqual(expect.arrayContaining(['maxmemory 256mb', 'maxmemory-policy allkeys-lru']));
    const bytes = lines(
      renderRedisConfig({
        port: 6379,
        bind: '127.0.0.1',
        maxMemory: 1048576,
        evictionPolicy: 'volatile-ttl',
      }),
    );
    expect(bytes).toEqual(expect.arrayContaining(['maxmemory 1048576', 'maxmemory-policy volatile-ttl']));
  });

  it('renders snapshots and the append-only file when asked', () => {
    const out = lines(
      renderRedisConfig({
        port: 6379,
        bind: '127.0.0.1',
        dir: '/data',
        persistence: { snapshots: [{ seconds: 60, changes: 1000 }], appendOnly: true },
      }),
    );
    expect(out).toEqual(expect.arrayContaining(['dir /data', 'save 60 1000', 'appendonly yes']));
    expect(out).not.toContain('save ""');
  });

  it.each([
    ['a bad port', { port: 0 }, 'port'],
    ['a multi-line password', { password: 'a\nslaveof evil 1' }, 'password'],
    ['an unknown memory unit', { maxMemory: '1Gi' }, 'maxMemory'],
    ['an empty bind', { bind: '  ' }, 'bind'],
  ])('rejects %s', (_name, patch, field) => {
    const render = () => renderRedisConfig({ port: 6379, bind: '127.0.0.1', ...patch });
    expect(render).toThrow(ConfigRenderError);
    expect(render).toThrow(expect.objectContaining({ field }));
  });
});
