// `make demo`: brings up the local control plane and shows it working.
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { startControlPlane } from '../test/harness/control-plane.ts';

const root = resolve(import.meta.dirname, '..');
const dir = resolve(process.env.CAPSTAN_STATE_DIR ?? join(root, 'tmp', 'cluster'));
const started = Date.now();
const state = await startControlPlane({ dir });
const kubectl = (...args: string[]): string =>
  execFileSync(join(root, 'bin', 'kubectl'), ['--kubeconfig', state.kubeconfig, ...args], {
    encoding: 'utf8',
  });

process.stdout.write(
  `Local control plane up in ${((Date.now() - started) / 1000).toFixed(1)}s at ${state.server}\n\n`,
);
process.stdout.write(`$ kubectl version\n${kubectl('version')}\n`);
process.stdout.write(`$ kubectl get nodes\n${kubectl('get', 'nodes', '-o', 'wide')}\n`);
process.stdout.write(
  [
    'Use it:',
    `  export KUBECONFIG=${state.kubeconfig} PATH=${join(root, 'bin')}:$PATH`,
    '  kubectl get nodes',
    '',
    'Stop it: make cluster-down',
    '',
  ].join('\n'),
);
