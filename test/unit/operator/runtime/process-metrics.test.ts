import { describe, it, expect } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { monitorEventLoopDelay, type ELDHistogram } from 'node:perf_hooks';
import { Registry } from 'prom-client';
import { Manager } from '../../../../operator/src/runtime/manager.ts';
import { ProcessMetrics } from '../../../../operator/src/runtime/process-metrics.ts';

const TYPES = {
  process_cpu_seconds_total: 'counter',
  process_resident_memory_bytes: 'gauge',
  process_virtual_memory_bytes: 'gauge',
  process_start_time_seconds: 'gauge',
  process_open_fds: 'gauge',
  process_max_fds: 'gauge',
  nodejs_heap_size_total_bytes: 'gauge',
  nodejs_heap_size_used_bytes: 'gauge',
  nodejs_external_memory_bytes: 'gauge',
  nodejs_eventloop_lag_p99_seconds: 'gauge',
  nodejs_version_info: 'gauge',
} as const;
const LINUX_ONLY = ['process_virtual_memory_bytes', 'process_open_fds', 'process_max_fds'];

/** The value of the one sample of `name` (labels ignored) in the exposition `text`. */
function valueOf(text: string, name: string): number {
  const lines = text.split('\n').filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  expect({ name, samples: lines.length }).toEqual({ name, samples: 1 });
  return Number(lines[0]!.slice(lines[0]!.lastIndexOf(' ') + 1));
}

/** Spends at least `ms` of CPU time in this process, as `process.cpuUsage()` measures it. */
function burnCpu(ms: number): void {
  const start = process.cpuUsage();
  let x = 0;
  while (process.cpuUsage(start).user + process.cpuUsage(start).system < ms * 1000) x += Math.sqrt(x + 1);
  expect(x).toBeGreaterThan(0);
}

describe('ProcessMetrics', () => {
  it('exports the process and Node.js metrics under the client libraries’ names and types', async () => {
    const registry = new Registry();
    new ProcessMetrics(registry);
    const text = await registry.metrics();
    for (const [name, type] of Object.entries(TYPES)) {
      expect(text).toContain(`# TYPE ${name} ${type}\n`);
      expect(text).toMatch(new RegExp(`^# HELP ${name} \\S`, 'm'));
    }
    expect(text).toContain(
      '# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.',
    );
    expect(valueOf(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(valueOf(text, 'process_virtual_memory_bytes')).toBeGreaterThanOrEqual(
      valueOf(text, 'process_resident_memory_bytes'),
    );
    const now = Date.now() / 1000;
    const started = valueOf(text, 'process_start_time_seconds');
    expect(started).toBeLessThanOrEqual(now);
    expect(started).toBeGreaterThan(now - 3600);
    expect(valueOf(text, 'process_open_fds')).toBeGreaterThanOrEqual(3);
    expect(valueOf(text, 'process_max_fds')).toBeGreaterThanOrEqual(valueOf(text, 'process_open_fds'));
    expect(valueOf(text, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    expect(valueOf(text, 'nodejs_heap_size_total_bytes')).toBeGreaterThanOrEqual(
      valueOf(text, 'nodejs_heap_size_used_bytes'),
    );
    expect(valueOf(text, 'nodejs_eventloop_lag_p99_seconds')).toBe(0);
    expect(text).toContain(`nodejs_version_info{version="${process.version}",major=`);
    expect(() => new ProcessMetrics(registry)).toThrow();
  });

  it('reads the CPU time at each collection', async () => {
    const registry = new Registry();
    new ProcessMetrics(registry);
    const before = valueOf(await registry.metrics(), 'process_cpu_seconds_total');
    expect(before).toBeGreaterThan(0);
    burnCpu(50);
    expect(valueOf(await registry.metrics(), 'process_cpu_seconds_total')).toBeGreaterThan(before);
  });

  it('leaves the procfs metrics out where there is no procfs', async () => {
    const registry = new Registry();
    new ProcessMetrics(registry, { procDir: '/nonexistent/proc/self' });
    const text = await registry.metrics();
    for (const name of LINUX_ONLY) expect(text).not.toContain(name);
    expect(valueOf(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('samples the event-loop delay from start() until stop(), and not again after', async () => {
    const created: ELDHistogram[] = [];
    const registry = new Registry();
    const metrics = new ProcessMetrics(registry, {
      eventLoopHistogram: () => {
        const histogram = monitorEventLoopDelay({ resolution: 10 });
        created.push(histogram);
        return histogram;
      },
    });
    expect(created).toHaveLength(0);
    metrics.start();
    metrics.start();
    expect(created).toHaveLength(1);
    const histogram = created[0]!;
    try {
      expect(histogram.enable()).toBe(false); // already enabled
      // Until the histogram holds a sample (its timer runs every 10 ms; a busy machine may delay the first).
      for (let waited = 0; histogram.count === 0 && waited < 10_000; waited += 20)
        await new Promise((resolve) => setTimeout(resolve, 20));
      expect(valueOf(await registry.metrics(), 'nodejs_eventloop_lag_p99_seconds')).toBeGreaterThan(0);
      expect(histogram.count).toBe(0); // reset by the collection
      metrics.stop();
      expect(histogram.disable()).toBe(false); // already disabled
      metrics.start();
      expect(histogram.disable()).toBe(false);
      expect(created).toHaveLength(1);
    } finally {
      histogram.disable();
    }
  });

  it('is registered by the Manager on its registry', async () => {
    const registry = new Registry();
    const manager = new Manager({ kubeConfig: new KubeConfig(), registry });
    const text = await registry.metrics();
    for (const [name, type] of Object.entries(TYPES)) expect(text).toContain(`# TYPE ${name} ${type}\n`);
    expect(manager.metrics.registry).toBe(registry);
  });
});
