/**
 * The standard process and Node.js runtime metrics, under the names of the Prometheus client libraries:
 * client_golang's process collector (which controller-runtime exposes) and prom-client's Node.js defaults:
 * - `process_cpu_seconds_total`, `process_resident_memory_bytes`, `process_start_time_seconds`;
 * - on Linux (from procfs; left out elsewhere) `process_virtual_memory_bytes`, `process_open_fds`,
 *   `process_max_fds`;
 * - `nodejs_heap_size_total_bytes`, `nodejs_heap_size_used_bytes`, `nodejs_external_memory_bytes`,
 *   `nodejs_eventloop_lag_p99_seconds`, `nodejs_version_info{version,major,minor,patch}`.
 * Every value is read when the registry is collected. The one exception is the event-loop delay
 * histogram of `perf_hooks.monitorEventLoopDelay`, which samples between `start()` and `stop()`; each
 * collection reads its p99 and resets it (as prom-client does), so the p99 covers the time since the
 * previous collection. The histogram records the interval between its timer's ticks, so an idle loop
 * reads about its resolution: 100 ms, as the workers' prom-client monitor (`eventLoopMonitoringPrecision`).
 * prom-client's default of 10 ms wakes the process 100 times a second, about 0.4 % of a core for each
 * operator replica when idle.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay, type ELDHistogram } from 'node:perf_hooks';
import { Counter, Gauge, type Registry } from 'prom-client';

/** The event-loop delay histogram's sampling interval. */
const EVENT_LOOP_RESOLUTION_MS = 100;

/** Options of `ProcessMetrics`. */
export interface ProcessMetricsOptions {
  /** This process's procfs directory (default `/proc/self`); without it the Linux-only metrics are left out. */
  readonly procDir?: string;
  /** Creates the event-loop delay histogram (default `monitorEventLoopDelay` at 100 ms); for tests. */
  readonly eventLoopHistogram?: () => ELDHistogram;
}

/** Reads a gauge's value at collection; undefined leaves the previous value (or 0 before any). */
type Read = () => number | undefined;

/** The fields of `/proc/<pid>/stat` after the command name, from field 3 (state) on. */
function statFields(procDir: string): string[] {
  const stat = readFileSync(join(procDir, 'stat'), 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** The soft limit on open files from `/proc/<pid>/limits`, or undefined when unlimited. */
function maxOpenFiles(procDir: string): number | undefined {
  const limits = readFileSync(join(procDir, 'limits'), 'utf8');
  const soft = /^Max open files\s+(\d+)/m.exec(limits)?.[1];
  return soft === undefined ? undefined : Number(soft);
}

/** `read`, with a failed reading (the process is going away) keeping the previous value. */
function attempt(read: Read): Read {
  return () => {
    try {
      return read();
    } catch {
      return undefined;
    }
  };
}

/** The gauges read from procfs as `[name, help, read]`: none when `procDir` is unreadable (not Linux). */
function procfsGauges(procDir: string): [string, string, Read][] {
  if (attempt(() => statFields(procDir).length)() === undefined) return [];
  return [
    // Field 23 of /proc/<pid>/stat, vsize in bytes, as client_golang reads it.
    ['process_virtual_memory_bytes', 'Virtual memory size in bytes.', () => Number(statFields(procDir)[20])],
    // Listing the directory opens a descriptor of its own, which is listed too (prom-client subtracts it).
    [
      'process_open_fds',
      'Number of open file descriptors.',
      () => readdirSync(join(procDir, 'fd')).length - 1,
    ],
    ['process_max_fds', 'Maximum number of open file descriptors.', () => maxOpenFiles(procDir)],
  ];
}

/** The gauges of `process.memoryUsage()` as `[name, help, read]`. */
function memoryGauges(): [string, string, Read][] {
  const memory = (pick: (m: NodeJS.MemoryUsage) => number) => () => pick(process.memoryUsage());
  return [
    ['process_resident_memory_bytes', 'Resident memory size in bytes.', () => process.memoryUsage.rss()],
    ['nodejs_heap_size_total_bytes', 'Process heap size from Node.js in bytes.', memory((m) => m.heapTotal)],
    [
      'nodejs_heap_size_used_bytes',
      'Process heap size used from Node.js in bytes.',
      memory((m) => m.heapUsed),
    ],
    ['nodejs_external_memory_bytes', 'Node.js external memory size in bytes.', memory((m) => m.external)],
  ];
}

/**
 * The collectors of the module comment, registered on `registry` (a second instance on the same registry
 * throws, as prom-client refuses duplicate names). `start()` enables the event-loop delay histogram,
 * `stop()` disables it for good; both may be called more than once.
 */
export class ProcessMetrics {
  readonly #createHistogram: () => ELDHistogram;
  #histogram: ELDHistogram | undefined;
  #stopped = false;

  constructor(registry: Registry, options: ProcessMetricsOptions = {}) {
    this.#createHistogram =
      options.eventLoopHistogram ?? (() => monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS }));
    const registers = [registry];
    new Counter({
      name: 'process_cpu_seconds_total',
      help: 'Total user and system CPU time spent in seconds.',
      registers,
      collect() {
        const { user, system } = process.cpuUsage();
        this.reset();
        this.inc((user + system) / 1e6);
      },
    });
    const startTime = (Date.now() - process.uptime() * 1000) / 1000;
    const gauges: [string, string, Read][] = [
      [
        'process_start_time_seconds',
        'Start time of the process since unix epoch in seconds.',
        () => startTime,
      ],
      ...memoryGauges(),
      ...procfsGauges(options.procDir ?? '/proc/self').map(([n, h, read]): [string, string, Read] => [
        n,
        h,
        attempt(read),
      ]),
      [
        'nodejs_eventloop_lag_p99_seconds',
        'The 99th percentile of the recorded event loop delays.',
        () => this.#eventLoopP99(),
      ],
    ];
    for (const [name, help, read] of gauges)
      new Gauge({
        name,
        help,
        registers,
        collect() {
          const value = read();
          if (value !== undefined) this.set(value);
        },
      });
    const [major = '', minor = '', patch = ''] = process.versions.node.split('.');
    new Gauge({
      name: 'nodejs_version_info',
      help: 'Node.js version info.',
      labelNames: ['version', 'major', 'minor', 'patch'],
      registers,
      collect() {
        this.set({ version: process.version, major, minor, patch }, 1);
      },
    });
  }

  /** The p99 of the event-loop delays since the previous collection, in seconds (0 without samples). */
  #eventLoopP99(): number {
    const histogram = this.#histogram;
    if (histogram === undefined || histogram.count === 0) return 0;
    const p99 = histogram.percentile(99) / 1e9;
    histogram.reset();
    return p99;
  }

  /** Starts sampling the event-loop delay, unless stopped already. */
  start(): void {
    if (this.#stopped) return;
    this.#histogram ??= this.#createHistogram();
    this.#histogram.enable();
  }

  /** Stops sampling the event-loop delay (its timer is released); `start()` then does nothing. */
  stop(): void {
    this.#stopped = true;
    this.#histogram?.disable();
  }
}
