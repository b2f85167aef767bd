// `make cluster-up` / `make cluster-down`: a local cluster that outlives the command.
//   node hack/cluster.ts up     starts it in $CAPSTAN_STATE_DIR (default tmp/cluster) and prints how to use it
//   node hack/cluster.ts down   stops it and removes what it set up on the host
//   node hack/cluster.ts footprint [seconds] [--pods]   RSS and CPU of its processes over a window
//     (default 30 s); --pods shows each pod on a line of its own
// CAPSTAN_REAL_NODES (default 2) real nodes run real containers; 0 gives a control plane with kwok nodes only.
// CAPSTAN_KWOK_NODES fake kwok nodes beside them (default 0 with real nodes, 3 without).
import { join, resolve } from 'node:path';
import {
  readClusterState,
  startLocalCluster,
  stopLocalCluster,
  type LocalClusterState,
} from './local-cluster/cluster.ts';
import { kubectl } from './local-cluster/cluster-state.ts';
import { toolsBin } from './local-cluster/tools.ts';
import { describeFootprint, machineBusyTicks, measureFootprint } from './local-cluster/footprint.ts';

const dir = resolve(process.env.CAPSTAN_STATE_DIR ?? join(import.meta.dirname, '..', 'tmp', 'cluster'));

function count(variable: string, fallback: number, example: string): number {
  const raw = process.env[variable] ?? String(fallback);
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`${variable}=${raw}: set a whole number such as ${example}`);
  return n;
}

function realNodes(): number {
  return count('CAPSTAN_REAL_NODES', 2, '2 (0: kwok nodes only)');
}

async function up(): Promise<void> {
  const started = Date.now();
  const real = realNodes();
  const kwok = count('CAPSTAN_KWOK_NODES', real > 0 ? 0 : 3, '3');
  const state = await startLocalCluster({ dir, realNodes: real, nodes: kwok });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const kwokText = `${kwok} kwok node${kwok === 1 ? '' : 's'}`;
  const nodes =
    state.realNodes.length > 0 ? `real nodes ${state.realNodes.join(', ')} and ${kwokText}` : kwokText;
  process.stdout.write(
    [
      `Local cluster is up in ${seconds}s (${state.server}) with ${nodes}; logs in ${join(dir, 'logs')}.`,
      '',
      `  export KUBECONFIG=${state.kubeconfig}`,
      '  export PATH=$PWD/bin:$PATH',
      '  kubectl get nodes -o wide',
      '',
      'Stop it with: make cluster-down',
      '',
    ].join('\n'),
  );
}

/** Every pod's `namespace/name` by UID, for a footprint that shows each pod. */
async function podsByUid(state: LocalClusterState): Promise<Map<string, string>> {
  const out = await kubectl(toolsBin(), state.kubeconfig, [
    'get',
    'pods',
    '-A',
    '-o',
    'jsonpath={range .items[*]}{.metadata.uid} {.metadata.namespace}/{.metadata.name}{"\\n"}{end}',
  ]);
  return new Map(
    out.split('\n').flatMap((line) => {
      const [uid, name] = line.split(' ');
      return uid && name ? [[uid, name] as [string, string]] : [];
    }),
  );
}

const command = process.argv[2];
if (command === 'up') await up();
else if (command === 'down') await stopLocalCluster(dir);
else if (command === 'footprint') {
  const seconds = Number(process.argv[3] ?? '30');
  const state = await readClusterState(dir);
  const podNames = process.argv.includes('--pods') ? await podsByUid(state) : undefined;
  const [busyBefore, started] = [await machineBusyTicks(), Date.now()];
  const lines = await measureFootprint(state, seconds * 1000, podNames);
  const machine = (((await machineBusyTicks()) - busyBefore) * 1000) / (Date.now() - started); // a tick is 10 ms
  process.stdout.write(
    `${describeFootprint(lines)}\n(CPU: share of one core over ${seconds} s; ` +
      `the whole machine was busy ${machine.toFixed(1)} % of one core meanwhile)\n`,
  );
} else {
  process.stderr.write('usage: node hack/cluster.ts up|down|footprint [seconds] [--pods]\n');
  process.exitCode = 2;
}
