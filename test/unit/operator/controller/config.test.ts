import { describe, it, expect } from '@jest/globals';
import {
  ConfigError,
  parseBindAddress,
  parseConfig,
  parseDuration,
  usage,
} from '../../../../operator/src/config.ts';

describe('operator configuration', () => {
  it('has kubebuilder-like defaults', () => {
    const config = parseConfig([], { POD_NAMESPACE: 'capstan-system' });
    expect(config).toMatchObject({
      namespaces: [],
      metricsAddress: { host: '0.0.0.0', port: 8080 },
      healthAddress: { host: '0.0.0.0', port: 8081 },
      leaderElect: true,
      leaderElectionNamespace: 'capstan-system',
      leaderElectionId: 'capstan-operator',
      leaseDurationMs: 15_000,
      syncPeriodMs: 600_000,
      logLevel: 'info',
      kubeconfig: undefined,
    });
  });

  it('reads flags before the environment, and the environment before defaults', () => {
    const config = parseConfig(['--namespaces=a, b', '--leader-elect=false', '--log-level', 'debug'], {
      CAPSTAN_NAMESPACES: 'ignored',
      CAPSTAN_MAX_CONCURRENT_RECONCILES: '8',
      CAPSTAN_SYNC_PERIOD: '30s',
      KUBECONFIG: '/tmp/kc',
    });
    expect(config).toMatchObject({
      namespaces: ['a', 'b'],
      leaderElect: false,
      logLevel: 'debug',
      maxConcurrentReconciles: 8,
      syncPeriodMs: 30_000,
      kubeconfig: '/tmp/kc',
    });
    expect(parseConfig(['--no-leader-elect'], {})).toMatchObject({ leaderElect: false });
    expect(parseConfig([], {})).toMatchObject({ zooKeeperAccess: 'direct' });
    expect(parseConfig(['--zookeeper-access=port-forward'], {})).toMatchObject({
      zooKeeperAccess: 'port-forward',
    });
  });

  it('rejects bad input with errors naming the flag', () => {
    expect(() => parseConfig(['--bogus'], {})).toThrow(ConfigError);
    expect(() => parseConfig(['--log-level=loud'], {})).toThrow(/--log-level/);
    expect(() => parseConfig(['--zookeeper-access=tunnel'], {})).toThrow(
      /--zookeeper-access.*direct, port-forward/,
    );
    expect(() => parseConfig(['--max-concurrent-reconciles=0'], {})).toThrow(/--max-concurrent-reconciles/);
    expect(() => parseConfig(['--leader-elect-renew-deadline=20s'], {})).toThrow(/renew deadline/);
    expect(() => parseDuration('x', '15')).toThrow(/--x/);
    expect(() => parseConfig(['--sync-period=often'], {})).toThrow(/--sync-period/);
    expect(() => parseBindAddress('metrics-bind-address', 'nope')).toThrow(/--metrics-bind-address/);
  });

  it('parses durations, addresses and help', () => {
    expect(parseDuration('x', '500ms')).toBe(500);
    expect(parseDuration('x', '1.5m')).toBe(90_000);
    expect(parseBindAddress('x', '0')).toBeUndefined();
    expect(parseBindAddress('x', '127.0.0.1:0')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(parseBindAddress('x', '[::1]:9090')).toEqual({ host: '::1', port: 9090 });
    expect(parseConfig(['--help'], {})).toBe('help');
    for (const flag of [
      '--namespaces',
      '--metrics-bind-address',
      '--health-probe-bind-address',
      '--leader-elect',
      '--leader-election-namespace',
      '--leader-election-id',
      '--max-concurrent-reconciles',
      '--sync-period',
      '--log-level',
      '--kubeconfig',
    ]) {
      expect(usage()).toContain(flag);
    }
  });
});
