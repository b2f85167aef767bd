import { checkPort, checkPositiveInt, checkToken, ConfigRenderError } from './config-render-error.ts';

/** One ensemble member as every member's `zoo.cfg` names it. */
export interface ZooKeeperMember {
  /** The member's `myid`, 1..255, unique in the ensemble. */
  id: number;
  /** Host name or address the other members reach it at (a pod's stable DNS name in Kubernetes). */
  host: string;
  /** Port followers use to talk to the leader (ZooKeeper's conventional 2888). */
  quorumPort: number;
  /** Port used for leader election (conventional 3888). */
  electionPort: number;
}

/** Options of {@link renderZooKeeperConfig}. */
export interface ZooKeeperConfigOptions {
  dataDir: string;
  /** Separate directory for the transaction log; defaults to `dataDir`. */
  dataLogDir?: string;
  clientPort: number;
  /** Address the client port binds to; all interfaces when unset. */
  clientPortAddress?: string;
  /** One member renders a standalone server; more render `server.N` lines. */
  members: readonly ZooKeeperMember[];
  /** Milliseconds per tick; default 2000. Session timeouts are bounded to 2..20 ticks. */
  tickTime?: number;
  /** Ticks a follower may take to connect and sync to the leader; default 10. */
  initLimit?: number;
  /** Ticks a follower may lag behind the leader; default 5. */
  syncLimit?: number;
  /** Four-letter-word commands allowed on the client port; default `ruok`, `srvr`, `mntr`. */
  fourLetterWords?: readonly string[];
  /**
   * Bind quorum and election ports on all interfaces instead of the member's own `host` (needed in
   * Kubernetes, where a pod's DNS name may not resolve to itself until it is ready). Default false.
   */
  quorumListenOnAllIPs?: boolean;
  /** Further `key=value` lines (ZooKeeper maps unknown keys to `zookeeper.<key>` system properties). */
  extra?: Readonly<Record<string, string | number | boolean>>;
}

const DEFAULT_FOUR_LETTER_WORDS = ['ruok', 'srvr', 'mntr'] as const;

/**
 * Renders a `zoo.cfg`. A single member renders a standalone server (no `server.N` lines); several render
 * `server.<id>=<host>:<quorumPort>:<electionPort>` lines, sorted by id. The admin HTTP server is always
 * disabled, dynamic reconfiguration is off, old snapshots are purged hourly. Pure; throws
 * {@link ConfigRenderError} on invalid options (duplicate ids, bad ports, hosts with spaces, no members).
 */
export function renderZooKeeperConfig(options: ZooKeeperConfigOptions): string {
  const members = checkMembers(options.members);
  const lines = [
    `tickTime=${checkPositiveInt('tickTime', options.tickTime ?? 2000)}`,
    `initLimit=${checkPositiveInt('initLimit', options.initLimit ?? 10)}`,
    `syncLimit=${checkPositiveInt('syncLimit', options.syncLimit ?? 5)}`,
    `dataDir=${checkToken('dataDir', options.dataDir)}`,
    ...(options.dataLogDir ? [`dataLogDir=${checkToken('dataLogDir', options.dataLogDir)}`] : []),
    `clientPort=${checkPort('clientPort', options.clientPort)}`,
    ...(options.clientPortAddress
      ? [`clientPortAddress=${checkToken('clientPortAddress', options.clientPortAddress)}`]
      : []),
    'admin.enableServer=false',
    `4lw.commands.whitelist=${fourLetterWords(options.fourLetterWords)}`,
    'reconfigEnabled=false',
    'autopurge.snapRetainCount=3',
    'autopurge.purgeInterval=1',
    ...(options.quorumListenOnAllIPs ? ['quorumListenOnAllIPs=true'] : []),
    ...extraLines(options.extra),
    ...(members.length > 1 ? members.map(serverLine) : []),
  ];
  return `${lines.join('\n')}\n`;
}

/** Content of the `myid` file in a member's data directory. */
export function renderZooKeeperMyId(id: number): string {
  return `${checkMemberId('id', id)}\n`;
}

/** The client connect string (`host:port,host:port`) for members that all serve on `clientPort`. */
export function zooKeeperConnectString(hosts: readonly string[], clientPort: number): string {
  checkPort('clientPort', clientPort);
  return hosts.map((h) => `${checkToken('hosts', h)}:${clientPort}`).join(',');
}

function checkMemberId(field: string, id: number): number {
  if (!Number.isInteger(id) || id < 1 || id > 255) {
    throw new ConfigRenderError(field, `expected a member id in 1..255, got ${String(id)}`);
  }
  return id;
}

function checkMembers(members: readonly ZooKeeperMember[]): ZooKeeperMember[] {
  if (members.length === 0) throw new ConfigRenderError('members', 'at least one member is required');
  const seen = new Set<number>();
  for (const [i, m] of members.entries()) {
    checkMemberId(`members[${i}].id`, m.id);
    if (seen.has(m.id)) throw new ConfigRenderError(`members[${i}].id`, `duplicate id ${m.id}`);
    seen.add(m.id);
    checkToken(`members[${i}].host`, m.host);
    checkPort(`members[${i}].quorumPort`, m.quorumPort);
    checkPort(`members[${i}].electionPort`, m.electionPort);
  }
  return [...members].sort((a, b) => a.id - b.id);
}

function serverLine(m: ZooKeeperMember): string {
  return `server.${m.id}=${m.host}:${m.quorumPort}:${m.electionPort}`;
}

function fourLetterWords(words: readonly string[] = DEFAULT_FOUR_LETTER_WORDS): string {
  if (words.length === 0) throw new ConfigRenderError('fourLetterWords', 'at least one command is required');
  for (const w of words) {
    if (w !== '*' && !/^[a-z]{4}$/.test(w)) {
      throw new ConfigRenderError('fourLetterWords', `not a four-letter word: ${JSON.stringify(w)}`);
    }
  }
  return words.join(',');
}

function extraLines(extra: Readonly<Record<string, string | number | boolean>> = {}): string[] {
  return Object.entries(extra).map(([key, value]) => {
    if (!/^[A-Za-z][A-Za-z0-9_.]*$/.test(key)) {
      throw new ConfigRenderError('extra', `invalid key ${JSON.stringify(key)}`);
    }
    return `${key}=${checkToken(`extra.${key}`, String(value))}`;
  });
}
