// Owns the optional `perf` view of a pooler under load: where its CPU time goes (kernel, the
// node binary, JIT-compiled JS, PgBouncer's own code) by sampling on-CPU time, which V8's
// wall-clock --cpu-prof cannot separate from time spent descheduled inside a system call.

import { spawn, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';

/** True when `perf record` can sample another process here. */
export function perfAvailable(): boolean {
  const r = spawnSync('perf', ['record', '-q', '-e', 'cpu-clock', '-o', '/dev/null', '--', 'true'], { stdio: 'ignore' });
  return r.status === 0;
}

/** Samples `pid` on CPU (cpu-clock, 999 Hz, call graphs off) for `seconds` into `out`. */
export function recordPerf(pid: number, seconds: number, out: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn('perf', ['record', '-q', '-e', 'cpu-clock', '-F', '999', '-p', String(pid), '-o', out, '--', 'sleep', String(seconds)], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    p.stderr?.on('data', (c: Buffer) => (err += c.toString('utf8')));
    p.once('error', reject);
    p.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`perf record exited ${code}: ${err}`))));
  });
}

interface PerfRow {
  pct: number;
  name: string;
}

function report(file: string, sort: string): PerfRow[] {
  const r = spawnSync('perf', ['report', '-i', file, '--stdio', '--no-children', '--sort', sort, '-g', 'none'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`perf report failed: ${r.stderr}`);
  const rows: PerfRow[] = [];
  for (const line of r.stdout.split('\n')) {
    const m = /^\s+([\d.]+)%\s+(.+?)\s*$/.exec(line);
    if (m) rows.push({ pct: Number(m[1]), name: m[2].replace(/\s+/g, ' ') });
  }
  return rows;
}

/** Where the samples fell: per binary (dso), and the top symbols. */
export function perfMarkdown(file: string, top: number): string {
  const dso = report(file, 'dso')
    .map((r) => `${r.name.replace(/^\[JIT\] tid \d+$/, 'JIT-compiled JS')} ${r.pct.toFixed(1)}%`)
    .slice(0, 6);
  const syms = report(file, 'sym').slice(0, top);
  return [
    `On-CPU samples by binary: ${dso.join(', ')}.`,
    '',
    '| % on-CPU | symbol (`[k]` kernel, `[.]` user space) |',
    '|---:|---|',
    ...syms.map((r) => `| ${r.pct.toFixed(1)}% | \`${r.name}\` |`),
  ].join('\n');
}

/** node --perf-basic-prof writes /tmp/perf-<pid>.map; it is only needed until the report. */
export function removePerfMap(pid: number): void {
  rmSync(`/tmp/perf-${pid}.map`, { force: true });
}
