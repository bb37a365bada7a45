// Owns reading V8 heap snapshots (node --heapsnapshot-signal) of pgmux: the live JS heap grown
// per idle client between two snapshots, by object kind, so an RSS figure can be explained.

import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** Self size and count per "type name" (e.g. "object Socket", "closure", "string"). */
function aggregate(file: string): { total: number; kinds: Map<string, [number, number]> } {
  const s = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const width = fields.length;
  const ti = fields.indexOf('type');
  const ni = fields.indexOf('name');
  const si = fields.indexOf('self_size');
  const kinds = new Map<string, [number, number]>();
  let total = 0;
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + ti]];
    // Strings, code and closures are named by content or function; group them by type.
    const name = /string|code|closure|number/.test(type) ? '' : s.strings[s.nodes[i + ni]].slice(0, 50);
    const key = name === '' ? type : `${type} ${name}`;
    const size = s.nodes[i + si];
    total += size;
    const e = kinds.get(key) ?? [0, 0];
    e[0] += size;
    e[1]++;
    kinds.set(key, e);
  }
  return { total, kinds };
}

export interface HeapGrowth {
  /** Live heap bytes added per client. */
  perClient: number;
  rows: { kind: string; bytes: number; count: number }[];
}

/** What the live heap gained between `before` and `after`, per each of `clients`. */
export function heapGrowth(before: string, after: string, clients: number, top = 15): HeapGrowth {
  const a = aggregate(before);
  const b = aggregate(after);
  const rows = [...b.kinds.entries()]
    .map(([kind, [size, count]]) => {
      const [s0, c0] = a.kinds.get(kind) ?? [0, 0];
      return { kind, bytes: (size - s0) / clients, count: (count - c0) / clients };
    })
    .sort((x, y) => y.bytes - x.bytes)
    .slice(0, top);
  return { perClient: (b.total - a.total) / clients, rows };
}

export function heapMarkdown(g: HeapGrowth, clients: number): string {
  return [
    `Live JS heap (after the GC a snapshot forces) grew by **${g.perClient.toFixed(0)} bytes per idle client** with ${clients} clients.`,
    '',
    '| bytes/client | objects/client | kind (V8 heap snapshot type and constructor) |',
    '|---:|---:|---|',
    ...g.rows.map((r) => `| ${r.bytes.toFixed(0)} | ${r.count.toFixed(2)} | \`${r.kind}\` |`),
  ].join('\n');
}
