// Side by side with the real PgBouncer 1.18: both run the repository's pgbouncer-compat.ini
// (only host, ports and paths substituted) in front of one PostgreSQL, and the same sessions
// through both must give the same transcript: rows, column types, command tags, notices and
// every field of every SQL error. A transcript is also checked against known values, so two
// poolers that broke the same way (or a dead cluster) cannot pass by agreeing.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, type DatabaseError, type FieldDef } from 'pg';
import { accepts, until } from '../cli/helpers';
import { startCluster, type Cluster } from '../support/cluster';
import { psql } from '../support/clients';
import { makeTempDir, removeTempDir } from '../support/osuser';
import { startPgBouncer, type PgBouncerProcess } from '../support/pgbouncer';
import { repoRoot, startPgmux, type PgmuxProcess } from '../support/pgmux';
import { freePorts } from '../support/ports';

const COMPAT_INI = readFileSync(join(repoRoot(), 'pgbouncer-compat.ini'), 'utf8');

/**
 * The file with this run's ports and socket dir. Each replacement must hit exactly the lines
 * written for it, so an edit of the file that moves them fails here instead of silently
 * running PgBouncer against something else.
 */
function localize(serverPort: number, listenPort: number, socketDir: string): string {
  const swaps: [RegExp, string, number][] = [
    [/ port=5432\b/g, ` port=${serverPort}`, 4],
    [/^listen_port = 6432$/gm, `listen_port = ${listenPort}`, 1],
    [/^unix_socket_dir = \/tmp$/gm, `unix_socket_dir = ${socketDir}`, 1],
  ];
  let text = COMPAT_INI;
  for (const [pattern, replacement, count] of swaps) {
    const hits = text.match(pattern)?.length ?? 0;
    if (hits !== count) throw new Error(`pgbouncer-compat.ini: expected ${count} match(es) of ${pattern}, found ${hits}`);
    text = text.replace(pattern, replacement);
  }
  return text;
}

/** One statement's outcome, with only what both poolers must agree on (no PIDs, no times). */
interface Step {
  sql: string;
  command?: string | null;
  rowCount?: number | null;
  fields?: [string, number][];
  rows?: unknown[][];
  error?: Partial<Record<keyof DatabaseError, unknown>>;
  notices?: Notice[];
}

/** The fields of a NoticeResponse that node-postgres hands to 'notice' listeners. */
interface Notice {
  severity?: string;
  code?: string;
  message?: string;
}

/** Runs statements on one client and records each outcome; errors are results, not throws. */
class Recorder {
  readonly steps: Step[] = [];
  private notices: Notice[] = [];

  constructor(readonly client: Client) {
    client.on('notice', (n) => this.notices.push(n));
  }

  /** Without values and name, node-postgres uses the simple protocol; with either, the extended one. */
  async run(sql: string, values?: unknown[], name?: string): Promise<Step> {
    const step: Step = { sql: name === undefined ? sql : `${name}: ${sql}` };
    try {
      const r = await this.client.query({ text: sql, values, name, rowMode: 'array' });
      step.command = r.command;
      step.rowCount = r.rowCount;
      step.fields = r.fields.map((f: FieldDef) => [f.name, f.dataTypeID]);
      step.rows = r.rows as unknown[][];
    } catch (err) {
      const e = err as DatabaseError;
      if (e.code === undefined) throw err;
      step.error = {
        severity: e.severity, code: e.code, message: e.message, detail: e.detail, hint: e.hint,
        position: e.position, where: e.where, routine: e.routine,
      };
    }
    if (this.notices.length > 0) {
      step.notices = this.notices.map((n) => ({ severity: n.severity, code: n.code, message: n.message }));
      this.notices = [];
    }
    this.steps.push(step);
    return step;
  }
}

async function connect(port: number, user: string, password: string, database: string): Promise<Client> {
  const client = new Client({ host: '127.0.0.1', port, user, password, database });
  await client.connect();
  return client;
}

/** The application's session: transaction pooling, md5 auth answered with SCRAM. */
async function appSession(port: number, password: string): Promise<Step[]> {
  const client = await connect(port, 'app', password, 'app');
  const r = new Recorder(client);
  try {
    // Simple protocol, several types and a NULL.
    await r.run("SELECT 1 AS one, 'two'::text AS two, NULL::int AS nothing, 1.5::numeric AS num");
    await r.run('SELECT g AS n, g * g AS sq FROM generate_series(1, 300) g');
    // Extended protocol: unnamed and named statements, and a typed parameter error.
    await r.run('SELECT $1::int + 1 AS n, $2::text AS t', [41, 'x']);
    await r.run('SELECT $1::int * 2 AS doubled', [21], 'compat_double');
    await r.run('SELECT $1::int', ['notanint']);
    // A transaction with DDL, DML, RETURNING and an extended-protocol read inside it.
    await r.run('BEGIN');
    await r.run('CREATE TEMP TABLE compat_t (id int PRIMARY KEY, v text NOT NULL) ON COMMIT DROP');
    await r.run("INSERT INTO compat_t VALUES (1, 'a'), (2, 'b') RETURNING id");
    await r.run('UPDATE compat_t SET v = upper(v) WHERE id = $1', [2]);
    await r.run("INSERT INTO compat_t VALUES (1, 'dup')");
    await r.run('SELECT * FROM compat_t');
    await r.run('ROLLBACK');
    await r.run('BEGIN');
    await r.run('CREATE TEMP TABLE compat_t (id int PRIMARY KEY, v text NOT NULL) ON COMMIT DROP');
    await r.run("INSERT INTO compat_t VALUES (1, 'a'), (2, 'b') RETURNING id");
    await r.run('SELECT v FROM compat_t WHERE id = $1', [2]);
    await r.run('COMMIT');
    // Errors outside a transaction.
    await r.run('SELECT 1/0');
    await r.run('SELECT * FROM compat_missing_table');
    await r.run('SELEC 1');
    // Notices and warnings reach the client with the statement that raised them.
    await r.run("DO $$ BEGIN RAISE NOTICE 'compat notice %', 42; RAISE WARNING 'compat warning'; END $$");
    // Session parameters: what the server reports, the db line's connect_query and
    // application_name, and a SET that must follow the client across transactions.
    for (const p of ['application_name', 'lock_timeout', 'TimeZone', 'DateStyle', 'client_encoding', 'standard_conforming_strings', 'IntervalStyle']) {
      await r.run(`SHOW ${p}`);
    }
    await r.run("SET TimeZone = 'Asia/Tokyo'");
    await r.run("SET application_name = 'compat-client'");
    await r.run('SELECT 1');
    await r.run('SHOW TimeZone');
    await r.run('SHOW application_name');
    await r.run("SELECT '2020-01-01 00:00:00+00'::timestamptz::text AS local_time");
    await r.run('SELECT current_user, session_user, current_database()');
    return r.steps;
  } finally {
    await client.end();
  }
}

/** The legacy user: [users] pool_mode=session on the session-mode reports database, md5 auth. */
async function legacySession(port: number, password: string): Promise<Step[]> {
  const client = await connect(port, 'app_md5', password, 'reports');
  const r = new Recorder(client);
  try {
    await r.run('SET search_path = pg_catalog');
    await r.run('BEGIN');
    await r.run('SELECT 1 AS one');
    await r.run('COMMIT');
    await r.run('SHOW search_path');
    await r.run('SHOW lock_timeout');
    await r.run('SELECT current_user, current_database()');
    await r.run("SELECT pg_advisory_lock(4242), pg_advisory_unlock(4242)");
    return r.steps;
  } finally {
    await client.end();
  }
}

/** The "*" fallback line and the maintenance database. */
async function fallbackSessions(port: number, password: string): Promise<Step[]> {
  const out: Step[] = [];
  for (const [user, db] of [['app', 'template1'], ['postgres', 'postgres']]) {
    const client = await connect(port, user, password, db);
    try {
      const r = new Recorder(client);
      await r.run('SELECT current_user, current_database()');
      out.push(...r.steps);
    } finally {
      await client.end();
    }
  }
  return out;
}

/** How a login that cannot succeed is refused: the error's SQLSTATE and message. */
async function refusedLogin(port: number, user: string, password: string, db: string): Promise<Record<string, unknown>> {
  const client = new Client({ host: '127.0.0.1', port, user, password, database: db });
  try {
    await client.connect();
    await client.end();
    return { connected: true };
  } catch (err) {
    const e = err as DatabaseError;
    return { severity: e.severity, code: e.code, message: e.message };
  }
}

/** psql's COPY in and out, echo, errors with SQLSTATE (VERBOSITY verbose) and notices. */
const PSQL_SCRIPT = `\\set VERBOSITY verbose
SELECT 1 AS one, 'two' AS two;
COPY (SELECT g, g * g, 'row ' || g FROM generate_series(1, 5) g) TO STDOUT WITH (FORMAT csv);
BEGIN;
CREATE TEMP TABLE compat_copy (id int, v text) ON COMMIT DROP;
COPY compat_copy FROM STDIN WITH (FORMAT csv);
1,alpha
2,"beta, quoted"
3,
\\.
SELECT id, v, v IS NULL AS is_null FROM compat_copy ORDER BY id;
COPY compat_copy TO STDOUT;
COMMIT;
BEGIN;
CREATE TEMP TABLE compat_bad (id int) ON COMMIT DROP;
COPY compat_bad FROM STDIN;
1
notanumber
3
\\.
ROLLBACK;
COPY compat_missing FROM STDIN;
SELECT 1/0;
DO $$ BEGIN RAISE NOTICE 'hello from %', 'psql'; END $$;
SHOW application_name;
SHOW lock_timeout;
SELECT current_user;
`;

async function psqlRun(port: number, password: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return psql(['-X', '-a', '-h', '127.0.0.1', '-p', String(port), '-U', 'app', '-d', 'app', '-f', '-'], { PGPASSWORD: password }, PSQL_SCRIPT);
}

describe('pgbouncer-compat.ini: PgBouncer 1.18 and pgmux give the same answers', () => {
  let cluster: Cluster;
  let bouncer: PgBouncerProcess;
  let mux: PgmuxProcess;
  const socketDirs: string[] = [];

  beforeAll(async () => {
    cluster = await startCluster();
    // The userlist an operator would dump from pg_authid: SCRAM verifiers and an md5 hash.
    const secrets = await cluster.query(
      cluster.primary,
      "SELECT rolname, rolpassword FROM pg_authid WHERE rolname IN ('postgres', 'app', 'app_md5') ORDER BY 1",
    );
    const userlist = secrets.rows.map((r: { rolname: string; rolpassword: string }) => `"${r.rolname}" "${r.rolpassword}"\n`).join('');
    const [bouncerPort, muxPort] = await freePorts(2);
    for (let i = 0; i < 2; i++) socketDirs.push(makeTempDir('pgmux-compat-sock-'));
    bouncer = await startPgBouncer(localize(cluster.primary.port, bouncerPort, socketDirs[0]), { 'userlist.txt': userlist });
    mux = await startPgmux(localize(cluster.primary.port, muxPort, socketDirs[1]), { 'userlist.txt': userlist });
  });

  afterAll(async () => {
    await mux?.stop();
    await bouncer?.stop();
    for (const dir of socketDirs) removeTempDir(dir);
    await cluster?.stop();
  });

  /**
   * Catches: a wrong or missing row, column type or command tag; an error field (SQLSTATE,
   * message, position, detail) lost or rewritten; notices dropped or attached to the wrong
   * statement; a SET not following the client across transactions; connect_query or the db
   * line's application_name not applied; named prepared statements breaking in transaction mode.
   */
  it('node-postgres, user app in transaction mode: the same transcript', async () => {
    const expected = await appSession(bouncer.port, cluster.password);
    const actual = await appSession(mux.port, cluster.password);
    expect(actual).toEqual(expected);
    // Known answers, so the comparison cannot pass with both poolers broken alike.
    // The last step with this text (SHOW TimeZone runs before and after the SET).
    const by = (sql: string): Step | undefined => expected.filter((s) => s.sql === sql).pop();
    expect(by("SELECT 1 AS one, 'two'::text AS two, NULL::int AS nothing, 1.5::numeric AS num")?.rows).toEqual([[1, 'two', null, '1.5']]);
    expect(by('SELECT g AS n, g * g AS sq FROM generate_series(1, 300) g')?.rowCount).toBe(300);
    expect(by('SELECT 1/0')?.error).toMatchObject({ code: '22012', message: 'division by zero' });
    expect(by("INSERT INTO compat_t VALUES (1, 'dup')")?.error).toMatchObject({ code: '23505' });
    expect(by('SELECT * FROM compat_t')?.error).toMatchObject({ code: '25P02' });
    expect(by('COMMIT')?.command).toBe('COMMIT');
    expect(by('SHOW lock_timeout')?.rows).toEqual([['10s']]);
    expect(by('SHOW TimeZone')?.rows).toEqual([['Asia/Tokyo']]);
    // The db line's application_name until the client sets its own.
    expect(expected.find((s) => s.sql === 'SHOW application_name')?.rows).toEqual([['compat-pooler']]);
    expect(by('SHOW application_name')?.rows).toEqual([['compat-client']]);
    expect(by("DO $$ BEGIN RAISE NOTICE 'compat notice %', 42; RAISE WARNING 'compat warning'; END $$")?.notices).toEqual([
      { severity: 'NOTICE', code: '00000', message: 'compat notice 42' },
      { severity: 'WARNING', code: '01000', message: 'compat warning' },
    ]);
  });

  /** Catches: [users] pool_mode=session ignored (SET lost between transactions), md5 login broken. */
  it('node-postgres, user app_md5 in session mode on the reports database: the same transcript', async () => {
    const expected = await legacySession(bouncer.port, cluster.password);
    const actual = await legacySession(mux.port, cluster.password);
    expect(actual).toEqual(expected);
    expect(expected.find((s) => s.sql === 'SHOW search_path')?.rows).toEqual([['pg_catalog']]);
  });

  /** Catches: the "*" line not mapping an unlisted name to the same-named database. */
  it('the "*" fallback and the postgres line reach the databases they name', async () => {
    const expected = await fallbackSessions(bouncer.port, cluster.password);
    expect(await fallbackSessions(mux.port, cluster.password)).toEqual(expected);
    expect(expected.map((s) => s.rows)).toEqual([[['app', 'template1']], [['postgres', 'postgres']]]);
  });

  /**
   * Catches: a wrong SQLSTATE or message for a bad password (SCRAM and md5) or an unknown
   * user, or a refusal that is not FATAL. An intended difference: PgBouncer 1.18 sends every
   * refusal as 08P01 ("SASL authentication failed", "password authentication failed"); pgmux
   * answers as PostgreSQL itself does (28P01 naming the user, issue 3's contract), so clients
   * that branch on 28P01 work. Both sides of the difference are asserted.
   */
  it('refuses bad logins as PostgreSQL does (28P01), where PgBouncer 1.18 says 08P01', async () => {
    const cases: [string, string][] = [
      ['app', 'wrong password'],
      ['app_md5', 'wrong password'],
      ['nosuchuser', cluster.password],
    ];
    for (const [user, password] of cases) {
      const direct = await refusedLogin(cluster.primary.port, user, password, 'app');
      expect(direct).toEqual({ severity: 'FATAL', code: '28P01', message: `password authentication failed for user "${user}"` });
      expect({ user, ...(await refusedLogin(mux.port, user, password, 'app')) }).toEqual({ user, ...direct });
      expect({ user, ...(await refusedLogin(bouncer.port, user, password, 'app')) }).toMatchObject({ user, severity: 'FATAL', code: '08P01' });
    }
  });

  /**
   * Catches: COPY FROM STDIN / TO STDOUT data lost or reordered through the pooler, psql's
   * error and notice output differing (SQLSTATE shown by VERBOSITY verbose), a COPY error
   * leaving the connection unusable.
   */
  it('psql: COPY in and out, errors and notices print the same', async () => {
    const expected = await psqlRun(bouncer.port, cluster.password);
    const actual = await psqlRun(mux.port, cluster.password);
    expect(actual).toEqual(expected);
    expect(expected.stdout).toContain('1,1,row 1\n2,4,row 2\n');
    expect(expected.stdout).toContain('2\tbeta, quoted\n3\t\\N\n');
    expect(expected.stderr).toContain('ERROR:  22012: division by zero');
    expect(expected.stderr).toContain('ERROR:  22P02: invalid input syntax for type integer: "notanumber"\nCONTEXT:  COPY compat_bad, line 2');
    expect(expected.stderr).toContain('NOTICE:  00000: hello from psql');
  });

  /** Catches: the Unix socket in unix_socket_dir missing or refusing psql. */
  it('psql over the Unix socket in unix_socket_dir works on both', async () => {
    const ask = (port: number, dir: string) =>
      psql(['-X', '-At', '-h', dir, '-p', String(port), '-U', 'app', '-d', 'app', '-c', 'SELECT current_user, 6 * 7'], {
        PGPASSWORD: cluster.password,
      });
    // Both open the Unix socket just after the TCP port the launchers wait for.
    for (const [port, dir] of [[bouncer.port, socketDirs[0]], [mux.port, socketDirs[1]]] as const) {
      await until(() => accepts({ path: join(dir, `.s.PGSQL.${port}`) }), `the Unix socket in ${dir}`);
    }
    const expected = await ask(bouncer.port, socketDirs[0]);
    expect(expected).toMatchObject({ code: 0, stdout: 'app|42\n' });
    expect(await ask(mux.port, socketDirs[1])).toEqual(expected);
  });

  /** Catches: a logfile or pidfile not written where the ini says (relative to the working dir). */
  it('both write the logfile and pidfile the ini names', async () => {
    for (const dir of [bouncer.dir, mux.dir]) await until(() => existsSync(join(dir, 'pgbouncer.pid')), `the pidfile in ${dir}`);
    const line = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC \[\d+\] (LOG|WARNING|ERROR|DEBUG|NOISE) /;
    for (const [dir, pid] of [[bouncer.dir, bouncer.pid], [mux.dir, mux.pid]] as const) {
      expect(readFileSync(join(dir, 'pgbouncer.pid'), 'utf8').trim()).toBe(String(pid));
      const lines = readFileSync(join(dir, 'pgbouncer.log'), 'utf8').trim().split('\n');
      expect(lines.length).toBeGreaterThan(0);
      for (const l of lines) expect(l).toMatch(line);
      expect(lines.some((l) => / login attempt: db=app user=app tls=no$/.test(l))).toBe(true);
    }
  });
});
