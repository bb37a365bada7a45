// Owns running pgbench for the bench: one timed run, its tps and transaction count, and the
// per-transaction latency log of a single-client run.

import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../spec/support/child';
import { findPgBin } from '../spec/support/pgbin';

export interface Target {
  port: number;
  user: string;
  password: string;
  db: string;
}

export interface BenchRun {
  tps: number;
  transactions: number;
  /** Clients pgbench reported as aborted (only non-zero when the run allowed aborts). */
  aborted: number;
  /** Per-transaction latencies in microseconds, sorted; only when asked for. */
  latenciesUs?: number[];
}

function pgbenchBin(): string {
  return existsSync('/usr/bin/pgbench') ? '/usr/bin/pgbench' : findPgBin('pgbench');
}

/** Our environment without PG* variables, plus the password. */
function env(password: string): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PG')) out[k] = v;
  return { ...out, PGPASSWORD: password };
}

function connArgs(t: Target): string[] {
  return ['-h', '127.0.0.1', '-p', String(t.port), '-U', t.user];
}

/** pgbench -i: tables, data, vacuum, primary keys; straight to PostgreSQL. */
export async function initialize(t: Target, scale: number): Promise<void> {
  const r = await run(pgbenchBin(), [...connArgs(t), '-i', '-q', '-I', 'dtgvp', '-s', String(scale), t.db], { env: env(t.password) });
  if (r.code !== 0) throw new Error(`pgbench -i failed (exit ${r.code}):\n${r.stderr}${r.stdout}`);
}

/**
 * One timed pgbench run (`-n`: the tables were vacuumed once after -i). `args` carry the
 * workload (-S, -M, -C, -c, -j); with `allowAborts` a run whose clients aborted returns their
 * count instead of throwing; with `latencies` pgbench logs every transaction (-l) into a
 * temp dir, which is read and removed. `extraEnv`: e.g. PGOPTIONS for every connection pgbench opens.
 */
export async function runPgbench(t: Target, args: string[], seconds: number, latencies = false, allowAborts = false, extraEnv: Record<string, string> = {}): Promise<BenchRun> {
  const dir = latencies ? mkdtempSync(join(tmpdir(), 'pgmux-bench-lat-')) : undefined;
  try {
    const all = [...connArgs(t), '-n', '-T', String(seconds), ...args];
    if (dir) all.push('-l', `--log-prefix=${join(dir, 'lat')}`);
    all.push(t.db);
    const r = await run(pgbenchBin(), all, { env: { ...env(t.password), ...extraEnv }, cwd: dir });
    const out = r.stdout + r.stderr;
    const tps = /^tps = ([\d.]+)/m.exec(r.stdout);
    const done = /^number of transactions actually processed: (\d+)/m.exec(r.stdout);
    const failed = /^number of failed transactions: (\d+)/m.exec(r.stdout);
    // pgbench exits 2 when clients aborted but still prints its summary; `allowAborts` callers
    // report the count instead of failing the run.
    const aborted = (out.match(/client \d+ aborted/g) ?? []).length;
    const abortedOnly = allowAborts && r.code === 2 && aborted > 0;
    if ((r.code !== 0 && !abortedOnly) || !tps || !done) throw new Error(`pgbench ${all.join(' ')} failed (exit ${r.code}):\n${out}`);
    if (failed && Number(failed[1]) > 0) throw new Error(`pgbench ${all.join(' ')}: ${failed[1]} failed transactions:\n${out}`);
    const result: BenchRun = { tps: Number(tps[1]), transactions: Number(done[1]), aborted };
    if (dir) result.latenciesUs = readLatencies(dir);
    return result;
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

/** Field 3 of each line of pgbench's -l log: the transaction's time in microseconds. */
function readLatencies(dir: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync(dir)) {
    for (const line of readFileSync(join(dir, name), 'utf8').split('\n')) {
      const f = line.split(' ');
      if (f.length >= 3) out.push(Number(f[2]));
    }
  }
  return out.sort((a, b) => a - b);
}
