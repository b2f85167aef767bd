/**
 * What the local cluster costs the machine: resident memory and CPU of every process that belongs to
 * it, grouped as a person would read them. A process belongs to the cluster when it is a recorded
 * component (or a child of one), a containerd shim of a real node, or runs in a real node's cgroup
 * (the pods' containers).
 */
import { readFile, readdir } from 'node:fs/promises';
import type { LocalClusterState } from './cluster.ts';
import { NODES_ROOT } from './real-node.ts';

interface ProcessSample {
  pid: number;
  ppid: number;
  group: string;
  rssBytes: number;
  cpuTicks: number;
}

async function readProcess(
  pid: number,
): Promise<
  { ppid: number; rssBytes: number; cpuTicks: number; cgroup: string; cmdline: string } | undefined
> {
  try {
    const [stat, status, cgroup, cmdline] = await Promise.all([
      readFile(`/proc/${pid}/stat`, 'utf8'),
      readFile(`/proc/${pid}/status`, 'utf8'),
      readFile(`/proc/${pid}/cgroup`, 'utf8'),
      readFile(`/proc/${pid}/cmdline`, 'utf8'),
    ]);
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    return {
      ppid: Number(fields[1]),
      // utime + stime, plus cutime + cstime: what its exited children used (exec probes, runc, CNI
      // plugins live for milliseconds and would otherwise never be seen).
      cpuTicks: Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]),
      rssBytes: rssKb * 1024,
      cgroup,
      cmdline,
    };
  } catch {
    return undefined;
  }
}

/** A pod's UID in a container's cgroup path (`pod<uid>` with the cgroupfs driver, `_` for `-` with systemd). */
function podUid(cgroup: string): string | undefined {
  return /pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})/
    .exec(cgroup)?.[1]
    ?.replaceAll('_', '-');
}

/**
 * The cluster's processes now, each with the group it counts in; a pod's containers count as that pod
 * when `podNames` (UID to `namespace/name`) names it.
 */
async function sample(
  state: LocalClusterState,
  podNames?: ReadonlyMap<string, string>,
): Promise<ProcessSample[]> {
  const components = new Map(state.components.map((c) => [c.pid, c.name.split('/').pop() ?? c.name]));
  const all = new Map<number, NonNullable<Awaited<ReturnType<typeof readProcess>>>>();
  for (const entry of await readdir('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const p = await readProcess(pid);
    if (p) all.set(pid, p);
  }
  const groupOf = (pid: number, depth = 0): string | undefined => {
    const p = all.get(pid);
    if (!p || depth > 20) return undefined;
    if (components.has(pid)) return components.get(pid);
    if (/:\/capstan-node-\d+\//.test(p.cgroup)) {
      const name = podNames?.get(podUid(p.cgroup) ?? '');
      return name === undefined ? 'pods (containers)' : `pod ${name}`;
    }
    if (p.cmdline.includes(NODES_ROOT) && p.cmdline.includes('containerd-shim')) return 'containerd shims';
    return groupOf(p.ppid, depth + 1);
  };
  const out: ProcessSample[] = [];
  for (const [pid, p] of all) {
    const group = groupOf(pid);
    if (group !== undefined)
      out.push({ pid, ppid: p.ppid, group, rssBytes: p.rssBytes, cpuTicks: p.cpuTicks });
  }
  return out;
}

/** Memory and CPU of one group of the cluster's processes. */
export interface FootprintLine {
  group: string;
  processes: number;
  rssMiB: number;
  /** Share of one core over the window. */
  cpuPercent: number;
}

/**
 * Samples the cluster twice, `windowMs` apart, and returns per-group RSS and CPU, largest first; with
 * `podNames` (pod UID to `namespace/name`) each pod is a group of its own.
 */
export async function measureFootprint(
  state: LocalClusterState,
  windowMs = 30_000,
  podNames?: ReadonlyMap<string, string>,
): Promise<FootprintLine[]> {
  const before = await sample(state, podNames);
  const started = Date.now();
  await new Promise((r) => setTimeout(r, windowMs));
  const after = await sample(state, podNames);
  const elapsedTicks = ((Date.now() - started) / 1000) * 100; // USER_HZ is 100 on Linux
  const ticksBefore = new Map(before.map((p) => [p.pid, p.cpuTicks]));
  const groups = new Map<string, FootprintLine>();
  for (const p of after) {
    const line = groups.get(p.group) ?? { group: p.group, processes: 0, rssMiB: 0, cpuPercent: 0 };
    line.processes++;
    line.rssMiB += p.rssBytes / 2 ** 20;
    line.cpuPercent += ((p.cpuTicks - (ticksBefore.get(p.pid) ?? p.cpuTicks)) / elapsedTicks) * 100;
    groups.set(p.group, line);
  }
  return [...groups.values()].sort((a, b) => b.rssMiB - a.rssMiB);
}

/**
 * CPU ticks the whole machine spent busy so far (every process and the kernel, all cores), from
 * /proc/stat: a check on the per-process sum, which cannot see what the kernel does for the cluster.
 */
export async function machineBusyTicks(): Promise<number> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return [user, nice, system, irq, softirq, steal].reduce<number>((sum, t) => sum + (t ?? 0), 0);
}

/** A table of {@link measureFootprint}'s lines with a total. */
export function describeFootprint(lines: FootprintLine[]): string {
  const total = lines.reduce(
    (t, l) => ({
      processes: t.processes + l.processes,
      rssMiB: t.rssMiB + l.rssMiB,
      cpuPercent: t.cpuPercent + l.cpuPercent,
    }),
    { processes: 0, rssMiB: 0, cpuPercent: 0 },
  );
  const row = (name: string, l: { processes: number; rssMiB: number; cpuPercent: number }): string =>
    `${name.padEnd(44)} ${String(l.processes).padStart(4)} ${l.rssMiB.toFixed(0).padStart(8)} ${l.cpuPercent.toFixed(1).padStart(7)}`;
  return [
    `${'group'.padEnd(44)} ${'procs'.padStart(4)} ${'RSS MiB'.padStart(8)} ${'CPU %'.padStart(7)}`,
    ...lines.map((l) => row(l.group, l)),
    row('total', total),
  ].join('\n');
}
