/**
 * The host side of the local cluster's network (see addresses.ts for the plan).
 *
 * setUpHostNetwork creates the host bridge capstan0 and one pod bridge per real node, routes the
 * cluster's ranges into them, turns on forwarding and bridge netfilter (kube-proxy needs both), and
 * installs the guard: an nftables table that drops anything forwarded from a pod bridge to an
 * interface that is not a pod bridge, so no pod can send a packet off the machine. The kernel
 * settings and nftables tables it changes, and those the kubelet and kube-proxy change later, are
 * recorded first and put back by tearDownHostNetwork, which also removes every capstan* interface.
 * Both are idempotent, so a start after a crash first tears down what the crashed run left.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  CLAIMED_RANGES,
  HOST_ADDRESS,
  HOST_BRIDGE,
  HOST_CIDR,
  KWOK_POD_CIDR,
  POD_CIDR,
  SERVICE_CIDR,
  nodeAddresses,
} from './addresses.ts';
import { HostCommandError, run, runQuietly } from './command.ts';

const GUARD_TABLE = 'capstan_guard';
/** The chain of the NetworkPolicy agent (hack/tools/network-policies), in iptables' mangle table. */
const NETPOL_CHAIN = 'CAPSTAN-NETPOL';
/** Where the host's original settings are kept until teardown; survives a crash of the harness. */
const SAVED_HOST = '/run/capstan/host-before-cluster.json';

/** Kernel settings the cluster changes: forwarding and bridge netfilter here, the rest by the kubelet and kube-proxy. */
const SYSCTLS = [
  'net/ipv4/ip_forward',
  'net/bridge/bridge-nf-call-iptables',
  'net/bridge/bridge-nf-call-ip6tables',
  'net/ipv4/conf/all/route_localnet',
  'kernel/panic',
  'kernel/panic_on_oops',
  'vm/overcommit_memory',
];

async function readSysctl(key: string): Promise<string | undefined> {
  try {
    return (await readFile(`/proc/sys/${key}`, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

async function writeSysctl(key: string, value: string): Promise<void> {
  await writeFile(`/proc/sys/${key}`, `${value}\n`);
}

/** What the host had before the cluster touched it: kernel settings and nftables tables. */
interface SavedHost {
  sysctls: Record<string, string>;
  nftTables: string[];
}

async function nftTables(): Promise<string[]> {
  const listing = await run('nft', ['list', 'tables']);
  return listing
    .split('\n')
    .filter((line) => line.startsWith('table '))
    .map((line) => line.slice(6).trim());
}

/** Records the host's state once: after a crash the file already holds the true originals. */
async function saveHost(): Promise<void> {
  if (existsSync(SAVED_HOST)) return;
  const saved: SavedHost = { sysctls: {}, nftTables: await nftTables() };
  for (const key of SYSCTLS) {
    const value = await readSysctl(key);
    if (value !== undefined) saved.sysctls[key] = value;
  }
  await mkdir(dirname(SAVED_HOST), { recursive: true });
  await writeFile(SAVED_HOST, JSON.stringify(saved, null, 2));
}

/**
 * Puts the kernel settings back and removes the nftables tables that were not there before (the
 * kubelet's and kube-proxy's iptables-nft chains live in tables such as `ip filter`).
 */
async function restoreHost(): Promise<void> {
  if (!existsSync(SAVED_HOST)) return;
  const saved = JSON.parse(await readFile(SAVED_HOST, 'utf8')) as SavedHost;
  for (const [key, value] of Object.entries(saved.sysctls)) {
    if ((await readSysctl(key)) !== value) await writeSysctl(key, value).catch(() => undefined);
  }
  for (const table of await nftTables()) {
    if (!saved.nftTables.includes(table)) await runQuietly('nft', ['delete', 'table', ...table.split(' ')]);
  }
  await rm(SAVED_HOST, { force: true });
}

interface RouteEntry {
  dst: string;
  dev?: string;
}

/** Refuses to start when the machine already routes one of the cluster's ranges through something else. */
async function checkRangesFree(): Promise<void> {
  const routes = JSON.parse(await run('ip', ['-j', 'route', 'show'])) as RouteEntry[];
  const taken = routes.filter(
    (r) =>
      r.dst !== 'default' && !r.dev?.startsWith('capstan') && CLAIMED_RANGES.some((c) => overlaps(c, r.dst)),
  );
  if (taken.length > 0) {
    throw new HostCommandError(
      `the local cluster needs ${CLAIMED_RANGES.join(', ')}, but this machine routes ${taken
        .map((r) => `${r.dst} via ${r.dev ?? '?'}`)
        .join(', ')}`,
    );
  }
}

function parseCidr(cidr: string): [number, number] {
  const [ip, bits] = cidr.includes('/') ? cidr.split('/') : [cidr, '32'];
  const value = ip!.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
  return [value, Number(bits)];
}

/** True when two IPv4 CIDRs share an address. */
function overlaps(a: string, b: string): boolean {
  const [va, ba] = parseCidr(a);
  const [vb, bb] = parseCidr(b);
  const bits = Math.min(ba, bb);
  const block = 2 ** (32 - bits);
  return Math.floor(va / block) === Math.floor(vb / block);
}

function guardRules(): string {
  // Pod bridges may forward only to pod bridges (pod to pod, and Service traffic after kube-proxy's DNAT);
  // the host reaches pods directly, so nothing from another interface is forwarded into them either.
  return [
    `table inet ${GUARD_TABLE} {`,
    '  chain forward {',
    '    type filter hook forward priority filter - 5; policy accept;',
    '    iifname "capstan-br*" oifname != "capstan-br*" counter drop',
    '    iifname != "capstan-br*" oifname "capstan-br*" counter drop',
    '  }',
    '}',
    '',
  ].join('\n');
}

async function addBridge(name: string, cidrAddresses: string[]): Promise<void> {
  await run('ip', ['link', 'add', name, 'type', 'bridge']);
  for (const address of cidrAddresses) await run('ip', ['addr', 'add', address, 'dev', name]);
  await run('ip', ['link', 'set', name, 'up']);
}

/** Creates the bridges, routes, guard and kernel settings for `realNodes` nodes. */
export async function setUpHostNetwork(realNodes: number): Promise<void> {
  await tearDownHostNetwork();
  await checkRangesFree();
  await saveHost();
  const nodes = Array.from({ length: realNodes }, (_, i) => nodeAddresses(i));
  const hostBits = HOST_CIDR.split('/')[1]!;
  await addBridge(
    HOST_BRIDGE,
    [HOST_ADDRESS, ...nodes.map((n) => n.address)].map((a) => `${a}/${hostBits}`),
  );
  for (const n of nodes) await addBridge(n.bridge, [`${n.podGateway}/24`]);
  // Less specific than the per-node /24s: addresses of nodes not (yet) there end in the empty bridge.
  await run('ip', ['route', 'add', POD_CIDR, 'dev', HOST_BRIDGE]);
  await run('ip', ['route', 'add', SERVICE_CIDR, 'dev', HOST_BRIDGE]);
  await run('ip', ['route', 'add', 'unreachable', KWOK_POD_CIDR]);
  await run('nft', ['-f', '-'], guardRules());
  await writeSysctl('net/ipv4/ip_forward', '1');
  await writeSysctl('net/bridge/bridge-nf-call-iptables', '1');
  await writeSysctl('net/bridge/bridge-nf-call-ip6tables', '1');
}

async function capstanLinks(): Promise<string[]> {
  const links = JSON.parse(await run('ip', ['-j', 'link', 'show'])) as { ifname: string }[];
  return links.map((l) => l.ifname).filter((name) => name.startsWith('capstan'));
}

/**
 * Removes what setUpHostNetwork and the node agents created on the host: the capstan* interfaces
 * (with their routes), the guard, kube-proxy's nftables tables and the NetworkPolicy agent's chain,
 * and restores the kernel settings.
 */
export async function tearDownHostNetwork(): Promise<void> {
  for (const link of await capstanLinks()) await runQuietly('ip', ['link', 'del', link]);
  await runQuietly('ip', ['route', 'del', 'unreachable', KWOK_POD_CIDR]);
  await runQuietly('nft', ['delete', 'table', 'inet', GUARD_TABLE]);
  for (const family of ['ip', 'ip6']) await runQuietly('nft', ['delete', 'table', family, 'kube-proxy']);
  // The NetworkPolicy agent removes its chain when it stops; this covers an agent killed with -9.
  await removeChain('iptables', 'mangle', NETPOL_CHAIN, ['POSTROUTING']);
  // The kubelets' chains, in case their tables were there before the cluster (restoreHost keeps those).
  for (const command of ['iptables', 'ip6tables']) {
    await removeChain(command, 'filter', 'KUBE-FIREWALL', ['INPUT', 'OUTPUT']);
    for (const table of ['filter', 'nat', 'mangle'])
      await removeChain(command, table, 'KUBE-KUBELET-CANARY', []);
    await removeChain(command, 'mangle', 'KUBE-IPTABLES-HINT', []);
  }
  await restoreHost();
}

/** Deletes an iptables chain and the jumps to it from `from`; absent ones are fine. */
async function removeChain(command: string, table: string, chain: string, from: string[]): Promise<void> {
  for (const builtIn of from) await runQuietly(command, ['-w', '-t', table, '-D', builtIn, '-j', chain]);
  for (const op of ['-F', '-X']) await runQuietly(command, ['-w', '-t', table, op, chain]);
}
