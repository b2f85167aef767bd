import { describe, expect, it } from '@jest/globals';
import { Agent } from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';
import { SharedTlsAgent } from '../../../../operator/src/coordination/shared-tls-agent.ts';

/** A kubeconfig whose cluster trusts `ca` and whose user presents a token (no client certificate). */
function kubeConfig(ca: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:6443', caData: Buffer.from(ca).toString('base64') }],
    users: [{ name: 'u', token: 'secret-token' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

// Any PEM the TLS stack parses will do: Node's own bundled roots.
const { rootCertificates } = await import('node:tls');
const CA_A = rootCertificates[0] ?? '';
const CA_B = rootCertificates[1] ?? '';

async function agentOf(kc: KubeConfig): Promise<unknown> {
  const opts: { agent?: unknown; headers?: Record<string, string> } = {};
  await kc.applyToHTTPSOptions(opts);
  return opts.agent;
}

describe('SharedTlsAgent', () => {
  it('gives every WebSocket of one kubeconfig the same agent, with one SecureContext', async () => {
    const kc = kubeConfig(CA_A);
    // The library alone gives an agent without a context, so each connection parses the PEMs again.
    expect((await agentOf(kc)) as Agent).not.toHaveProperty('options.secureContext');
    const shared = new SharedTlsAgent().kubeConfig(kc);
    const first = await agentOf(shared);
    expect(first).toBeInstanceOf(Agent);
    expect(await agentOf(shared)).toBe(first);
    expect((first as Agent).options.secureContext).toBeDefined();
  });

  it('keeps what the library sets besides the agent (the credentials) and the rest of the kubeconfig', async () => {
    const kc = kubeConfig(CA_A);
    const shared = new SharedTlsAgent().kubeConfig(kc);
    const opts: { headers?: Record<string, string> } = {};
    await shared.applyToHTTPSOptions(opts);
    expect(opts.headers?.Authorization).toBe('Bearer secret-token');
    expect(shared.getCurrentCluster()?.server).toBe('https://127.0.0.1:6443');
  });

  it('makes a new agent when the TLS material changes', () => {
    const tls = new SharedTlsAgent();
    const a = tls.agentFor({ ca: CA_A });
    expect(tls.agentFor({ ca: CA_A })).toBe(a);
    const b = tls.agentFor({ ca: CA_B });
    expect(b).not.toBe(a);
    expect(tls.agentFor({ ca: CA_B, rejectUnauthorized: false })).not.toBe(b);
  });

  it('leaves a proxy agent (a subclass) alone', async () => {
    class ProxyAgent extends Agent {}
    const proxy = new ProxyAgent();
    const kc = kubeConfig(CA_A);
    const base = Object.create(kc) as KubeConfig;
    base.applyToHTTPSOptions = (opts) => {
      (opts as { agent?: unknown }).agent = proxy;
      return Promise.resolve();
    };
    expect(await agentOf(new SharedTlsAgent().kubeConfig(base))).toBe(proxy);
  });
});
