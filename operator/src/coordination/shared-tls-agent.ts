/**
 * An HTTPS agent with one SecureContext for every WebSocket that the client library opens with the same
 * TLS material. The library keeps one agent per cluster, but Node's agent hands the CA, the client
 * certificate and its key to `tls.connect` for each connection, which parses them into a new
 * SecureContext every time: with a few hundred unreachable ensembles (the 1000-app benchmark) that was a
 * tenth of the operator's CPU. Here the context is made once per TLS material and kept until the
 * material changes (a rotated client certificate gets a new agent).
 */
import { createHash } from 'node:crypto';
import { Agent, type AgentOptions } from 'node:https';
import { createSecureContext } from 'node:tls';
import type { KubeConfig } from '@kubernetes/client-node';

/** The options that go into a SecureContext. */
const CONTEXT_FIELDS = [
  'ca',
  'cert',
  'key',
  'pfx',
  'passphrase',
  'crl',
  'ciphers',
  'ecdhCurve',
  'honorCipherOrder',
] as const;

/** The options that make up a TLS client's identity and trust, all of which go into the agent's key. */
const TLS_FIELDS = [...CONTEXT_FIELDS, 'rejectUnauthorized', 'servername'] as const;

function fingerprint(options: AgentOptions): string {
  const hash = createHash('sha256');
  for (const field of TLS_FIELDS) {
    const value: unknown = options[field];
    const values = Array.isArray(value) ? (value as unknown[]) : [value];
    hash.update(`${field}=`);
    for (const v of values) hash.update(Buffer.isBuffer(v) ? v : JSON.stringify(v ?? null)).update(';');
  }
  return hash.digest('hex');
}

/** See the module comment. */
export class SharedTlsAgent {
  #current: { readonly key: string; readonly agent: Agent } | undefined;

  /** The agent for connections made with `options`: the last one made, while the TLS material is the same. */
  agentFor(options: AgentOptions): Agent {
    const key = fingerprint(options);
    if (this.#current?.key !== key) {
      const context = createSecureContext(
        Object.fromEntries(CONTEXT_FIELDS.map((field) => [field, options[field]])),
      );
      // The previous agent is only dropped: upgraded sockets (the WebSockets) are no longer its own, and
      // without keep-alive it holds no idle ones.
      this.#current = { key, agent: new Agent({ ...options, keepAlive: false, secureContext: context }) };
    }
    return this.#current.agent;
  }

  /**
   * `kubeConfig`, except that the agent of every WebSocket it sets up comes from {@link agentFor}. A
   * proxy's agent (a cluster with `proxy-url`) is a subclass of Agent and is left as it is.
   */
  kubeConfig(kubeConfig: KubeConfig): KubeConfig {
    const shared = Object.create(kubeConfig) as KubeConfig;
    shared.applyToHTTPSOptions = async (opts) => {
      await kubeConfig.applyToHTTPSOptions(opts);
      const target = opts as { agent?: unknown };
      if (target.agent instanceof Agent && target.agent.constructor === Agent) {
        target.agent = this.agentFor(target.agent.options);
      }
    };
    return shared;
  }
}
