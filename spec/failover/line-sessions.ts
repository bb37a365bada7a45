// Owns idle psql and psycopg 3 sessions that a spec drives one statement at a time over stdin:
// each stays connected between statements, as an application's session does between requests,
// and reports each answer (or the error its driver raised) as one line. Stopped by PID.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { findPgBin } from '../support/pgbin';
import { trackPid, untrackPid } from '../support/reaper';

export interface LineSession {
  readonly label: string;
  readonly pid: number;
  /** Sends one statement that returns one value; resolves to it, or rejects with what the client printed. */
  ask(sql: string): Promise<string>;
  /** Closes its stdin (it logs out), SIGKILL if it has not exited within 5 s. */
  stop(): Promise<void>;
}

export interface Target {
  port: number;
  user: string;
  password: string;
  database: string;
}

/**
 * psycopg 3 with its defaults (not autocommit: each statement runs in the transaction psycopg
 * opens, then commit()): one line in, "ok <value>" or "error <sqlstate> <message>" out. argv[2]
 * "always": every statement as a named prepared one (prepare=True); else psycopg's default
 * (prepared from its prepare_threshold-th execution on, 5).
 */
const PSYCOPG_SESSION = `
import sys, psycopg
conn = psycopg.connect(sys.argv[1])
prepare = True if sys.argv[2] == "always" else None
print("ok connected", flush=True)
for line in sys.stdin:
    try:
        value = conn.execute(line, prepare=prepare).fetchone()[0]
        conn.commit()
        print("ok", value, flush=True)
    except Exception as e:
        print("error", getattr(e, "sqlstate", None), str(e).strip().replace("\\n", " | "), flush=True)
        if conn.closed:
            sys.exit(1)
        conn.rollback()
`;

class Session implements LineSession {
  readonly pid: number;
  private out = '';
  private err = '';
  private exited = false;
  private readonly waiters = new Set<() => void>();
  private readonly exit: Promise<void>;

  constructor(
    readonly label: string,
    private readonly proc: ChildProcessWithoutNullStreams,
    /** The answer in `out` (one line), an error text, or undefined while neither came. */
    private readonly read: (out: string, err: string) => { value?: string; error?: string } | undefined,
  ) {
    this.pid = proc.pid ?? -1;
    trackPid(this.pid, 'SIGKILL');
    proc.stdout.setEncoding('utf8').on('data', (d: string) => this.got(() => (this.out += d)));
    proc.stderr.setEncoding('utf8').on('data', (d: string) => this.got(() => (this.err += d)));
    this.exit = new Promise((resolve) =>
      proc.once('close', () => {
        this.got(() => (this.exited = true));
        untrackPid(this.pid);
        resolve();
      }),
    );
    proc.stdin.on('error', () => undefined);
  }

  private got(change: () => void): void {
    change();
    for (const w of [...this.waiters]) w();
  }

  /** Resolves once `done` returns a value (checked at every output), rejects once the process exits without one. */
  private waitFor<T>(what: string, done: () => T | undefined): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const v = done();
        if (v !== undefined) {
          this.waiters.delete(check);
          resolve(v);
        } else if (this.exited) {
          this.waiters.delete(check);
          reject(new Error(`${this.label} (pid ${this.pid}) exited before ${what}; stdout: ${this.out} stderr: ${this.err}`));
        }
      };
      this.waiters.add(check);
      check();
    });
  }

  async ask(sql: string): Promise<string> {
    this.out = '';
    this.err = '';
    this.proc.stdin.write(`${sql}\n`);
    return this.answer(`an answer to ${sql}`);
  }

  /** The next answer: its value, or a rejection with the error the client printed. */
  async answer(what: string): Promise<string> {
    const r = await this.waitFor(what, () => this.read(this.out, this.err));
    if (r.error !== undefined) throw new Error(`${this.label}: ${r.error}`);
    return r.value as string;
  }

  async stop(): Promise<void> {
    this.proc.stdin.end();
    const timer = setTimeout(() => {
      if (!this.exited) process.kill(this.pid, 'SIGKILL');
    }, 5000);
    await this.exit;
    clearTimeout(timer);
  }
}

function clientBin(name: string): string {
  const wrapper = `/usr/bin/${name}`;
  return existsSync(wrapper) ? wrapper : findPgBin(name);
}

function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PG')) env[k] = v;
  return { ...env, PSQLRC: '/dev/null', ...extra };
}

/**
 * psql reading statements from a pipe, as a script would feed it: unaligned tuples only, and
 * ON_ERROR_STOP, so any error (or a lost connection) ends it with the error on stderr. stdbuf
 * makes its stdout line-buffered, so each answer arrives as it is printed.
 */
export async function psqlSession(t: Target): Promise<LineSession> {
  const args = ['-oL', clientBin('psql'), '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(t.port), '-U', t.user, t.database];
  const proc = spawn('stdbuf', args, { env: cleanEnv({ PGPASSWORD: t.password }), stdio: ['pipe', 'pipe', 'pipe'] });
  const s = new Session(`psql`, proc, (out, err) => {
    if (err.trim() !== '') return { error: err.trim() };
    const nl = out.indexOf('\n');
    return nl < 0 ? undefined : { value: out.slice(0, nl) };
  });
  // Logged in once it answers.
  await s.ask('SELECT 1;');
  return s;
}

/** A psycopg 3 connection (default settings, or every statement prepared) in a python3 process. */
export async function psycopgSession(t: Target, prepare: 'default' | 'always' = 'default'): Promise<LineSession> {
  const dsn = `host=127.0.0.1 port=${t.port} user=${t.user} password=${t.password} dbname=${t.database}`;
  const proc = spawn('/usr/bin/python3', ['-c', PSYCOPG_SESSION, dsn, prepare], { env: cleanEnv({}), stdio: ['pipe', 'pipe', 'pipe'] });
  const s = new Session('psycopg', proc, (out) => {
    const nl = out.indexOf('\n');
    if (nl < 0) return undefined;
    const line = out.slice(0, nl);
    if (line.startsWith('ok ')) return { value: line.slice(3) };
    return { error: line };
  });
  await s.answer('psycopg to connect');
  return s;
}
