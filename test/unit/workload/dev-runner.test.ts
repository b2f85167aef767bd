import { describe, expect, it } from '@jest/globals';
import { DevRunnerError, fleetOptionsFrom, readAppFile } from '../../../workload/src/dev-runner.ts';

describe('capstan dev: DistributedApp to fleet options', () => {
  it('applies the defaults to the minimal example', async () => {
    const options = fleetOptionsFrom(await readAppFile('examples/minimal.yaml'));
    expect(options).toMatchObject({
      namespace: 'default',
      name: 'hello',
      app: 'cache-gateway',
      workers: 3,
      partitions: 64,
      zookeeperReplicas: 1,
      departureDelayMs: 10_000,
      haproxy: { algorithm: 'roundrobin', ownerRouting: true },
    });
    expect(options.upstream).toBeUndefined();
  });

  it('reads the production example', async () => {
    const options = fleetOptionsFrom(await readAppFile('examples/production.yaml'), { port: 8080 });
    expect(options).toMatchObject({
      name: 'shop',
      workers: 6,
      partitions: 256,
      zookeeperReplicas: 3,
      departureDelayMs: 15_000,
      haproxy: { algorithm: 'leastconn', port: 8080 },
      workerEnv: { LOG_LEVEL: 'info' },
    });
  });

  it('names the bad field', () => {
    const app = {
      kind: 'DistributedApp',
      metadata: { name: 'x' },
      spec: { workers: { replicas: 9, partitions: 4 } },
    };
    expect(() => fleetOptionsFrom(app)).toThrow(DevRunnerError);
    expect(() => fleetOptionsFrom(app)).toThrow(/spec\.workers\.replicas/);
    expect(() => fleetOptionsFrom({ kind: 'Pod' })).toThrow(/kind/);
  });
});
