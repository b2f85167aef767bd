import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { join, resolve } from 'node:path';
import { OPERATOR_RULES } from '../../../operator/src/rbac/rules.ts';
import {
  createNamespace,
  kubectl,
  runTool,
  testKubeconfig,
  waitFor,
  waitCrdEstablished,
} from '../../harness/kube.ts';

const chart = join(resolve(import.meta.dirname, '../../..'), 'charts/capstan');

interface Deployment {
  status?: { readyReplicas?: number };
  spec: {
    template: {
      metadata: { labels: Record<string, string> };
      spec: {
        serviceAccountName: string;
        securityContext: { runAsNonRoot?: boolean; seccompProfile?: { type: string } };
        containers: {
          args: string[];
          securityContext: {
            readOnlyRootFilesystem?: boolean;
            allowPrivilegeEscalation?: boolean;
            capabilities?: { drop?: string[] };
          };
        }[];
      };
    };
  };
}

const helm = (args: string[]) => runTool('helm', ['--kubeconfig', testKubeconfig(), ...args]);

// `helm install` of the chart on the local control plane; kwok makes the operator's pods Ready
// (they do not run: there is no image registry here).
describe('the capstan Helm chart', () => {
  let ns: string;
  const release = 'cap';

  beforeAll(async () => {
    ns = await createNamespace('chart');
  });
  afterAll(async () => {
    await helm(['uninstall', release, '-n', ns, '--wait']).catch(() => undefined);
    await kubectl(['delete', 'namespace', ns, '--wait=false'], { allowFailure: true });
  });

  it('passes helm lint', async () => {
    const out = await helm(['lint', chart]);
    expect(out.stdout).toContain('0 chart(s) failed');
  });

  it('installs an operator Deployment that becomes Ready, locked down, with the rules from rules.ts', async () => {
    await helm([
      'install',
      release,
      chart,
      '-n',
      ns,
      '--set',
      `watchNamespaces={${ns}}`,
      '--wait',
      '--timeout',
      '2m',
    ]);
    await waitCrdEstablished('distributedapps.capstan.dev');
    const deployment = await waitFor('the operator Deployment to be ready', async () => {
      const d = JSON.parse(
        (await kubectl(['-n', ns, 'get', 'deployment', `${release}-operator`, '-o', 'json'])).stdout,
      ) as Deployment;
      return d.status?.readyReplicas === 2 ? d : undefined;
    });
    const pod = deployment.spec.template.spec;
    expect(deployment.spec.template.metadata.labels['app.kubernetes.io/name']).toBe('capstan-operator');
    expect(pod.serviceAccountName).toBe(`${release}-operator`);
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.securityContext.seccompProfile?.type).toBe('RuntimeDefault');
    const container = pod.containers[0]!;
    expect(container.securityContext).toEqual({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(container.args).toContain(`--namespaces=${ns}`);
    expect(container.args).toContain(`--leader-election-namespace=${ns}`);

    const role = JSON.parse(
      (await kubectl(['get', 'clusterrole', `${release}-operator`, '-o', 'json'])).stdout,
    ) as {
      rules: unknown[];
    };
    expect(role.rules).toEqual(JSON.parse(JSON.stringify(OPERATOR_RULES)));
    const can = await kubectl(
      [
        'auth',
        'can-i',
        'create',
        'leases.coordination.k8s.io',
        '-n',
        ns,
        `--as=system:serviceaccount:${ns}:${release}-operator`,
      ],
      { allowFailure: true },
    );
    expect(can.stdout.trim()).toBe('yes');
    const cannot = await kubectl(
      [
        'auth',
        'can-i',
        'create',
        'leases.coordination.k8s.io',
        '-n',
        'default',
        `--as=system:serviceaccount:${ns}:${release}-operator`,
      ],
      { allowFailure: true },
    );
    expect(cannot.stdout.trim()).toBe('no');
  });
});
