import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { renderHaproxyConfig, type HaproxyConfigOptions } from '../../../common/src/haproxy-config.ts';
import { findBinary } from './binaries.ts';
import { HarnessError } from './errors.ts';
import { LOOPBACK } from './ports.ts';
import { logTailSection, spawnManaged, type ManagedProcess } from './process.ts';
import { canConnect, waitUntil } from './probes.ts';
import { makeTempDir, removeDir } from './temp-dir.ts';

/** Options of {@link startHaproxy}. */
export interface HaproxyOptions {
  /** Rendered with {@link renderHaproxyConfig}; its frontend and stats ports must be free. */
  config: HaproxyConfigOptions;
  /** Readiness deadline in milliseconds; default 15000. */
  startTimeoutMs?: number;
}

/** A running HAProxy (master-worker mode) on the ports of its config. */
export interface HaproxyService {
  /** Where clients connect: `http://127.0.0.1:<frontend port>`. */
  url: string;
  frontendPort: number;
  statsPort: number;
  /** `http://127.0.0.1:<stats port>`; `/stats` is the page, `/metrics` the Prometheus exporter. */
  statsUrl: string;
  configFile: string;
  dir: string;
  readonly process: ManagedProcess;
  /** The options the running config was rendered from (the latest reloaded ones). */
  readonly config: HaproxyConfigOptions;
  /**
   * Writes `config` (same frontend and stats ports; checked with `haproxy -c` first, a bad one throws and
   * changes nothing) and reloads through the master (SIGUSR2); resolves once the master logs the new
   * workers loaded.
   */
  reload(config: HaproxyConfigOptions): Promise<void>;
  /** SIGTERM to master and workers, SIGKILL after a grace period; removes the directory. Idempotent. */
  stop(): Promise<void>;
}

const run = promisify(execFile);

/**
 * Checks the rendered config with `haproxy -c`, starts `haproxy -W -db -f <file>` in a temp directory and
 * resolves once the frontend port accepts connections. Throws HarnessError `HARNESS_BAD_CONFIG` with
 * HAProxy's own message for a config it rejects, or one with the log tail if it exits before ready.
 */
export async function startHaproxy(options: HaproxyOptions): Promise<HaproxyService> {
  const binary = findBinary('haproxy', 'haproxy');
  const dir = await makeTempDir('haproxy');
  const configFile = join(dir, 'haproxy.cfg');
  let proc: ManagedProcess | undefined;
  try {
    await writeChecked(binary, configFile, options.config);
    proc = spawnManaged({ name: 'haproxy', command: binary, args: ['-W', '-db', '-f', configFile], dir });
    await waitListening(proc, options.config.frontend.port, options.startTimeoutMs ?? 15_000);
  } catch (error) {
    await proc?.stop();
    await removeDir(dir);
    throw error;
  }
  return service({ binary, dir, configFile, proc, config: options.config });
}

interface Running {
  binary: string;
  dir: string;
  configFile: string;
  proc: ManagedProcess;
  config: HaproxyConfigOptions;
}

function service(running: Running): HaproxyService {
  const { binary, dir, configFile, proc } = running;
  const { frontend, stats } = running.config;
  let current = running.config;
  let removed = false;
  return {
    url: `http://${LOOPBACK}:${frontend.port}`,
    frontendPort: frontend.port,
    statsPort: stats.port,
    statsUrl: `http://${LOOPBACK}:${stats.port}`,
    configFile,
    dir,
    process: proc,
    get config() {
      return current;
    },
    async reload(next) {
      if (next.frontend.port !== frontend.port || next.stats.port !== stats.port) {
        throw new HarnessError('HARNESS_BAD_CONFIG', 'a reload keeps the frontend and stats ports');
      }
      await writeChecked(binary, configFile, next);
      const before = await countReloads(proc);
      proc.signal('SIGUSR2');
      await waitUntil(async () => (await countReloads(proc)) > before, {
        what: `haproxy (pid ${proc.pid}) reloading ${configFile}`,
        timeoutMs: 15_000,
        abortReason: () => proc.describeExit(),
        details: () => logTailSection(proc),
      });
      current = next;
    },
    async stop() {
      await proc.stop();
      if (!removed) await removeDir(dir);
      removed = true;
    },
  };
}

async function writeChecked(binary: string, configFile: string, config: HaproxyConfigOptions): Promise<void> {
  const text = renderHaproxyConfig(config);
  const candidate = `${configFile}.new`;
  await writeFile(candidate, text);
  try {
    await run(binary, ['-c', '-q', '-f', candidate]);
  } catch (error) {
    const output = (error as { stderr?: string }).stderr ?? String(error);
    throw new HarnessError(
      'HARNESS_BAD_CONFIG',
      `haproxy rejects the config:\n${output}\n--- config ---\n${text}`,
      {
        cause: error,
      },
    );
  }
  await writeFile(configFile, text);
}

function waitListening(proc: ManagedProcess, port: number, timeoutMs: number): Promise<void> {
  return waitUntil(() => canConnect(LOOPBACK, port), {
    what: `haproxy frontend on ${LOOPBACK}:${port} accepting connections`,
    timeoutMs,
    abortReason: () => proc.describeExit(),
    details: () => logTailSection(proc),
  });
}

/** How many times the master has logged a successful (re)load. */
async function countReloads(proc: ManagedProcess): Promise<number> {
  const log = await readFile(proc.logFile, 'utf8').catch(() => '');
  return log.split('Loading success').length - 1;
}
