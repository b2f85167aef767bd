/**
 * What real nodes leave on the host besides processes and network: cgroups, mounts and state.
 *
 * Each node's pods live under its cgroup root (/capstan-node-N in every cgroup v1 hierarchy), so a
 * node can be failed for real by freezing that one freezer cgroup: every container of the node
 * stops at once (and the ZooKeeper sessions of its workers expire) while the rest of the machine runs.
 * sweepNodes removes everything a crashed run left: it kills whatever still runs in the nodes'
 * cgroups, unmounts everything under NODES_ROOT (the kubelet bind-mounts its root dir onto itself;
 * pod volumes and network namespaces are mounts too), removes the cgroups and the nodes' state.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run, runQuietly } from './command.ts';
import { sleep } from './detached.ts';
import { NODES_ROOT } from './real-node.ts';

const CGROUP_V1 = '/sys/fs/cgroup';

async function hierarchies(): Promise<string[]> {
  const entries = await readdir(CGROUP_V1, { withFileTypes: true });
  // cgroup v1 mounts one directory per controller; `unified` is the v2 hierarchy of a hybrid host.
  return entries.filter((e) => e.isDirectory() && e.name !== 'unified').map((e) => join(CGROUP_V1, e.name));
}

/** Creates a node's cgroup root in every hierarchy (the kubelet refuses a cgroupRoot that does not exist). */
export async function createNodeCgroups(cgroup: string): Promise<void> {
  for (const h of await hierarchies()) {
    const dir = join(h, cgroup);
    await mkdir(dir, { recursive: true });
    if (h.endsWith('cpuset')) {
      // A new cpuset cgroup starts empty and takes no tasks until it has cpus and mems.
      for (const f of ['cpuset.cpus', 'cpuset.mems'])
        await writeFile(join(dir, f), await readFile(join(h, f)));
    }
  }
}

/** Freezes (true) or thaws (false) every process of a node's pods. */
export async function setNodeFrozen(cgroup: string, frozen: boolean): Promise<void> {
  await writeFile(join(CGROUP_V1, 'freezer', cgroup, 'freezer.state'), frozen ? 'FROZEN' : 'THAWED');
}

async function cgroupDirs(root: string): Promise<string[]> {
  if (!existsSync(root)) return [];
  const out = [root];
  for (const e of await readdir(root, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...(await cgroupDirs(join(root, e.name))));
  }
  return out;
}

async function killCgroupProcesses(cgroup: string): Promise<void> {
  const pids = new Set<number>();
  for (const dir of await cgroupDirs(join(CGROUP_V1, 'pids', cgroup))) {
    const procs = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
    for (const pid of procs.split('\n').filter(Boolean)) pids.add(Number(pid));
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

/** Removes an empty cgroup directory, waiting briefly for its last tasks to leave. */
async function removeCgroupDir(dir: string): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const removed = await rmdir(dir).then(
      () => true,
      () => !existsSync(dir),
    );
    if (removed) return;
    await sleep(100);
  }
}

async function removeCgroups(cgroup: string): Promise<void> {
  for (const h of await hierarchies()) {
    // Children first: a cgroup directory goes only once it has none.
    for (const dir of (await cgroupDirs(join(h, cgroup))).reverse()) await removeCgroupDir(dir);
  }
}

/** Mount points under `root`, deepest first. */
async function mountsUnder(root: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const points = info
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined && (p === root || p.startsWith(`${root}/`)));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

async function unmountAll(root: string): Promise<void> {
  for (let round = 0; round < 5; round++) {
    const points = await mountsUnder(root);
    if (points.length === 0) return;
    for (const p of points) await runQuietly('umount', ['-l', p]);
  }
  const left = await mountsUnder(root);
  if (left.length > 0) await run('umount', ['-l', left[0]!]);
}

/** Kills every process whose command line names `root`: containerds, kubelets and the runc shims (which detach). */
async function killByCommandLine(root: string): Promise<void> {
  for (const entry of await readdir('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (!cmdline.includes(root)) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

/**
 * Removes every trace of real nodes: their agents and shims, processes in their cgroups (thawed first, a frozen task cannot
 * die), mounts under NODES_ROOT, the cgroups and the nodes' state. Safe to run when nothing is left.
 */
export async function sweepNodes(): Promise<void> {
  const names = existsSync(NODES_ROOT) ? await readdir(NODES_ROOT) : [];
  for (const h of existsSync(CGROUP_V1) ? await hierarchies() : []) {
    for (const e of await readdir(h, { withFileTypes: true })) {
      if (e.isDirectory() && e.name.startsWith('capstan-node-')) names.push(e.name);
    }
  }
  await killByCommandLine(NODES_ROOT);
  for (const name of new Set(names)) {
    const cgroup = `/${name}`;
    await setNodeFrozen(cgroup, false).catch(() => undefined);
    await killCgroupProcesses(cgroup);
    await removeCgroups(cgroup);
  }
  await unmountAll(NODES_ROOT);
  await rm(NODES_ROOT, { recursive: true, force: true });
}
