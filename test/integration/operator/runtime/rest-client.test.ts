import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { CoreV1Api } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { RuntimeMetrics } from '../../../../operator/src/runtime/metrics.ts';
import { InstrumentedKubeConfig, apiRequest } from '../../../../operator/src/runtime/rest-client.ts';
import { createNamespace, kubectl, loadKubeConfig } from '../../../harness/kube.ts';

describe('rest_client_requests_total', () => {
  let namespace: string;
  const registry = new Registry();
  const metrics = new RuntimeMetrics(registry);
  const kc = new InstrumentedKubeConfig(loadKubeConfig(), metrics);

  beforeAll(async () => {
    namespace = await createNamespace('rt-rest');
  });

  afterAll(async () => {
    await kc.close();
    await kubectl(['delete', 'namespace', namespace, '--wait=false'], { allowFailure: true });
  });

  async function count(method: string, code: string): Promise<number> {
    const values = (await registry.getSingleMetric('rest_client_requests_total')!.get()).values;
    return values.find((v) => v.labels.method === method && v.labels.code === code)?.value ?? 0;
  }

  it('counts every API client request by method and status code', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: 'counted' }, data: { a: '1' } },
    });
    await core.readNamespacedConfigMap({ namespace, name: 'counted' });
    await expect(core.readNamespacedConfigMap({ namespace, name: 'missing' })).rejects.toMatchObject({
      code: 404,
    });
    await expect(
      core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'counted' } } }),
    ).rejects.toMatchObject({ code: 409 });
    await core.deleteNamespacedConfigMap({ namespace, name: 'counted' });

    expect(await count('POST', '201')).toBe(1);
    expect(await count('POST', '409')).toBe(1);
    expect(await count('GET', '200')).toBe(1);
    expect(await count('GET', '404')).toBe(1);
    expect(await count('DELETE', '200')).toBe(1);
    expect(await metrics.restRequestCount(['POST', 'PUT', 'PATCH', 'DELETE'])).toBe(3);
  });

  it('counts raw list requests too', async () => {
    const before = await count('GET', '200');
    const response = await apiRequest(kc, { path: `/api/v1/namespaces/${namespace}/configmaps` });
    expect(response.status).toBe(200);
    await response.text();
    expect(await count('GET', '200')).toBe(before + 1);
  });
});
