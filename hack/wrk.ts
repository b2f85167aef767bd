/**
 * wrk (Debian package wrk 4.1, installed by hack/bootstrap.sh debs) as the workload benchmark's load
 * generator: the Lua script it runs, one bounded run, and the parsing of its output.
 *
 * The script's done() prints the totals and wrk's latency histogram (one line per non-empty
 * microsecond bucket) as `capstan-wrk ...` lines, so that rounds merge exactly. wrk 4.1 applies a
 * coordinated-omission correction to that histogram before done() sees it (stats_correct in wrk.c:
 * each latency n >= 2e adds synthetic samples at n - e, n - 2e, ... while above e, where e is the mean
 * time per request of one connection); parseWrkOutput undoes it, so the histogram holds one sample per
 * completed request, like a closed-loop client's own timings.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/** Error counters of one run, as wrk counts them. */
export interface WrkErrors {
  connect: number;
  read: number;
  write: number;
  timeout: number;
  /** Responses with a status above 399 (wrk's "Non-2xx or 3xx responses"). */
  status: number;
}

/** One wrk run. */
export interface WrkRun {
  /** Completed requests (summary.requests). */
  requests: number;
  /** Measured time in microseconds (summary.duration). */
  durationUs: number;
  errors: WrkErrors;
  /** Latency in microseconds -> number of requests, without wrk's correction. */
  latencyUs: Map<number, number>;
}

const PREFIX = 'capstan-wrk';

/** A Lua script for `wrk -s` that cycles over `paths` (GETs) and prints the `capstan-wrk` lines. */
export function wrkScript(paths: readonly string[]): string {
  if (paths.length === 0) throw new Error('wrkScript needs at least one path');
  for (const path of paths)
    if (!/^\/[\x21-\x7e]*$/.test(path)) throw new Error(`not a plain request path: ${JSON.stringify(path)}`);
  // JSON string literals of printable ASCII are Lua string literals too.
  const literals = paths.map((p) => `  ${JSON.stringify(p)},`).join('\n');
  return `-- Written by hack/bench-workload.ts (hack/wrk.ts): GETs cycling over the paths below.
local paths = {
${literals}
}
local requests = {}
local count = 0
local n = 0

function init(args)
  for i, path in ipairs(paths) do requests[i] = wrk.format("GET", path) end
  count = #requests
end

function request()
  n = n % count + 1
  return requests[n]
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format("${PREFIX} summary %d %d\\n", summary.requests, summary.duration))
  io.write(string.format("${PREFIX} errors %d %d %d %d %d\\n", e.connect, e.read, e.write, e.timeout, e.status))
  for i = 1, #latency do
    local us, requests = latency(i)
    io.write(string.format("${PREFIX} latency %d %d\\n", us, requests))
  end
end
`;
}

/**
 * The histogram before wrk's coordinated-omission correction: for m > e the corrected bucket m is
 * raw[m] + raw[m + e] + raw[m + 2e] + ..., which is raw[m] + corrected[m + e].
 */
export function undoCorrection(
  corrected: ReadonlyMap<number, number>,
  intervalUs: number,
): Map<number, number> {
  const raw = new Map<number, number>();
  for (const [us, count] of corrected) {
    const own = us > intervalUs ? count - (corrected.get(us + intervalUs) ?? 0) : count;
    if (own < 0) throw new Error(`wrk latency histogram is not one wrk's correction made (${us} us)`);
    if (own > 0) raw.set(us, own);
  }
  return raw;
}

function numbers(line: string, fields: number): number[] {
  const values = line.split(' ').slice(2).map(Number);
  if (values.length !== fields || values.some((v) => !Number.isSafeInteger(v) || v < 0))
    throw new Error(`unexpected wrk script line: ${line}`);
  return values;
}

/** Parses the stdout of a wrk run with wrkScript's script; `connections` is wrk's -c. */
export function parseWrkOutput(stdout: string, connections: number): WrkRun {
  let summary: number[] | undefined;
  let errors: number[] | undefined;
  const corrected = new Map<number, number>();
  for (const line of stdout.split('\n')) {
    if (!line.startsWith(`${PREFIX} `)) continue;
    const kind = line.split(' ')[1];
    if (kind === 'summary') summary = numbers(line, 2);
    else if (kind === 'errors') errors = numbers(line, 5);
    else if (kind === 'latency') {
      const [us, count] = numbers(line, 2) as [number, number];
      corrected.set(us, (corrected.get(us) ?? 0) + count);
    } else throw new Error(`unexpected wrk script line: ${line}`);
  }
  if (summary === undefined || errors === undefined)
    throw new Error(`wrk printed no ${PREFIX} summary (did the script's done() run?):\n${stdout}`);
  const [requests, durationUs] = summary as [number, number];
  const [connect, read, write, timeout, status] = errors as [number, number, number, number, number];
  // wrk.c: interval = runtime_us / (complete / connections), in integers, when complete >= connections.
  const perConnection = Math.trunc(requests / connections);
  const intervalUs = perConnection > 0 ? Math.trunc(durationUs / perConnection) : undefined;
  return {
    requests,
    durationUs,
    errors: { connect, read, write, timeout, status },
    latencyUs: intervalUs === undefined ? corrected : undoCorrection(corrected, intervalUs),
  };
}

/** Requests that failed: status above 399 or a socket error (connect, read, write, timeout). */
export function errorCount(errors: WrkErrors): number {
  return errors.connect + errors.read + errors.write + errors.timeout + errors.status;
}

/** Adds the counts of `from` to `into`. */
export function mergeHistogram(into: Map<number, number>, from: ReadonlyMap<number, number>): void {
  for (const [value, count] of from) into.set(value, (into.get(value) ?? 0) + count);
}

/**
 * The q-quantile of a histogram, as the sample at index floor(q * n) of the n sorted samples
 * (the bench's percentile() over a sorted array); NaN when empty.
 */
export function histogramPercentile(histogram: ReadonlyMap<number, number>, q: number): number {
  const sorted = [...histogram].sort(([a], [b]) => a - b);
  const n = sorted.reduce((sum, [, count]) => sum + count, 0);
  const index = Math.min(n - 1, Math.floor(q * n));
  let seen = 0;
  for (const [value, count] of sorted) {
    seen += count;
    if (seen > index) return value;
  }
  return NaN;
}

const run = promisify(execFile);

function missing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}

const MISSING =
  "wrk is not installed (it is the workload benchmark's load generator): run `make bootstrap` (or `hack/bootstrap.sh debs`)";

/** Fails with how to install wrk when it is not on PATH. */
export async function requireWrk(): Promise<void> {
  try {
    await run('wrk', ['--version'], { timeout: 5000 });
  } catch (error) {
    // wrk --version prints its version and usage and exits with 1.
    if (missing(error)) throw new Error(MISSING, { cause: error });
  }
}

/** Options of one wrk run. */
export interface WrkOptions {
  origin: string;
  /** Path of a script from wrkScript. */
  script: string;
  connections: number;
  seconds: number;
}

/** One `wrk -t1` run of `seconds` against `origin`, killed if it takes 10 s longer than that. */
export async function runWrk(options: WrkOptions): Promise<WrkRun> {
  const args = [
    '-t1',
    `-c${options.connections}`,
    `-d${options.seconds}s`,
    '--latency',
    '-s',
    options.script,
  ];
  try {
    const { stdout } = await run('wrk', [...args, options.origin], {
      timeout: (options.seconds + 10) * 1000,
      killSignal: 'SIGKILL',
      maxBuffer: 64 * 1024 * 1024,
    });
    return parseWrkOutput(stdout, options.connections);
  } catch (error) {
    if (missing(error)) throw new Error(MISSING, { cause: error });
    throw error;
  }
}
