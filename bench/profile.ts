// Owns summarising a V8 .cpuprofile (from `node --cpu-prof`): self time per function and per
// source file, so a profile of pgmux under load reads as a short table.
//
// Also a command: `node dist/bench/profile.js <file.cpuprofile> [top]`.

import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface Row {
  name: string;
  ms: number;
  /** Percent of the busy (non-idle) time. */
  pct: number;
  /** Percent of the busy time outside socket system calls; null for those calls themselves. */
  pctOutside: number | null;
}

/**
 * Native functions that are one socket system call. V8 samples the JS thread on a wall-clock
 * timer, so time the thread spends descheduled inside write() (the write wakes the reader,
 * which on a busy 2-core machine then preempts pgmux) is charged to these frames as well.
 */
const SOCKET_SYSCALLS = new Set(['writeBuffer', 'writev', 'writeUtf8String', 'writeLatin1String', 'writeAsciiString', 'close', 'shutdown', 'readStart', 'readStop']);

export interface ProfileSummary {
  busyMs: number;
  idleMs: number;
  /** Busy time in SOCKET_SYSCALLS frames. */
  syscallMs: number;
  functions: Row[];
  files: Row[];
  /** Each busy sample charged to the nearest pgmux function on its stack (with what it calls). */
  nearestPgmux: Row[];
}

/** Where a frame comes from: a pgmux file (dist/lib/...), node internals, or a V8 pseudo-frame. */
function fileOf(f: CallFrame): string {
  if (f.url === '') return f.functionName.startsWith('(') ? f.functionName : '(native code)';
  const lib = /\/dist\/(lib\/.*)$/.exec(f.url);
  if (lib) return lib[1];
  if (f.url.startsWith('node:')) return f.url;
  return basename(f.url);
}

function rows(map: Map<string, number>, busy: number, syscalls: number, top: number): Row[] {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, us]) => ({
      name,
      ms: us / 1000,
      pct: (100 * us) / busy,
      pctOutside: isSyscallKey(name) ? null : (100 * us) / (busy - syscalls),
    }));
}

const isSyscallKey = (key: string): boolean => key.endsWith(' (native)') && SOCKET_SYSCALLS.has(key.slice(0, -' (native)'.length));

/** Self time per function (name + file:line) and per file, from the sample timeline. */
export function summarize(path: string, top = 20): ProfileSummary {
  const p = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, ProfileNode>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n);
  }
  const fn = new Map<string, number>();
  const nearest = new Map<string, number>();
  const file = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  let syscalls = 0;
  // timeDeltas[i] is the time before sample i; it is charged to sample i's node (as DevTools does).
  for (let i = 0; i < p.samples.length; i++) {
    const node = byId.get(p.samples[i]);
    const us = p.timeDeltas[i] ?? 0;
    if (!node || us <= 0) continue;
    const f = node.callFrame;
    if (f.functionName === '(idle)') {
      idle += us;
      continue;
    }
    busy += us;
    const where = fileOf(f);
    // Native functions (bindings such as writeBuffer, V8 builtins) have no url; name them.
    const key =
      f.url === ''
        ? f.functionName.startsWith('(') ? where : `${f.functionName || '(anonymous)'} (native)`
        : `${f.functionName || '(anonymous)'} ${where}:${f.lineNumber + 1}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    if (isSyscallKey(key)) syscalls += us;
    else file.set(where, (file.get(where) ?? 0) + us);
    const owner = nearestPgmuxFrame(node, parent);
    nearest.set(owner, (nearest.get(owner) ?? 0) + us);
  }
  return {
    busyMs: busy / 1000,
    idleMs: idle / 1000,
    syscallMs: syscalls / 1000,
    functions: rows(fn, busy, syscalls, top),
    files: rows(file, busy, syscalls, Math.min(top, 12)),
    nearestPgmux: rows(nearest, busy, 0, Math.min(top, 15)),
  };
}

/** The first pgmux (dist/lib) frame from `node` up, or where the stack came from if none. */
function nearestPgmuxFrame(node: ProfileNode, parent: Map<number, ProfileNode>): string {
  for (let n: ProfileNode | undefined = node; n; n = parent.get(n.id)) {
    const f = n.callFrame;
    if (/\/dist\/lib\//.test(f.url)) return `${f.functionName || '(anonymous)'} ${fileOf(f)}:${f.lineNumber + 1}`;
  }
  const f = node.callFrame;
  return f.url === '' && f.functionName.startsWith('(') ? f.functionName : '(no pgmux frame on the stack: node event loop / stream internals)';
}

/** Markdown for RESULTS.md. */
export function summaryMarkdown(s: ProfileSummary): string {
  const pct = (x: number | null): string => (x === null ? '—' : `${x.toFixed(1)}%`);
  const line = (r: Row): string => `| ${pct(r.pct)} | ${pct(r.pctOutside)} | ${r.ms.toFixed(0)} | \`${r.name}\` |`;
  const head = (what: string): string[] => [`| % of busy | % of busy outside socket syscalls | ms | ${what} |`, '|---:|---:|---:|---|'];
  return [
    `JS thread busy ${s.busyMs.toFixed(0)} ms (of it ${s.syscallMs.toFixed(0)} ms inside socket system calls such as ` +
      `writeBuffer, which includes time descheduled there), idle ${s.idleMs.toFixed(0)} ms.`,
    '',
    ...head('function, self time (file:line in dist/)'),
    ...s.functions.map(line),
    '',
    ...head('file, self time (socket syscalls left out)'),
    ...s.files.map(line),
    '',
    '| % of busy | ms | nearest pgmux function on the stack (its own time plus the node/native calls below it) |',
    '|---:|---:|---|',
    ...s.nearestPgmux.map((r) => `| ${pct(r.pct)} | ${r.ms.toFixed(0)} | \`${r.name}\` |`),
  ].join('\n');
}

if (require.main === module) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: node dist/bench/profile.js <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  process.stdout.write(`${summaryMarkdown(summarize(file, top ? Number(top) : 20))}\n`);
}
