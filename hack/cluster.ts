// `make cluster-up` / `make cluster-down`: a local control plane that outlives the command.
//   node hack/cluster.ts up     starts it in $CAPSTAN_STATE_DIR (default tmp/cluster) and prints how to use it
//   node hack/cluster.ts down   stops it
import { join, resolve } from 'node:path';
import { startControlPlane, stopControlPlane } from '../test/harness/control-plane.ts';

const dir = resolve(process.env.CAPSTAN_STATE_DIR ?? join(import.meta.dirname, '..', 'tmp', 'cluster'));

async function up(): Promise<void> {
  const started = Date.now();
  const state = await startControlPlane({ dir });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  process.stdout.write(
    [
      `Local control plane is up in ${seconds}s (${state.server}); logs in ${join(dir, 'logs')}.`,
      '',
      `  export KUBECONFIG=${state.kubeconfig}`,
      '  export PATH=$PWD/bin:$PATH',
      '  kubectl get nodes',
      '',
      'Stop it with: make cluster-down',
      '',
    ].join('\n'),
  );
}

const command = process.argv[2];
if (command === 'up') await up();
else if (command === 'down') await stopControlPlane(dir);
else {
  process.stderr.write('usage: node hack/cluster.ts up|down\n');
  process.exitCode = 2;
}
