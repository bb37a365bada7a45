// Owns the drill's pgbench load: builtin tpcb-like at a fixed rate through the pooler, every
// transaction logged (-l) with the wall-clock time it completed, and its clients' aborts read
// from its output (which command of the script each was in).

import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Child, raceTimeout, run } from '../support/child';
import { makeTempDir, removeTempDir } from '../support/osuser';
import { findPgBin } from '../support/pgbin';

export interface PgbenchTarget {
  port: number;
  user: string;
  password: string;
  database: string;
}

export interface PgbenchAbort {
  client: number;
  /** The script's command the client was in, e.g. "BEGIN", "UPDATE pgbench_tellers", "END"; '' when pgbench did not say. */
  command: string;
  /** What pgbench printed after the command: the server's error or "perhaps the backend died...". */
  message: string;
}

export interface PgbenchTransaction {
  /** Completion, ms since the epoch. */
  end: number;
  latencyMs: number;
  /** How late it started against the -R schedule: high when the machine cannot keep the rate. */
  lagMs: number;
}

export interface PgbenchResults {
  clients: number;
  rate: number;
  /** ms since the epoch at which each acknowledged transaction completed, sorted. */
  commits: number[];
  /** Each acknowledged transaction, in the order of `commits`. */
  transactions: PgbenchTransaction[];
  aborts: PgbenchAbort[];
  /** pgbench ended by itself (its -T ran out, or every client aborted). */
  finished: boolean;
  exitCode: number | null;
  /** pgbench's output, for a report that wants the details. */
  output: string;
}

export interface PgbenchLoad {
  /** Resolves once pgbench reports commits (its first progress line with tps above 0). */
  running(timeoutMs: number): Promise<void>;
  /**
   * Resolves when pgbench has exited; if it is still running `graceMs` after its -T should
   * have ended it, stops it by PID (its log may then miss the last lines: `finished` false).
   */
  finish(graceMs: number): Promise<PgbenchResults>;
  /** Stops pgbench by PID if it still runs (for cleanup after a failure). */
  kill(): Promise<void>;
}

export const TPCB_SCRIPT = 'tpcb-like';

function pgbenchBin(): string {
  return existsSync('/usr/bin/pgbench') ? '/usr/bin/pgbench' : findPgBin('pgbench');
}

/** Our environment without PG* variables (they would change what pgbench connects to), plus the password. */
function env(password: string): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PG')) out[k] = v;
  return { ...out, PGPASSWORD: password };
}

/** pgbench -i straight to the primary: tables, data, vacuum, primary keys. */
export async function initializePgbench(t: PgbenchTarget, scale: number): Promise<void> {
  const r = await run(pgbenchBin(), ['-h', '127.0.0.1', '-p', String(t.port), '-U', t.user, '-i', '-q', '-s', String(scale), t.database], { env: env(t.password) });
  if (r.code !== 0) throw new Error(`pgbench -i failed (exit ${r.code}):\n${r.stderr}${r.stdout}`);
}

/**
 * The script's commands in pgbench's numbering ("aborted in command N"), from pgbench itself:
 * `--show-script` prints a header line and then one command per line.
 */
export async function scriptCommands(script: string): Promise<string[]> {
  const r = await run(pgbenchBin(), [`--show-script=${script}`]);
  const lines = (r.stderr + r.stdout).split('\n').filter((l) => l.trim() !== '');
  if (r.code !== 0 || lines.length < 2) throw new Error(`pgbench --show-script=${script} failed (exit ${r.code}):\n${r.stderr}`);
  return lines.slice(1).map((l) => shortCommand(l.trim()));
}

/** "UPDATE pgbench_tellers SET ..." -> "UPDATE pgbench_tellers"; "BEGIN;" -> "BEGIN"; "\\set aid ..." -> "\\set aid". */
function shortCommand(command: string): string {
  const words = command.replace(/;$/, '').split(/\s+/);
  const table = /\bpgbench_\w+/.exec(command)?.[0];
  if (words[0].startsWith('\\')) return words.slice(0, 2).join(' ');
  return table ? `${words[0]} ${table}` : words[0];
}

/**
 * Starts `pgbench -n -b tpcb-like -c clients -R rate -T seconds -M mode -l` against the pooler
 * (-M simple unless `mode` says prepared: named statements, each Parse once per client). The
 * default -j (one thread). Resolves once the process runs; pgbench connects its clients itself.
 */
export async function startPgbench(t: PgbenchTarget, o: { clients: number; rate: number; seconds: number; mode?: 'simple' | 'prepared' }): Promise<PgbenchLoad> {
  const commands = await scriptCommands(TPCB_SCRIPT);
  const dir = makeTempDir('pgmux-drill-pgbench-');
  const args = [
    '-h', '127.0.0.1', '-p', String(t.port), '-U', t.user, '-n',
    '-b', TPCB_SCRIPT, '-c', String(o.clients), '-R', String(o.rate), '-T', String(o.seconds),
    '-M', o.mode ?? 'simple', '-l', `--log-prefix=${join(dir, 'tx')}`, '-P', '1', t.database,
  ];
  let child: Child;
  try {
    child = await Child.start(pgbenchBin(), args, { label: 'pgbench', cwd: dir, env: env(t.password), emergencySignal: 'SIGKILL' });
  } catch (err) {
    removeTempDir(dir);
    throw err;
  }
  const deadline = Date.now() + o.seconds * 1000;
  let removed = false;
  const cleanup = (): void => {
    if (!removed) removeTempDir(dir);
    removed = true;
  };
  return {
    // pgbench's progress line (stderr, once a second) with commits in it: the load really runs.
    running: (timeoutMs) => child.waitForLog(/progress: [\d.]+ s, (?:[1-9]\d*(?:\.\d+)?|0\.\d*[1-9]\d*) tps/, timeoutMs),
    async finish(graceMs) {
      const exited = await raceTimeout(child.exited, Math.max(0, deadline - Date.now()) + graceMs);
      const info = exited ?? (await child.stop([{ signal: 'SIGINT', waitMs: 2000 }, { signal: 'SIGKILL', waitMs: 5000 }]));
      const output = child.logs();
      const transactions = readTransactions(dir);
      const result: PgbenchResults = {
        clients: o.clients,
        rate: o.rate,
        commits: transactions.map((t) => t.end),
        transactions,
        aborts: parseAborts(output, commands),
        finished: exited !== undefined,
        exitCode: info.code,
        output,
      };
      cleanup();
      return result;
    },
    async kill() {
      await child.stop([{ signal: 'SIGKILL', waitMs: 5000 }]);
      cleanup();
    },
  };
}

/**
 * pgbench's -l lines (PostgreSQL 15): "client_id transaction_no time script_no time_epoch
 * time_us [schedule_lag]", one per completed transaction, where time_epoch.time_us is the
 * wall-clock completion; `time` is "skipped" or "failed" for transactions that did not commit.
 */
function readTransactions(dir: string): PgbenchTransaction[] {
  const out: PgbenchTransaction[] = [];
  for (const name of readdirSync(dir)) {
    for (const line of readFileSync(join(dir, name), 'utf8').split('\n')) {
      const f = line.split(' ');
      if (f.length < 6 || !/^\d+$/.test(f[2])) continue;
      out.push({ end: Number(f[4]) * 1000 + Math.floor(Number(f[5]) / 1000), latencyMs: Number(f[2]) / 1000, lagMs: f.length > 6 ? Number(f[6]) / 1000 : 0 });
    }
  }
  return out.sort((a, b) => a.end - b.end);
}

/**
 * pgbench 15 reports an aborted client in one of these forms:
 *   client 3 aborted in command 5 (SQL) of script 0; perhaps the backend died while processing
 *   client 3 script 0 aborted in command 4 query 0: FATAL:  terminating connection ...
 *   client 3 aborted while ... (e.g. while receiving the transaction status)
 */
export function parseAborts(output: string, commands: readonly string[]): PgbenchAbort[] {
  const out: PgbenchAbort[] = [];
  const lines = output.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/^pgbench: error: /, '');
    let m = /^client (\d+) aborted in command (\d+) \(\w+\) of script \d+; (.*)$/.exec(line);
    if (!m) m = /^client (\d+) script \d+ aborted in command (\d+) query \d+: (.*)$/.exec(line);
    if (m) {
      // The server's message may go on for more lines (DETAIL, HINT): keep the first.
      out.push({ client: Number(m[1]), command: commands[Number(m[2])] ?? `command ${m[2]}`, message: m[3].trim() });
      continue;
    }
    const w = /^client (\d+) aborted (while .*)$/.exec(line);
    if (w) out.push({ client: Number(w[1]), command: '', message: w[2] });
  }
  return out;
}
