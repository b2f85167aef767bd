// `make demo`: Capstan end to end in one command.
//   1. the local control plane (reused when tmp/cluster runs it, else started there)
//   2. the CRD, the operator as a child process and examples/minimal.yaml Ready in namespace capstan-demo
//   3. the same app for real on loopback: bursts through HAProxy, coalescing, kill -9 of a worker, failover
//   4. stops the fleet and the operator; the control plane keeps running (make cluster-down stops it)
// DEMO_KEEP=1 keeps the fleet and the operator running until Ctrl-C. Flow shared with test/e2e/demo.test.ts.
import { existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describeFleet } from '../workload/src/dev-runner.ts';
import type { LocalFleet } from '../workload/src/local-fleet.ts';
import type { ControlPlaneState } from '../test/harness/control-plane.ts';
import { logTail } from '../test/harness/detached.ts';
import {
  burst,
  burstProblems,
  demoFleetOptions,
  describeBurst,
  describeOwnership,
  failoverProblems,
  haproxyWorkerStatus,
  killWorkerAndWaitFailover,
  ownershipByWorker,
  startFleet,
  workerLogTails,
} from '../test/e2e/demo-fleet.ts';
import type { BurstOptions } from '../test/e2e/demo-fleet.ts';
import {
  deployExample,
  ensureControlPlane,
  installCrd,
  kubectlAt,
  operatorMetricLines,
  overview,
  repoRoot,
  startOperator,
  waitAppReady,
} from '../test/e2e/demo-kube.ts';
import type { DemoOperator } from '../test/e2e/demo-kube.ts';

const clusterDir = resolve(process.env.CAPSTAN_STATE_DIR ?? join(repoRoot, 'tmp', 'cluster'));
const demoDir = join(repoRoot, 'tmp', 'demo');
const namespace = 'capstan-demo';
const example = join(repoRoot, 'examples', 'minimal.yaml');
const keep = process.env.DEMO_KEEP === '1';
const bin = process.env.CAPSTAN_TOOLS_BIN ?? join(repoRoot, 'bin');

const out = (text = ''): void => void process.stdout.write(`${text}\n`);
const indent = (text: string): string => text.replace(/^/gm, '  ');
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
let section = 0;
function header(title: string): void {
  out(`\n${'='.repeat(8)} ${++section}. ${title} ${'='.repeat(Math.max(4, 70 - title.length))}`);
}

/** A failed step: what failed, why, and the tail of the log that explains it. */
class DemoFailure extends Error {
  readonly logs: string;
  constructor(what: string, cause: unknown, logs: string) {
    super(`${what}: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.logs = logs;
  }
}

async function step<T>(what: string, logs: () => string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof DemoFailure) throw error;
    // Errors from the harness often carry the log tail already.
    const told = error instanceof Error && error.message.includes('last lines of');
    throw new DemoFailure(what, error, told ? '' : logs());
  }
}

const running: { operator?: DemoOperator; fleet?: LocalFleet; kubeconfig?: string } = {};
const operatorLog = join(demoDir, 'operator.log');
const operatorTail = (): string => `--- last lines of ${operatorLog}\n${logTail(operatorLog, 30)}`;
const clusterTail = (): string =>
  ['kube-apiserver', 'kube-controller-manager', 'kwok']
    .map((c) => join(clusterDir, 'logs', `${c}.log`))
    .filter((log) => existsSync(log))
    .map((log) => `--- last lines of ${log}\n${logTail(log, 10)}`)
    .join('\n');
const fleetTail = (): string => (running.fleet ? workerLogTails(running.fleet) : '(fleet not started)');

async function controlPlane(): Promise<ControlPlaneState> {
  header('Local Kubernetes control plane');
  const started = Date.now();
  const { state, reused } = await step('starting the control plane', clusterTail, () =>
    ensureControlPlane(clusterDir),
  );
  out(
    reused
      ? `Reusing the control plane running in ${relative(repoRoot, clusterDir)} (${state.server}).`
      : `Started etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok in ${seconds(Date.now() - started)} (${state.server}).`,
  );
  const nodes = await kubectlAt(state.kubeconfig, ['get', 'nodes']);
  out(`$ kubectl get nodes\n${nodes.stdout.trimEnd()}`);
  out('\nUse it from a shell:');
  out(`  export KUBECONFIG=${state.kubeconfig} PATH=${bin}:$PATH`);
  out('  kubectl get nodes');
  out(`Component logs: ${join(clusterDir, 'logs')}`);
  running.kubeconfig = state.kubeconfig;
  return state;
}

async function operatorAndApp(kubeconfig: string): Promise<void> {
  header('The operator turns examples/minimal.yaml into a running app');
  out(indent(await step('installing the CRD', clusterTail, () => installCrd(kubeconfig))));
  const operator = await step('starting the operator', operatorTail, () =>
    startOperator({ kubeconfig, namespaces: [namespace], logFile: operatorLog }),
  );
  running.operator = operator;
  out(
    `Operator running (pid ${operator.pid}), log ${relative(repoRoot, operatorLog)}, metrics ${operator.metricsUrl}`,
  );
  const started = Date.now();
  const app = await step('applying the example', operatorTail, () =>
    deployExample(kubeconfig, example, namespace),
  );
  out(
    `Applied ${relative(repoRoot, example)} as ${namespace}/${app.name}; PersistentVolumes for ZooKeeper: ${app.volumes.join(', ')}`,
  );
  const live = await step(
    `waiting for ${namespace}/${app.name} to be Ready`,
    () => `${operatorTail()}\n${clusterTail()}`,
    () => waitAppReady(kubeconfig, app),
  );
  out(
    `Ready in ${seconds(Date.now() - started)}: phase ${live.status?.phase}, generation ${live.metadata.generation}, ` +
      `observedGeneration ${live.status?.observedGeneration}`,
  );
  out(`\n$ kubectl get dapp,statefulsets,deployments,services,pods -n ${namespace}`);
  out(await overview(kubeconfig, namespace));
  out(`\n$ curl -s ${operator.metricsUrl} | grep -E '^(controller_runtime_reconcile_total|workqueue_depth)'`);
  const lines = await step('reading operator metrics', operatorTail, () =>
    operatorMetricLines(operator, ['controller_runtime_reconcile_total', 'workqueue_depth']),
  );
  out(lines.join('\n'));
}

async function sendBurst(fleet: LocalFleet, title: string, options: BurstOptions): Promise<void> {
  out(`\n${title}`);
  const result = await step(title, fleetTail, () => burst(fleet, options));
  out(describeBurst(result));
  const problems = burstProblems(result);
  if (problems.length > 0) throw new DemoFailure(title, new Error(problems.join('; ')), fleetTail());
}

async function localFleet(): Promise<void> {
  header('The same app for real on this machine (loopback)');
  const options = await demoFleetOptions(example, namespace);
  out(
    `Starting ZooKeeper, Redis, HAProxy, the rebalancer, ${options.workers} workers and a tiny upstream ...`,
  );
  const started = Date.now();
  const fleet = await step('starting the local fleet', fleetTail, () => startFleet(options));
  running.fleet = fleet;
  out(`Up in ${seconds(Date.now() - started)}.`);
  out(describeFleet(fleet).replace(/\nTry:[\s\S]*$/, ''));
  await sendBurst(fleet, 'Burst 1: 200 requests over 50 keys through HAProxy', {
    prefix: 'demo',
    requests: 200,
    keys: 50,
  });
  out('\nPartition ownership (from ZooKeeper owners/<p>):');
  out(describeOwnership(ownershipByWorker(fleet, await fleet.partitionStates())));

  const victim = [...fleet.workers.keys()][0]!;
  const pid = fleet.workers.get(victim)!.process.pid;
  out(`\nkill -9 ${pid} (worker ${victim}); waiting until each of its partitions is owned again ...`);
  const failover = await step('failover after kill -9', fleetTail, () =>
    killWorkerAndWaitFailover(fleet, victim),
  );
  out(`  every partition owned again ${seconds(failover.failoverMs)} after the kill`);
  out(
    `  (the app's policy: the dead worker's ZooKeeper session expires after ${seconds(options.sessionTimeoutMs ?? 0)}, ` +
      `then rebalanceDelaySeconds ${seconds(options.departureDelayMs ?? 0)} pass before its partitions move)`,
  );
  out(`  ${failover.victim} owned ${failover.owned} partitions; ${failover.moved} moved; survivors now:`);
  out(describeOwnership(failover.after));
  out(`  max-min across survivors: ${failover.spread}`);
  out(`  HAProxy health checks: ${await haproxyWorkerStatus(fleet)}`);
  const problems = failoverProblems(failover);
  if (problems.length > 0) throw new DemoFailure('failover', new Error(problems.join('; ')), fleetTail());
  await sendBurst(fleet, 'Burst 2 (after the failover): 200 requests over 50 new keys', {
    prefix: 'after',
    requests: 200,
    keys: 50,
  });
}

async function stopAll(): Promise<void> {
  const { fleet, operator } = running;
  delete running.fleet;
  delete running.operator;
  await fleet?.stop();
  await operator?.stop();
}

const signalled = new Promise<NodeJS.Signals>((resolveSignal) => {
  process.once('SIGINT', resolveSignal);
  process.once('SIGTERM', resolveSignal);
});

async function flow(): Promise<void> {
  const state = await controlPlane();
  await operatorAndApp(state.kubeconfig);
  await localFleet();
  if (keep) {
    keeping = true;
    header('Kept running (DEMO_KEEP=1)');
    if (running.fleet) out(describeFleet(running.fleet).replace(/\nCtrl-C stops everything\.$/, ''));
    out(`Operator metrics ${running.operator?.metricsUrl}; log ${relative(repoRoot, operatorLog)}`);
    out('Ctrl-C stops the fleet and the operator; the control plane keeps running.');
    await signalled;
  }
}

/** Ctrl-C (or SIGTERM) before the demo finished. */
class Interrupted extends Error {}

let keeping = false;

async function main(): Promise<number> {
  const interrupted = signalled.then((signal) => {
    // With DEMO_KEEP=1 the signal is the expected end, which flow() awaits itself.
    if (!keeping) throw new Interrupted(`interrupted by ${signal}`);
  });
  try {
    await Promise.race([flow(), interrupted.then(() => new Promise<never>(() => undefined))]);
    return 0;
  } catch (error) {
    if (error instanceof Interrupted) {
      out(`\n${error.message}`);
      return 130;
    }
    out(`\nDEMO FAILED: ${error instanceof Error ? error.message : String(error)}`);
    if (error instanceof DemoFailure && error.logs !== '') out(error.logs);
    return 1;
  } finally {
    header('Stopping');
    await stopAll();
    out('Stopped the local fleet and the operator.');
    if (running.kubeconfig !== undefined)
      out(
        `The control plane keeps running (KUBECONFIG=${running.kubeconfig}); \`make cluster-down\` stops it.`,
      );
  }
}

process.exit(await main());
