/**
 * What a running local cluster records about itself (`<dir>/state.json`: every component's command
 * line, pid and start time) and the small steps the start-up is made of: launching a component and
 * waiting for its health, and kubectl against the cluster.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Ports, waitUntil } from './control-plane.ts';
import { type ComponentSpec, isAlive, processStartTime, startDetached } from './detached.ts';
import type { HostServicePorts } from './host-services.ts';

/** A started component and how to tell it from a later process that reused its pid. */
export type RunningComponent = ComponentSpec & { pid: number; startTime: string };

/** What a running cluster left in its state file. */
export interface LocalClusterState {
  dir: string;
  kubeconfig: string;
  server: string;
  ports: Ports;
  hostPorts?: HostServicePorts;
  realNodes: string[];
  components: RunningComponent[];
}

/** Error raised when the cluster cannot start; carries the failing component's log tail. */
export class LocalClusterError extends Error {
  readonly code = 'CAPSTAN_LOCAL_CLUSTER';
}

/** The state file of a cluster directory. */
export const stateFile = (dir: string): string => join(dir, 'state.json');

/** Reads the state file of a cluster started by {@link startLocalCluster}. */
export async function readClusterState(dir: string): Promise<LocalClusterState> {
  return JSON.parse(await readFile(stateFile(dir), 'utf8')) as LocalClusterState;
}

export async function writeState(state: LocalClusterState): Promise<void> {
  await writeFile(stateFile(state.dir), JSON.stringify(state, null, 2));
}

/** True while the recorded process runs (and is not a later process with the same pid). */
export function stillOurs(c: RunningComponent): boolean {
  return isAlive(c.pid) && processStartTime(c.pid) === c.startTime;
}

export function launch(spec: ComponentSpec): RunningComponent {
  const pid = startDetached(spec);
  return { ...spec, pid, startTime: processStartTime(pid) ?? '' };
}

export function kubectl(bin: string, kubeconfig: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolveRun, reject) => {
    const child = execFile(
      join(bin, 'kubectl'),
      ['--kubeconfig', kubeconfig, ...args],
      (err, stdout, stderr) =>
        err
          ? reject(new LocalClusterError(`kubectl ${args.join(' ')}: ${stderr || err.message}`))
          : resolveRun(stdout),
    );
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input ?? '');
  });
}

export function applyObjects(bin: string, kubeconfig: string, items: object[]): Promise<string> {
  const list = JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
  return kubectl(bin, kubeconfig, ['apply', '--server-side', '--force-conflicts', '-f', '-'], list);
}

export async function startComponent(
  state: LocalClusterState,
  spec: ComponentSpec,
  healthy: () => Promise<boolean>,
): Promise<void> {
  const started = launch(spec);
  state.components.push(started);
  await writeState(state);
  await waitUntil(started, healthy, 120_000);
}
