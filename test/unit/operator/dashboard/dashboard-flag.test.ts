import { describe, expect, it } from '@jest/globals';
import { ConfigError, parseConfig, usage, type OperatorConfig } from '../../../../operator/src/config.ts';

const address = (argv: string[], env: NodeJS.ProcessEnv = {}) =>
  (parseConfig(argv, env) as OperatorConfig).dashboardAddress;

describe('--dashboard-bind-address', () => {
  it('defaults to :8082 on every interface', () => {
    expect(address([])).toEqual({ host: '0.0.0.0', port: 8082 });
  });

  it('takes a host, "0" to disable it, and the environment', () => {
    expect(address(['--dashboard-bind-address=127.0.0.1:9000'])).toEqual({ host: '127.0.0.1', port: 9000 });
    expect(address(['--dashboard-bind-address=0'])).toBeUndefined();
    expect(address([], { CAPSTAN_DASHBOARD_BIND_ADDRESS: '[::1]:8082' })).toEqual({
      host: '::1',
      port: 8082,
    });
  });

  it('rejects an address without a port, naming the flag', () => {
    expect(() => address(['--dashboard-bind-address=localhost'])).toThrow(ConfigError);
    expect(() => address(['--dashboard-bind-address=localhost'])).toThrow(/--dashboard-bind-address/);
  });

  it('is in --help', () => {
    expect(usage()).toContain('--dashboard-bind-address=<value> [$CAPSTAN_DASHBOARD_BIND_ADDRESS]');
  });
});
