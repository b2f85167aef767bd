import { request } from 'undici';

/** Outcome of {@link runLoad}: successes, failures by status (or error code) and latencies. */
export interface LoadResult {
  ok: number;
  failed: number;
  failures: Map<string, number>;
  latenciesMs: number[];
}

/** Options of {@link runLoad}. Bounded: stops after `total` requests or `maxMs`, or when `stop()` says so. */
export interface LoadOptions {
  /** The URL of request number i. */
  url: (i: number) => string;
  method?: 'GET' | 'POST';
  headers?: (i: number) => Record<string, string>;
  concurrency: number;
  total: number;
  maxMs: number;
  stop?: () => boolean;
  /** Called for every 2xx answer with its request number and body. */
  onOk?: (i: number, body: string) => void;
}

/** Sends requests from `concurrency` loops until a bound is hit; never throws for a failed request. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const result: LoadResult = { ok: 0, failed: 0, failures: new Map(), latenciesMs: [] };
  const deadline = Date.now() + options.maxMs;
  let next = 0;
  const fail = (reason: string): void => {
    result.failed++;
    result.failures.set(reason, (result.failures.get(reason) ?? 0) + 1);
  };
  const loop = async (): Promise<void> => {
    while (next < options.total && Date.now() < deadline && !options.stop?.()) {
      const i = next++;
      const started = performance.now();
      const outcome = await send(options, i);
      result.latenciesMs.push(performance.now() - started);
      if (typeof outcome === 'string') {
        result.ok++;
        options.onOk?.(i, outcome);
      } else fail(outcome.failure);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, loop));
  return result;
}

/** The body of a 2xx answer, or why it failed (status or error code). */
async function send(options: LoadOptions, i: number): Promise<string | { failure: string }> {
  try {
    const response = await request(options.url(i), {
      method: options.method ?? 'GET',
      headers: options.headers?.(i) ?? {},
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
    const body = await response.body.text();
    const ok = response.statusCode >= 200 && response.statusCode < 300;
    return ok ? body : { failure: String(response.statusCode) };
  } catch (error) {
    return { failure: (error as { code?: string }).code ?? 'error' };
  }
}

/** `{ok, failed, failures}` as one line for test output. */
export function describeLoad(result: LoadResult): string {
  return `ok=${result.ok} failed=${result.failed} ${JSON.stringify(Object.fromEntries(result.failures))}`;
}
