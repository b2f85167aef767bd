import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  renderZooKeeperConfig,
  renderZooKeeperMyId,
  type ZooKeeperMember,
} from '../../../common/src/zookeeper-config.ts';
import {
  fourLetterWord,
  zooKeeperMode,
  type ZooKeeperMode,
} from '../../../common/src/zookeeper-four-letter.ts';
import { findBinary } from './binaries.ts';
import { HarnessError } from './errors.ts';
import { freePorts, LOOPBACK } from './ports.ts';
import { logTailSection, spawnManaged, type ManagedProcess } from './process.ts';
import { waitUntil } from './probes.ts';
import { makeTempDir, removeDir } from './temp-dir.ts';

export type { ZooKeeperMode };

/** Options of {@link startZooKeeper} and {@link startZooKeeperEnsemble}. */
export interface ZooKeeperOptions {
  /** Milliseconds per tick; default 500, so sessions may be 1..10 s and failures are noticed fast. */
  tickTime?: number;
  /** Maximum Java heap per member in MiB; default 128. */
  heapMb?: number;
  /** Readiness deadline in milliseconds; default 30000 (60000 for an ensemble). */
  startTimeoutMs?: number;
}

/** One ZooKeeper server of a {@link ZooKeeperService}. */
export interface ZooKeeperMemberHandle {
  id: number;
  host: string;
  /** Client port. */
  port: number;
  quorumPort: number;
  electionPort: number;
  /** The member's directory (zoo.cfg, data/, log). */
  dir: string;
  /** The current process (a new one after start()). */
  readonly process: ManagedProcess;
  /** SIGTERM, then SIGKILL after a grace period. The data directory stays, so start() resumes. */
  stop(): Promise<void>;
  /** Ends the process with `signal` (default SIGKILL) and waits for its exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts a stopped or killed member again; resolves once it serves (rejoined the quorum). */
  start(): Promise<void>;
  /** Freezes (SIGSTOP) / continues (SIGCONT) the member, e.g. to make its peers' sessions time out. */
  pause(): void;
  resume(): void;
  /** The mode `srvr` reports now, or undefined. */
  mode(): Promise<ZooKeeperMode | undefined>;
}

/** A standalone server or an ensemble on 127.0.0.1. */
export interface ZooKeeperService {
  /** `127.0.0.1:p1,127.0.0.1:p2,...` */
  connectString: string;
  members: ZooKeeperMemberHandle[];
  /** The ensemble's root directory; removed by stop(). */
  dir: string;
  /** Resolves once every running member serves and exactly one leads (or the standalone one serves). */
  waitServing(timeoutMs?: number): Promise<void>;
  /**
   * The running member whose `srvr` reports `leader` now; undefined while the ensemble elects one (and
   * for a standalone server). Kill it (`kill('SIGKILL')`) to force a leader election.
   */
  leader(): Promise<ZooKeeperMemberHandle | undefined>;
  /** Stops every member and removes the directory. Idempotent. */
  stop(): Promise<void>;
}

const ZOOKEEPER_JAR = '/usr/share/java/zookeeper.jar';
const SLF4J_SIMPLE_JAR = '/usr/share/java/slf4j-simple.jar';

/** A standalone ZooKeeper server (ready when `ruok` answers `imok` and `srvr` says standalone). */
export function startZooKeeper(options: ZooKeeperOptions = {}): Promise<ZooKeeperService> {
  return startEnsemble(1, options);
}

/**
 * An ensemble of `size` members (3, 5, 7: odd for a majority), each its own JVM, ready when every member's
 * `srvr` reports leader or follower with exactly one leader. Throws a HarnessError with the log tail of the
 * failing member if one exits or the ensemble does not form in time; nothing keeps running then.
 */
export function startZooKeeperEnsemble(
  options: ZooKeeperOptions & { size: number },
): Promise<ZooKeeperService> {
  if (!Number.isInteger(options.size) || options.size < 1 || options.size > 9) {
    throw new HarnessError('HARNESS_BAD_CONFIG', `ensemble size must be 1..9, got ${options.size}`);
  }
  return startEnsemble(options.size, options);
}

async function startEnsemble(size: number, options: ZooKeeperOptions): Promise<ZooKeeperService> {
  const java = javaCommand();
  const root = await makeTempDir('zookeeper');
  const ports = await freePorts(size * 3);
  const peers: ZooKeeperMember[] = Array.from({ length: size }, (_, i) => ({
    id: i + 1,
    host: LOOPBACK,
    quorumPort: ports[size + i]!,
    electionPort: ports[2 * size + i]!,
  }));
  const members = await Promise.all(
    peers.map((peer, i) => createMember({ java, root, peer, peers, clientPort: ports[i]!, options })),
  );
  const service: ZooKeeperService = {
    connectString: members.map((m) => `${m.host}:${m.port}`).join(','),
    members,
    dir: root,
    waitServing: (timeoutMs = 30_000) => waitEnsembleServing(members, timeoutMs),
    async leader() {
      const running = members.filter((m) => m.process.running);
      const modes = await Promise.all(running.map((m) => m.mode()));
      return running[modes.indexOf('leader')];
    },
    async stop() {
      await Promise.all(members.map((m) => m.stop()));
      await removeDir(root);
    },
  };
  try {
    await Promise.all(members.map((m) => m.start()));
    await service.waitServing(options.startTimeoutMs ?? (size > 1 ? 60_000 : 30_000));
  } catch (error) {
    await service.stop();
    throw error;
  }
  return service;
}

interface MemberSetup {
  java: { command: string; classpath: string };
  root: string;
  peer: ZooKeeperMember;
  peers: ZooKeeperMember[];
  clientPort: number;
  options: ZooKeeperOptions;
}

async function createMember(setup: MemberSetup): Promise<ZooKeeperMemberHandle> {
  const { peer, clientPort, options } = setup;
  const dir = join(setup.root, `member-${peer.id}`);
  const dataDir = join(dir, 'data');
  await mkdir(dataDir, { recursive: true });
  await writeFile(join(dataDir, 'myid'), renderZooKeeperMyId(peer.id));
  const configFile = join(dir, 'zoo.cfg');
  await writeFile(configFile, memberConfig(setup, dataDir));
  const standalone = setup.peers.length === 1;

  let current: ManagedProcess | undefined;
  const member: ZooKeeperMemberHandle = {
    id: peer.id,
    host: LOOPBACK,
    port: clientPort,
    quorumPort: peer.quorumPort,
    electionPort: peer.electionPort,
    dir,
    get process(): ManagedProcess {
      if (!current) throw new Error(`zookeeper member ${peer.id} was never started`);
      return current;
    },
    async stop() {
      await current?.stop();
    },
    async kill(signal = 'SIGKILL') {
      await current?.kill(signal);
    },
    async start() {
      if (current?.running) return;
      current = spawnManaged({
        name: `zookeeper-${peer.id}`,
        command: setup.java.command,
        args: jvmArgs(setup.java.classpath, options.heapMb ?? 128, configFile),
        dir,
      });
      await waitMemberServing(member, current, standalone, options.startTimeoutMs ?? 30_000);
    },
    pause: () => current?.pause(),
    resume: () => current?.resume(),
    mode: () => zooKeeperMode(LOOPBACK, clientPort),
  };
  return member;
}

function memberConfig(setup: MemberSetup, dataDir: string): string {
  return renderZooKeeperConfig({
    dataDir,
    clientPort: setup.clientPort,
    clientPortAddress: LOOPBACK,
    members: setup.peers,
    tickTime: setup.options.tickTime ?? 500,
    initLimit: 20,
    syncLimit: 5,
    // Tests do not need durable fsyncs or 64 MB preallocated logs; a dead peer should be given up on fast.
    extra: { forceSync: 'no', preAllocSize: 1024, cnxTimeout: 1000 },
  });
}

function jvmArgs(classpath: string, heapMb: number, configFile: string): string[] {
  return [
    `-Xmx${heapMb}m`,
    '-Xms16m',
    '-Xss512k',
    '-XX:+UseSerialGC',
    // The C1 compiler only: a quicker start and less CPU on a busy machine; throughput does not matter here.
    '-XX:TieredStopAtLevel=1',
    '-XX:-UsePerfData',
    '-Djava.net.preferIPv4Stack=true',
    '-Dzookeeper.jmx.log4j.disable=true',
    '-Dorg.slf4j.simpleLogger.showDateTime=true',
    '-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS',
    '-cp',
    classpath,
    'org.apache.zookeeper.server.quorum.QuorumPeerMain',
    configFile,
  ];
}

/** `java` and the classpath of Debian's zookeeper package (its jar's manifest lists its dependencies). */
function javaCommand(): { command: string; classpath: string } {
  const command = process.env.JAVA_HOME
    ? join(process.env.JAVA_HOME, 'bin', 'java')
    : findBinary('java', 'zookeeper');
  for (const jar of [ZOOKEEPER_JAR, SLF4J_SIMPLE_JAR]) {
    if (!existsSync(jar)) {
      throw new HarnessError(
        'HARNESS_MISSING_BINARY',
        `${jar} not found; install the zookeeper package (hack/bootstrap.sh debs, as root)`,
      );
    }
  }
  // slf4j-simple sends ZooKeeper's log lines to stderr, which lands in the member's log file.
  return { command, classpath: `${ZOOKEEPER_JAR}:${SLF4J_SIMPLE_JAR}` };
}

function waitMemberServing(
  member: ZooKeeperMemberHandle,
  proc: ManagedProcess,
  standalone: boolean,
  timeoutMs: number,
): Promise<void> {
  return waitUntil(
    async () => {
      if ((await fourLetterWord(LOOPBACK, member.port, 'ruok')) !== 'imok') return false;
      const mode = await member.mode();
      return standalone ? mode === 'standalone' : mode === 'leader' || mode === 'follower';
    },
    {
      what: `zookeeper member ${member.id} on ${LOOPBACK}:${member.port} serving`,
      timeoutMs,
      intervalMs: 200,
      abortReason: () => proc.describeExit(),
      details: () => logTailSection(proc),
    },
  );
}

async function waitEnsembleServing(members: ZooKeeperMemberHandle[], timeoutMs: number): Promise<void> {
  const running = members.filter((m) => m.process.running);
  let modes: (ZooKeeperMode | undefined)[] = [];
  await waitUntil(
    async () => {
      modes = await Promise.all(running.map((m) => m.mode()));
      if (members.length === 1) return modes[0] === 'standalone';
      return (
        modes.every((m) => m === 'leader' || m === 'follower') &&
        modes.filter((m) => m === 'leader').length === 1
      );
    },
    {
      what: `zookeeper ensemble ${running.map((m) => m.port).join(',')} serving with one leader`,
      timeoutMs,
      intervalMs: 200,
      abortReason: () => running.map((m) => m.process.describeExit()).find((reason) => reason !== undefined),
      details: () =>
        `modes: ${modes.map((m, i) => `${running[i]!.id}=${m ?? 'none'}`).join(' ')}\n` +
        running.map((m) => logTailSection(m.process, 15)).join('\n'),
    },
  );
}
