// Owns describing the machine a bench ran on, for RESULTS.md: CPU, memory, kernel, and the
// versions of node, PostgreSQL, pgbench and PgBouncer.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { findPgBin } from '../spec/support/pgbin';

export interface Machine {
  date: string;
  nproc: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  postgres: string;
  pgbench: string;
  pgbouncer: string;
  /** The checkout's commit, and how many files under lib/ differ from it (others edit live). */
  commit: string;
}

function firstLine(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8' }).split('\n')[0].trim();
  } catch (err) {
    return `unknown (${(err as Error).message.split('\n')[0]})`;
  }
}

export function describeMachine(): Machine {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  return {
    date: new Date().toISOString(),
    nproc: os.availableParallelism(),
    cpuModel: model.trim(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    postgres: firstLine(findPgBin('postgres'), ['--version']),
    pgbench: firstLine(findPgBin('pgbench'), ['--version']),
    pgbouncer: firstLine('/usr/sbin/pgbouncer', ['--version']),
    commit: gitState(),
  };
}

function gitState(): string {
  const root = join(__dirname, '..', '..');
  const head = firstLine('git', ['-C', root, 'rev-parse', '--short', 'HEAD']);
  try {
    const dirty = execFileSync('git', ['-C', root, 'status', '--porcelain', '--', 'lib'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l !== '').length;
    return dirty === 0 ? head : `${head} + ${dirty} uncommitted files under lib/`;
  } catch {
    return head;
  }
}

/** 1, 5 and 15 minute load averages, e.g. "1.02 0.87 0.55". */
export function loadAverage(): string {
  return os.loadavg().map((l) => l.toFixed(2)).join(' ');
}

/** The soft limit on open files of this process, from /proc/self/limits. */
export function openFilesLimit(): number {
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  if (!m) return 1024;
  return m[1] === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(m[1]);
}
