/**
 * A summary of a V8 heap snapshot (the `.heapsnapshot` JSON that `--heapsnapshot-signal` or
 * `v8.writeHeapSnapshot` writes): the total self size and the largest groups by self size, objects
 * grouped by constructor and everything else by node type (strings, arrays, code, ...). Self sizes only:
 * what a group holds itself, not what it keeps alive.
 *
 *   node hack/heap-summary.ts FILE [--top 25]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

interface Group {
  count: number;
  bytes: number;
}

/** Objects by constructor name, the rest by type: `(string)`, `(array)`, `(code)`... */
function groupName(type: string, name: string): string {
  return type === 'object' ? name : `(${type})`;
}

function groups(snapshot: HeapSnapshot): Map<string, Group> {
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [
    number,
    number,
    number,
  ];
  const byName = new Map<string, Group>();
  for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
    const type = types[snapshot.nodes[i + typeAt] ?? 0] ?? '?';
    const key = groupName(type, snapshot.strings[snapshot.nodes[i + nameAt] ?? 0] ?? '?');
    const group = byName.get(key) ?? { count: 0, bytes: 0 };
    group.count += 1;
    group.bytes += snapshot.nodes[i + sizeAt] ?? 0;
    byName.set(key, group);
  }
  return byName;
}

const mib = (bytes: number): string => (bytes / 1048576).toFixed(1);

/** The summary as text: a total line, then `top` lines of MiB, count and group, largest first. */
export function summarizeHeapSnapshot(json: string, top: number): string {
  const byName = groups(JSON.parse(json) as HeapSnapshot);
  const sorted = [...byName.entries()].sort((a, b) => b[1].bytes - a[1].bytes);
  const total = sorted.reduce((sum, [, g]) => sum + g.bytes, 0);
  const lines = sorted
    .slice(0, top)
    .map(
      ([name, g]) => `${mib(g.bytes).padStart(8)} MiB ${String(g.count).padStart(9)}  ${name.slice(0, 80)}`,
    );
  return [`heap snapshot: ${mib(total)} MiB in ${byName.size} groups`, ...lines, ''].join('\n');
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '25' } },
  });
  if (positionals[0] === undefined) throw new Error('usage: node hack/heap-summary.ts FILE [--top 25]');
  process.stdout.write(summarizeHeapSnapshot(readFileSync(positionals[0], 'utf8'), Number(values.top)));
}
