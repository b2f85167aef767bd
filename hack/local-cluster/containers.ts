/**
 * Reaching a real node's containers from the host, as a person would with `crictl` and `kill`:
 * a container is found by the containerID the kubelet reports in the pod's status, and its
 * processes by the cgroup runc created for it under the node's cgroup root.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';

const PIDS_HIERARCHY = '/sys/fs/cgroup/pids';

async function findCgroup(dir: string, id: string, depth = 0): Promise<string | undefined> {
  if (depth > 4) return undefined;
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries.filter((x) => x.isDirectory())) {
    if (e.name.includes(id)) return join(dir, e.name);
    const found = await findCgroup(join(dir, e.name), id, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

async function parentPid(pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const match = /^PPid:\s+(\d+)/m.exec(status);
  return match ? Number(match[1]) : undefined;
}

/**
 * The host pid of a container's main process (its PID 1), from the containerID of a pod's status
 * (`containerd://<id>`). Throws when the container has no process on this machine.
 */
export async function containerMainPid(containerId: string): Promise<number> {
  const id = containerId.replace(/^[a-z]+:\/\//, '');
  const roots = (await readdir(PIDS_HIERARCHY)).filter((name) => name.startsWith('capstan-node-'));
  for (const root of roots) {
    const dir = await findCgroup(join(PIDS_HIERARCHY, root), id);
    if (dir === undefined) continue;
    const pids = (await readFile(join(dir, 'cgroup.procs'), 'utf8')).split('\n').filter(Boolean).map(Number);
    // The main process is the one whose parent (the runc shim) is outside the container.
    for (const pid of pids) if (!pids.includes((await parentPid(pid)) ?? -1)) return pid;
  }
  throw new Error(`container ${id} has no process on a real node of this machine`);
}

/** `kill -9` of a container's main process; the kubelet sees the container exit (137) and restarts it. */
export async function killContainer(containerId: string): Promise<number> {
  const pid = await containerMainPid(containerId);
  process.kill(pid, 'SIGKILL');
  return pid;
}
