/**
 * Where a benchmark phase's time went: the API server's requests by verb and resource, and the CPU
 * seconds each process of the control plane (and the operator) used, both as differences between two
 * snapshots taken around the phase.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { runTool } from './local-cluster/tools.ts';

/** A process whose CPU time is accounted, by the name it is reported under. */
export interface MeasuredProcess {
  readonly name: string;
  readonly pid: number;
}

/** A snapshot: requests per "VERB resource[/subresource]" and CPU seconds per process name. */
export interface LoadSnapshot {
  readonly requests: Map<string, number>;
  readonly cpuSeconds: Map<string, number>;
}

const REQUEST_LINE = /^apiserver_request_total\{([^}]*)\} (\S+)$/;

function label(labels: string, name: string): string {
  return new RegExp(`(?:^|,)${name}="([^"]*)"`).exec(labels)?.[1] ?? '';
}

/** The API server's `apiserver_request_total`, summed over codes and components. */
function requestCounts(metrics: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of metrics.split('\n')) {
    const match = REQUEST_LINE.exec(line);
    if (match === null) continue;
    const labels = match[1] ?? '';
    const sub = label(labels, 'subresource');
    const key = `${label(labels, 'verb')} ${label(labels, 'resource') || '(none)'}${sub ? `/${sub}` : ''}`;
    counts.set(key, (counts.get(key) ?? 0) + Number(match[2]));
  }
  return counts;
}

/** The parent pid and utime + stime in seconds of the process `pid` (undefined once it is gone). */
function readStat(pid: number): { ppid: number; cpuSeconds: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The fields after the command name, which may itself hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), cpuSeconds: (Number(fields[11]) + Number(fields[12])) / 100 }; // USER_HZ is 100
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds so far of each group of processes, every process counted with all its descendants
 * (HAProxy's master-worker mode, say, serves from a child), from one pass over /proc. A process that
 * exited takes its time with it.
 */
export function groupCpuSeconds(groups: Readonly<Record<string, readonly number[]>>): Map<string, number> {
  const children = new Map<number, number[]>();
  const cpu = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const stat = readStat(pid); // undefined: gone since the listing
    if (stat === undefined) continue;
    children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), pid]);
    cpu.set(pid, stat.cpuSeconds);
  }
  const seconds = new Map<string, number>();
  for (const [group, roots] of Object.entries(groups)) {
    let sum = 0;
    const pending = [...roots];
    for (let pid = pending.pop(); pid !== undefined; pid = pending.pop()) {
      sum += cpu.get(pid) ?? 0;
      pending.push(...(children.get(pid) ?? []));
    }
    seconds.set(group, sum);
  }
  return seconds;
}

/** Takes a snapshot of the API server's counters and of the named processes' CPU time. */
export async function loadSnapshot(
  kubeconfig: string,
  processes: readonly MeasuredProcess[],
): Promise<LoadSnapshot> {
  const metrics = (await runTool('kubectl', ['--kubeconfig', kubeconfig, 'get', '--raw', '/metrics'])).stdout;
  return {
    requests: requestCounts(metrics),
    cpuSeconds: new Map(processes.map((p) => [p.name, readStat(p.pid)?.cpuSeconds ?? 0])),
  };
}

function deltas(before: Map<string, number>, after: Map<string, number>): [string, number][] {
  return [...after]
    .map(([key, value]): [string, number] => [key, value - (before.get(key) ?? 0)])
    .filter(([, d]) => d > 0)
    .sort((a, b) => b[1] - a[1]);
}

/** Lines for a phase's log: CPU seconds per process and the `top` request kinds, largest first. */
export function describeLoad(before: LoadSnapshot, after: LoadSnapshot, top = 12): string[] {
  const cpu = deltas(before.cpuSeconds, after.cpuSeconds);
  const requests = deltas(before.requests, after.requests);
  const total = requests.reduce((sum, [, n]) => sum + n, 0);
  return [
    `CPU seconds: ${cpu.map(([name, s]) => `${name} ${s.toFixed(0)}`).join(', ')}`,
    `API requests: ${total} in all; ${requests
      .slice(0, top)
      .map(([key, n]) => `${key} ${n}`)
      .join(', ')}`,
  ];
}
