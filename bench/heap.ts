// Owns reading V8 heap snapshots (node --heapsnapshot-signal) of pgmux: the live JS heap grown
// per idle client between two snapshots, by object kind, so an RSS figure can be explained.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { closeAll, openIdleClients, type IdleTarget } from './idle';

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

/**
 * What pgmux's live heap gains per idle client, as markdown: one client, a snapshot, `count`
 * more idle clients, another snapshot. `pid` is a pgmux started with
 * `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=<dir>` and nothing in `dir` yet.
 */
export async function idleHeapGrowth(pid: number, dir: string, target: IdleTarget, count: number, rows?: number): Promise<string> {
  const snapshot = async (n: number): Promise<string> => {
    process.kill(pid, 'SIGUSR2');
    // pgmux writes the snapshot on its main thread: wait for the file to appear, then for
    // pgmux to answer a login again, which it can only do once the file is complete.
    const deadline = Date.now() + 120000;
    let files: string[] = [];
    while ((files = readdirSync(dir).filter((f) => f.endsWith('.heapsnapshot')).sort()).length < n) {
      if (Date.now() > deadline) throw new Error(`pgmux wrote no heap snapshot into ${dir}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    closeAll(await openIdleClients(target, 1));
    return join(dir, files[n - 1]);
  };
  const first = await openIdleClients(target, 1);
  try {
    const before = await snapshot(1);
    const clients = await openIdleClients(target, count);
    try {
      const after = await snapshot(2);
      return heapMarkdown(heapGrowth(before, after, count, rows), count);
    } finally {
      closeAll(clients);
    }
  } finally {
    closeAll(first);
  }
}
