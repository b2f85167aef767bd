import { describe, expect, it } from '@jest/globals';
import {
  errorCount,
  histogramPercentile,
  mergeHistogram,
  parseWrkOutput,
  undoCorrection,
  wrkScript,
} from '../../../hack/wrk.ts';

// Captured from wrk 4.1.0 (Debian 4.1.0-3+b2): `wrk -t1 -c2 -d1s --latency -s <wrkScript(hot-0..hot-99)>`
// against a local server answering after 20 ms, every tenth request after 150 ms, and 404 for hot-7.
const SAMPLE = `Running 1s test @ http://127.0.0.1:18778
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    43.86ms   40.02ms 151.46ms   86.49%
    Req/Sec    58.00     11.35    70.00     50.00%
  Latency Distribution
     50%   22.05ms
     75%   46.86ms
     90%  115.87ms
     99%  151.46ms
  58 requests in 1.00s, 10.14KB read
  Non-2xx or 3xx responses: 1
Requests/sec:     57.80
Transfer/sec:     10.10KB
capstan-wrk summary 58 1003396
capstan-wrk errors 0 0 0 0 1
capstan-wrk latency 20085 1
capstan-wrk latency 20300 1
capstan-wrk latency 20321 1
capstan-wrk latency 20325 1
capstan-wrk latency 20487 1
capstan-wrk latency 20554 1
capstan-wrk latency 20571 1
capstan-wrk latency 20577 1
capstan-wrk latency 20596 1
capstan-wrk latency 20619 1
capstan-wrk latency 20709 1
capstan-wrk latency 20713 1
capstan-wrk latency 20725 1
capstan-wrk latency 20734 1
capstan-wrk latency 20763 1
capstan-wrk latency 20764 1
capstan-wrk latency 20778 1
capstan-wrk latency 20822 1
capstan-wrk latency 20844 1
capstan-wrk latency 20854 1
capstan-wrk latency 20871 1
capstan-wrk latency 20879 1
capstan-wrk latency 20893 1
capstan-wrk latency 20904 1
capstan-wrk latency 20959 1
capstan-wrk latency 20965 1
capstan-wrk latency 21008 1
capstan-wrk latency 21010 1
capstan-wrk latency 21049 1
capstan-wrk latency 21112 1
capstan-wrk latency 21208 1
capstan-wrk latency 21392 1
capstan-wrk latency 21414 1
capstan-wrk latency 21431 1
capstan-wrk latency 21567 1
capstan-wrk latency 21637 1
capstan-wrk latency 22046 1
capstan-wrk latency 22051 1
capstan-wrk latency 22057 1
capstan-wrk latency 22110 1
capstan-wrk latency 22129 1
capstan-wrk latency 22328 1
capstan-wrk latency 23071 1
capstan-wrk latency 23121 1
capstan-wrk latency 23356 1
capstan-wrk latency 23579 1
capstan-wrk latency 23941 1
capstan-wrk latency 23992 1
capstan-wrk latency 24145 1
capstan-wrk latency 25542 1
capstan-wrk latency 25835 1
capstan-wrk latency 34903 1
capstan-wrk latency 46557 1
capstan-wrk latency 46583 1
capstan-wrk latency 46669 1
capstan-wrk latency 46857 1
capstan-wrk latency 47658 1
capstan-wrk latency 66251 1
capstan-wrk latency 69502 1
capstan-wrk latency 81156 1
capstan-wrk latency 81182 1
capstan-wrk latency 81268 1
capstan-wrk latency 81456 1
capstan-wrk latency 82257 1
capstan-wrk latency 115755 1
capstan-wrk latency 115781 1
capstan-wrk latency 115867 1
capstan-wrk latency 116055 1
capstan-wrk latency 116856 1
capstan-wrk latency 150354 1
capstan-wrk latency 150380 1
capstan-wrk latency 150466 1
capstan-wrk latency 150654 1
capstan-wrk latency 151455 1
`;

describe('parseWrkOutput', () => {
  const run = parseWrkOutput(SAMPLE, 2);

  it('reads the totals and the error counters of the script lines', () => {
    expect(run.requests).toBe(58);
    expect(run.durationUs).toBe(1_003_396);
    expect(run.errors).toEqual({ connect: 0, read: 0, write: 0, timeout: 0, status: 1 });
    expect(errorCount(run.errors)).toBe(1);
  });

  it("undoes wrk's coordinated-omission correction: one sample per completed request", () => {
    const corrected = SAMPLE.split('\n').filter((l) => l.startsWith('capstan-wrk latency')).length;
    expect(corrected).toBe(74);
    expect([...run.latencyUs.values()].reduce((a, b) => a + b, 0)).toBe(run.requests);
    // interval 1003396 / (58 / 2) = 34599 us: 150354 us added 115755, 81156 and 46557; 69502 added 34903.
    expect([...run.latencyUs.keys()].filter((us) => us > 30_000)).toEqual([
      66251, 69502, 150354, 150380, 150466, 150654, 151455,
    ]);
  });

  it('gives the percentiles of the raw latencies', () => {
    expect(histogramPercentile(run.latencyUs, 0.5)).toBe(21112);
    expect(histogramPercentile(run.latencyUs, 0.99)).toBe(151455);
  });

  it('fails when the script printed no summary', () => {
    expect(() => parseWrkOutput('Running 1s test @ http://127.0.0.1:1\n', 32)).toThrow(
      /no capstan-wrk summary/,
    );
    expect(() => parseWrkOutput('capstan-wrk summary 1 x\n', 32)).toThrow(/unexpected wrk script line/);
  });

  it('keeps the histogram as it is when there were fewer requests than connections', () => {
    const few = parseWrkOutput(
      'capstan-wrk summary 3 1000000\ncapstan-wrk errors 0 0 0 1 0\ncapstan-wrk latency 10 1\ncapstan-wrk latency 900 2\n',
      32,
    );
    expect([...few.latencyUs]).toEqual([
      [10, 1],
      [900, 2],
    ]);
    expect(errorCount(few.errors)).toBe(1);
  });
});

describe('undoCorrection', () => {
  it('inverts corrected[m] = raw[m] + raw[m + e] + raw[m + 2e] + ... for m > e', () => {
    // raw: 5 -> 2, 12 -> 1, 40 -> 1 with e = 10: 40 adds 30 and 20 (not 10, which is not above e).
    const corrected = new Map([
      [5, 2],
      [12, 1],
      [20, 1],
      [30, 1],
      [40, 1],
    ]);
    expect([...undoCorrection(corrected, 10)]).toEqual([
      [5, 2],
      [12, 1],
      [40, 1],
    ]);
  });

  it('rejects a histogram no correction could have made', () => {
    expect(() =>
      undoCorrection(
        new Map([
          [20, 1],
          [30, 2],
        ]),
        10,
      ),
    ).toThrow(/not one wrk's correction made/);
  });
});

describe('histogramPercentile and mergeHistogram', () => {
  it('matches the sample at floor(q * n) of the sorted samples after a merge', () => {
    const total = new Map<number, number>();
    mergeHistogram(
      total,
      new Map([
        [3, 1],
        [1, 2],
      ]),
    );
    mergeHistogram(
      total,
      new Map([
        [2, 1],
        [3, 1],
      ]),
    );
    // samples 1 1 2 3 3
    expect(histogramPercentile(total, 0)).toBe(1);
    expect(histogramPercentile(total, 0.5)).toBe(2);
    expect(histogramPercentile(total, 0.6)).toBe(3);
    expect(histogramPercentile(total, 0.99)).toBe(3);
    expect(histogramPercentile(new Map(), 0.5)).toBeNaN();
  });
});

describe('wrkScript', () => {
  it('embeds the paths as Lua strings and prints the capstan-wrk lines in done()', () => {
    const script = wrkScript(['/v1/cache/hot-0', '/v1/cache/a"b']);
    expect(script).toContain('  "/v1/cache/hot-0",\n  "/v1/cache/a\\"b",\n');
    expect(script).toContain('function done(summary, latency, _)');
    expect(script).toContain('capstan-wrk latency %d %d');
  });

  it('refuses paths that are not plain request paths', () => {
    expect(() => wrkScript([])).toThrow(/at least one path/);
    expect(() => wrkScript(['/a b'])).toThrow(/not a plain request path/);
    expect(() => wrkScript(['x'])).toThrow(/not a plain request path/);
  });
});
