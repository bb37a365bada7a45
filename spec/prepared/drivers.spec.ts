// Black-box spec of prepared statements in transaction mode with real drivers (issue 4,
// "Evidence"): psycopg 3 (prepare_threshold=0), asyncpg (its default statement cache), pgJDBC
// (prepareThreshold=1), psql with SQL-level PREPARE/EXECUTE, and pgbench -M prepared, each
// through pgmux with default_pool_size=2.
//
// Each driver runs as a child process from a small script written to a temp dir. Its statements
// are made to move between the pool's two servers by a Swapper (support.ts): between rounds the
// script asks over TCP, and a holder client in this process sits in BEGIN on the server the
// script just used, so its next round can only get the other one, which lacks the statement.
//
// Proof from the server side: PostgreSQL logs every Parse of these roles with its backend PID,
// so each statement must show up parsed on both backends although the driver parsed it once
// (the driver only Binds it again), with no "does not exist" error anywhere. And the same
// script through a pgmux with max_prepared_statements=0 (pass-through, as PgBouncer 1.18)
// fails in the second round with 26000: the driver does not heal this by itself, pgmux does.

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { escapeLiteral } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { pgbench, psql } from '../support/clients';
import { makeTempDir, removeTempDir } from '../support/osuser';
import { createLoggedRoles, eventsWith, logged, pidsOf, runScript, serverEvents, startFront, Swapper, waitFor, type Front, type LogEvent } from './support';

jest.setTimeout(60000);

const ROLES = ['d_psycopg', 'd_asyncpg', 'd_jdbc', 'd_psql', 'd_bench'];
/** A role whose statements the server does not log (its errors it does): the eviction spec runs hundreds. */
const QUIET_ROLE = 'd_evict';
const PYTHON = '/usr/bin/python3';
const JDBC_JAR = '/usr/share/java/postgresql.jar';
const ROUNDS = 3;

let cluster: Cluster;
let tracked: Front;
let untracked: Front;
let dir: string;

beforeAll(async () => {
  cluster = await startCluster();
  await createLoggedRoles(cluster, ROLES);
  // pgJDBC sends extra_float_digits at startup: PgBouncer users list it here too.
  const settings = { ignore_startup_parameters: 'extra_float_digits' };
  await cluster.query(cluster.primary, `CREATE ROLE ${QUIET_ROLE} LOGIN PASSWORD ${escapeLiteral(cluster.password)}; GRANT app TO ${QUIET_ROLE}`, 'postgres', 'postgres');
  tracked = await startFront(cluster, [...ROLES, QUIET_ROLE], settings);
  untracked = await startFront(cluster, ROLES, { ...settings, max_prepared_statements: 0 });
  dir = makeTempDir('pgmux-drivers-');
});

afterAll(async () => {
  await tracked?.stop();
  await untracked?.stop();
  if (dir !== undefined) removeTempDir(dir);
  await cluster?.stop();
});

/**
 * The SQL connection `i` of a script prepares: a different statement per connection, so that
 * drivers which number their statements per connection (S_1, _pg3_0, __asyncpg_stmt_1__) use
 * the same name for different SQL on the two connections.
 */
function statementText(tag: string, i: number, param: string): string {
  return `SELECT '${tag}-${i}' AS v, pg_backend_pid() AS pid, ${param}::int + ${i * 100} AS n`;
}

interface Round {
  round: number;
  conn: number;
  v?: string;
  pid?: number;
  n?: number;
  error?: string;
  message?: string;
}

/** Env every script reads. */
function scriptEnv(front: Front, swapPort: number, user: string, tag: string, conns: number): NodeJS.ProcessEnv {
  return {
    PGMUX_PORT: String(front.port),
    SWAP_PORT: String(swapPort),
    PGMUX_USER: user,
    PGMUX_PASSWORD: cluster.password,
    TAG: tag,
    CONNS: String(conns),
    ROUNDS: String(ROUNDS),
  };
}

/** Runs a script against `front` with a swapper between rounds; returns its rounds and the new log events. */
async function drive(
  front: Front,
  user: string,
  tag: string,
  conns: number,
  run: (env: NodeJS.ProcessEnv) => Promise<{ code: number | null; output: string; records: Record<string, unknown>[] }>,
): Promise<{ rounds: Round[]; pids: number[]; mark: number; events: LogEvent[]; output: string }> {
  const swapper = await Swapper.start(front, user);
  const mark = serverEvents(cluster).length;
  try {
    const port = await swapper.listen();
    const result = await run(scriptEnv(front, port, user, tag, conns));
    if (result.code !== 0) throw new Error(`script failed (exit ${result.code}):\n${result.output}`);
    return { rounds: result.records as unknown as Round[], pids: swapper.pids, mark, events: serverEvents(cluster).slice(mark), output: result.output };
  } finally {
    await swapper.stop();
  }
}

/**
 * The tracked run: every round of every connection got its own statement's row, round r ran on
 * the server the swapper left free, and each statement was parsed on both servers.
 */
async function expectMovedAndReprepared(r: { rounds: Round[]; pids: number[]; mark: number }, tag: string, conns: number): Promise<void> {
  expect(r.rounds).toHaveLength(ROUNDS * conns);
  const [held, other] = r.pids;
  for (const row of r.rounds) {
    expect({ ...row, pid: undefined }).toEqual({ round: row.round, conn: row.conn, v: `${tag}-${row.conn}`, n: row.round + row.conn * 100, pid: undefined });
    // Round 0 runs beside the first holder, then the swaps alternate.
    expect(row.pid).toBe(row.round % 2 === 0 ? other : held);
  }
  for (let i = 0; i < conns; i++) {
    const parses = (await logged(cluster, `'${tag}-${i}'`, 'parse', 2)).filter((e) => e.name.startsWith('pgmux_'));
    // One server-side name per statement, prepared on both backends.
    expect(new Set(parses.map((e) => e.name)).size).toBe(1);
    expect(pidsOf(parses)).toEqual([held, other].sort((a, b) => a - b));
  }
  // Read after the waits above, so that the log has caught up with the script.
  const errors = serverEvents(cluster)
    .slice(r.mark)
    .filter((e) => e.kind === 'error');
  expect(errors).toEqual([]);
}

/** The pass-through run: the second round (the other server) fails with PostgreSQL's 26000. */
function expectBrokenWithoutTracking(r: { rounds: Round[] }, name: RegExp): void {
  const [first, second] = r.rounds;
  expect(first).toMatchObject({ round: 0, conn: 0 });
  expect(first.error).toBeUndefined();
  expect(second).toMatchObject({ round: 1, conn: 0, error: '26000' });
  expect(second.message).toMatch(name);
}

const PSYCOPG = `
import json, os, socket
import psycopg

env = os.environ
def swap():
    s = socket.create_connection(('127.0.0.1', int(env['SWAP_PORT'])))
    s.recv(1)
    s.close()

# autocommit: psycopg would otherwise hold a transaction (and so one server) across rounds.
conns = [psycopg.connect(host='127.0.0.1', port=int(env['PGMUX_PORT']), user=env['PGMUX_USER'],
                         password=env['PGMUX_PASSWORD'], dbname='app', autocommit=True, prepare_threshold=0)
         for _ in range(int(env['CONNS']))]
sqls = ["SELECT '%s-%d' AS v, pg_backend_pid() AS pid, %%s::int + %d AS n" % (env['TAG'], i, i * 100) for i in range(len(conns))]
rounds = int(env['ROUNDS'])
for r in range(rounds):
    for i, c in enumerate(conns):
        try:
            row = c.execute(sqls[i], (r,), prepare=True).fetchone()
            out = {'round': r, 'conn': i, 'v': row[0], 'pid': row[1], 'n': row[2]}
        except psycopg.Error as e:
            out = {'round': r, 'conn': i, 'error': e.sqlstate, 'message': str(e)}
        print(json.dumps(out), flush=True)
    if r < rounds - 1:
        swap()
`;

const ASYNCPG = `
import asyncio, json, os, socket
import asyncpg

env = os.environ
def swap():
    s = socket.create_connection(('127.0.0.1', int(env['SWAP_PORT'])))
    s.recv(1)
    s.close()

async def main():
    conns = [await asyncpg.connect(host='127.0.0.1', port=int(env['PGMUX_PORT']), user=env['PGMUX_USER'],
                                   password=env['PGMUX_PASSWORD'], database='app')
             for _ in range(int(env['CONNS']))]
    sqls = ["SELECT '%s-%d' AS v, pg_backend_pid() AS pid, $1::int + %d AS n" % (env['TAG'], i, i * 100) for i in range(len(conns))]
    rounds = int(env['ROUNDS'])
    for r in range(rounds):
        for i, c in enumerate(conns):
            try:
                # The default statement cache: a named statement, prepared once per connection,
                # parameters and results in binary.
                row = await c.fetchrow(sqls[i], r)
                out = {'round': r, 'conn': i, 'v': row['v'], 'pid': row['pid'], 'n': row['n']}
            except asyncpg.PostgresError as e:
                out = {'round': r, 'conn': i, 'error': e.sqlstate, 'message': str(e)}
            print(json.dumps(out), flush=True)
        if r < rounds - 1:
            swap()
    for c in conns:
        await c.close()

asyncio.run(main())
`;

const JAVA = `
import java.io.InputStream;
import java.net.Socket;
import java.sql.*;

public class Drive {
    static String q(String s) { return '"' + s.replace("\\\\", "\\\\\\\\").replace("\\"", "\\\\\\"") + '"'; }

    public static void main(String[] args) throws Exception {
        java.util.Map<String, String> env = System.getenv();
        int conns = Integer.parseInt(env.get("CONNS"));
        int rounds = Integer.parseInt(env.get("ROUNDS"));
        String url = "jdbc:postgresql://127.0.0.1:" + env.get("PGMUX_PORT") + "/app?prepareThreshold=1";
        Connection[] cs = new Connection[conns];
        PreparedStatement[] ps = new PreparedStatement[conns];
        for (int i = 0; i < conns; i++) {
            cs[i] = DriverManager.getConnection(url, env.get("PGMUX_USER"), env.get("PGMUX_PASSWORD"));
            ps[i] = cs[i].prepareStatement("SELECT '" + env.get("TAG") + "-" + i + "' AS v, pg_backend_pid() AS pid, ?::int + " + (i * 100) + " AS n");
            // Metadata before the first execution: a Describe-only round trip.
            ResultSetMetaData md = ps[i].getMetaData();
            System.out.println("{\\"describe\\": " + i + ", \\"columns\\": " + md.getColumnCount() + ", \\"first\\": " + q(md.getColumnName(1)) + "}");
        }
        for (int r = 0; r < rounds; r++) {
            for (int i = 0; i < conns; i++) {
                String out;
                try {
                    ps[i].setInt(1, r);
                    try (ResultSet rs = ps[i].executeQuery()) {
                        rs.next();
                        out = "{\\"round\\": " + r + ", \\"conn\\": " + i + ", \\"v\\": " + q(rs.getString(1)) + ", \\"pid\\": " + rs.getInt(2) + ", \\"n\\": " + rs.getInt(3) + "}";
                    }
                } catch (SQLException e) {
                    out = "{\\"round\\": " + r + ", \\"conn\\": " + i + ", \\"error\\": " + q(e.getSQLState()) + ", \\"message\\": " + q(e.getMessage()) + "}";
                }
                System.out.println(out);
            }
            if (r < rounds - 1) {
                try (Socket s = new Socket("127.0.0.1", Integer.parseInt(env.get("SWAP_PORT")))) {
                    InputStream in = s.getInputStream();
                    in.read();
                }
            }
        }
        for (Connection c : cs) c.close();
    }
}
`;

describe('psycopg 3 with prepare_threshold=0', () => {
  let script: string;
  beforeAll(() => {
    script = join(dir, 'psycopg_drive.py');
    writeFileSync(script, PSYCOPG);
  });

  it('two connections whose statements share the name _pg3_0 each get their own rows on both servers, each prepared again by pgmux on the second (catches: statements not re-prepared, or shared by client name)', async () => {
    const tag = 'psycopg_two';
    const r = await drive(tracked, 'd_psycopg', tag, 2, (env) => runScript('psycopg', PYTHON, [script], env));
    await expectMovedAndReprepared(r, tag, 2);
  });

  it('through pass-through (max_prepared_statements=0) the second round fails with 26000, as with PgBouncer 1.18 (catches: a spec that would pass without the feature)', async () => {
    const r = await drive(untracked, 'd_psycopg', 'psycopg_off', 1, (env) => runScript('psycopg', PYTHON, [script], env));
    expectBrokenWithoutTracking(r, /prepared statement "_pg3_0" does not exist/);
  });
});

const PSYCOPG_EVICT = `
import json, os, threading
import psycopg

env = os.environ
clients, queries, rounds = int(env['CLIENTS']), int(env['QUERIES']), int(env['ROUNDS'])
lock = threading.Lock()

def drive(c):
    # Odd clients run each query in a transaction of its own (psycopg sends BEGIN first), so its
    # DEALLOCATE of the oldest statement runs inside it; even ones in autocommit.
    conn = psycopg.connect(host='127.0.0.1', port=int(env['PGMUX_PORT']), user=env['PGMUX_USER'],
                           password=env['PGMUX_PASSWORD'], dbname='app', autocommit=(c % 2 == 0),
                           prepare_threshold=0)
    conn.prepared_max = 2
    for r in range(rounds):
        for q in range(queries):
            sql = "SELECT %%s::int AS client, %%s::int AS round, '%s-q%d' AS q" % (env['TAG'], q)
            try:
                row = conn.execute(sql, (c, r)).fetchone()
                if not conn.autocommit:
                    conn.commit()
                out = {'client': c, 'round': r, 'query': q, 'row': list(row)}
            except psycopg.Error as e:
                if not conn.autocommit:
                    conn.rollback()
                out = {'client': c, 'round': r, 'query': q, 'error': e.sqlstate, 'message': str(e)}
            with lock:
                print(json.dumps(out), flush=True)
    conn.close()

threads = [threading.Thread(target=drive, args=(c,)) for c in range(clients)]
for t in threads:
    t.start()
for t in threads:
    t.join()
`;

describe('psycopg 3 evicting from its statement cache (prepared_max)', () => {
  // psycopg keeps prepared_max statements per connection and evicts the oldest with SQL
  // DEALLOCATE _pg3_N, in an unnamed statement, where _pg3_N was made by a protocol-level Parse.
  it('6 clients each cycling 6 queries with prepared_max=2 on a pool of 2 get every row, each their own, with no error (catches: DEALLOCATE of a Parse-created name failing with 26000)', async () => {
    const script = join(dir, 'psycopg_evict.py');
    writeFileSync(script, PSYCOPG_EVICT);
    const tag = 'psycopg_evict';
    const [clients, queries, rounds] = [6, 6, 4];
    const mark = serverEvents(cluster).length;
    const env = { PGMUX_PORT: String(tracked.port), PGMUX_USER: QUIET_ROLE, PGMUX_PASSWORD: cluster.password, TAG: tag, CLIENTS: String(clients), QUERIES: String(queries), ROUNDS: String(rounds) };
    const r = await runScript('psycopg evict', PYTHON, [script], env);
    expect(r.code).toBe(0);
    expect(r.records).toHaveLength(clients * queries * rounds);
    for (const rec of r.records) expect(rec).toEqual({ client: rec.client, round: rec.round, query: rec.query, row: [rec.client, rec.round, `${tag}-q${String(rec.query)}`] });
    // The server logs every error, whoever's: none (no DEALLOCATE of a name it never had).
    expect(serverEvents(cluster).slice(mark).filter((e) => e.kind === 'error')).toEqual([]);
  });
});

describe('asyncpg with its default statement cache', () => {
  let script: string;
  beforeAll(() => {
    script = join(dir, 'asyncpg_drive.py');
    writeFileSync(script, ASYNCPG);
  });

  it('two connections (binary parameters and results, names __asyncpg_stmt_N__ from each connection) get their own rows on both servers, re-prepared by pgmux (catches: injection broken for Parse+Describe flows or binary formats)', async () => {
    const tag = 'asyncpg_two';
    const r = await drive(tracked, 'd_asyncpg', tag, 2, (env) => runScript('asyncpg', PYTHON, [script], env));
    await expectMovedAndReprepared(r, tag, 2);
  });

  it('through pass-through the second round fails with 26000 (catches: a spec that asyncpg would pass by re-preparing on its own)', async () => {
    const r = await drive(untracked, 'd_asyncpg', 'asyncpg_off', 1, (env) => runScript('asyncpg', PYTHON, [script], env));
    expectBrokenWithoutTracking(r, /prepared statement "__asyncpg_stmt_\w+__" does not exist/);
  });
});

describe('pgJDBC with prepareThreshold=1', () => {
  let classes: string;
  beforeAll(() => {
    classes = join(dir, 'jdbc');
    const source = join(dir, 'Drive.java');
    writeFileSync(source, JAVA);
    // Compiled once; both runs then start a JVM on the class.
    execFileSync('javac', ['-d', classes, source], { stdio: 'pipe' });
  });

  const java = (env: NodeJS.ProcessEnv) => runScript('pgJDBC', 'java', ['-cp', `${classes}:${JDBC_JAR}`, 'Drive'], env);

  it('two connections (both naming their statement S_1; metadata read first) get their own rows on both servers, re-prepared by pgmux with no error for pgJDBC to heal (catches: injection broken, or statements shared by client name)', async () => {
    const tag = 'jdbc_two';
    const r = await drive(tracked, 'd_jdbc', tag, 2, java);
    const describes = r.rounds.filter((x) => 'describe' in x);
    expect(describes).toEqual([
      { describe: 0, columns: 3, first: 'v' },
      { describe: 1, columns: 3, first: 'v' },
    ]);
    await expectMovedAndReprepared({ ...r, rounds: r.rounds.filter((x) => !('describe' in x)) }, tag, 2);
  });

  it('through pass-through the server answers the second round with 26000 for S_1, which pgJDBC heals by preparing S_2 itself (catches: a spec that would pass without the feature)', async () => {
    const r = await drive(untracked, 'd_jdbc', 'jdbc_off', 1, java);
    // pgJDBC retries a statement the server says does not exist; the server log shows the break.
    const [held, other] = r.pids;
    expect(r.events.filter((e) => e.kind === 'error')).toEqual([{ pid: held, kind: 'error', name: '', text: 'prepared statement "S_1" does not exist' }, { pid: other, kind: 'error', name: '', text: 'prepared statement "S_2" does not exist' }]);
  });
});

describe('psql with SQL-level PREPARE / EXECUTE / DEALLOCATE', () => {
  /** psql runs the script; between EXECUTEs `\!` asks for a swap and waits for it. */
  function psqlScript(tag: string, swapPort: number): string {
    const swap = `\\! ${PYTHON} -c "import socket; socket.create_connection(('127.0.0.1', ${swapPort})).recv(1)"`;
    return [
      `PREPARE foo (int) AS ${statementText(tag, 0, '$1')};`,
      'EXECUTE foo(0);',
      swap,
      'EXECUTE foo(1);',
      swap,
      'EXECUTE foo(2);',
      'DEALLOCATE foo;',
      'EXECUTE foo(3);',
      '',
    ].join('\n');
  }

  async function runPsql(front: Front, tag: string): Promise<{ rows: string[][]; stderr: string; pids: number[]; events: LogEvent[] }> {
    const swapper = await Swapper.start(front, 'd_psql');
    const mark = serverEvents(cluster).length;
    try {
      const port = await swapper.listen();
      const r = await psql(
        ['-X', '-q', '-A', '-t', '-F', ',', '-h', '127.0.0.1', '-p', String(front.port), '-U', 'd_psql', '-d', 'app', '-f', '-'],
        { PGPASSWORD: cluster.password },
        psqlScript(tag, port),
      );
      const rows = r.stdout
        .split('\n')
        .filter((l) => l.includes(tag))
        .map((l) => l.split(','));
      return { rows, stderr: r.stderr, pids: swapper.pids, events: serverEvents(cluster).slice(mark) };
    } finally {
      await swapper.stop();
    }
  }

  it('EXECUTE after the statement moved to the other server runs it there (pgmux PREPAREs it first), and after DEALLOCATE gets 26000 (catches: SQL PREPARE forwarded raw, as PgBouncer does)', async () => {
    const tag = 'psql_on';
    const r = await runPsql(tracked, tag);
    const [held, other] = r.pids;
    expect(r.rows).toEqual([
      [`${tag}-0`, String(other), '0'],
      [`${tag}-0`, String(held), '1'],
      [`${tag}-0`, String(other), '2'],
    ]);
    expect(r.stderr).toContain('ERROR:  prepared statement "foo" does not exist');
    expect(r.stderr.match(/ERROR/g)).toHaveLength(1);
    // Server side: pgmux's PREPARE of the statement ran on both backends, under its own name.
    const prepares = (await logged(cluster, `'${tag}-0'`, 'statement', 2)).filter((e) => /^PREPARE pgmux_\w+ \(int\) AS /.test(e.text));
    expect(pidsOf(prepares)).toEqual([held, other].sort((a, b) => a - b));
    expect(eventsWith(cluster, 'PREPARE foo')).toEqual([]);
  });

  it('through pass-through the EXECUTE on the other server fails with 26000 (catches: a spec that would pass without the feature)', async () => {
    const tag = 'psql_off';
    const r = await runPsql(untracked, tag);
    expect(r.rows).toHaveLength(2);
    expect(r.stderr).toContain('ERROR:  prepared statement "foo" does not exist');
    expect(r.stderr.match(/ERROR/g)).toHaveLength(2);
  });
});

describe('pgbench -M prepared', () => {
  /** pgmux whose queued clients give up after 10 s, so that a deadlock shows as aborted clients, not a hung spec. */
  let impatient: Front;
  beforeAll(async () => {
    const r = await pgbench(['-i', '-s', '1', '-q', '-h', cluster.primary.host, '-p', String(cluster.primary.port), '-U', 'postgres', 'app'], {
      PGPASSWORD: cluster.password,
    });
    if (r.code !== 0) throw new Error(`pgbench -i failed: ${r.stderr}`);
    await cluster.query(cluster.primary, 'GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO d_bench', 'postgres', 'app');
    impatient = await startFront(cluster, ROLES, { query_wait_timeout: 10 });
  });
  afterAll(() => impatient?.stop());

  const bench = (front: Front, args: string[]) =>
    pgbench(['-M', 'prepared', '-n', ...args, '-h', '127.0.0.1', '-p', String(front.port), '-U', 'd_bench', 'app'], { PGPASSWORD: cluster.password });

  it('8 clients on 2 servers run select-only without an aborted client, the statement prepared on both servers (catches: pgbench -M prepared aborting every client, as through PgBouncer 1.18)', async () => {
    const mark = serverEvents(cluster).length;
    const r = await bench(tracked, ['-S', '-c', '8', '-j', '8', '-t', '50']);
    expect(r.stderr).not.toMatch(/aborted|error/i);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('number of transactions actually processed: 400/400');
    const parses = await waitFor('both backends to log a parse of the pgbench statement', () => {
      const p = serverEvents(cluster)
        .slice(mark)
        .filter((e) => e.kind === 'parse' && e.text.includes('pgbench_accounts'));
      return pidsOf(p).length === 2 ? p : undefined;
    });
    // One server-side name, prepared once per backend: 8 clients' Parses of it were answered
    // by pgmux wherever it knew the statement already.
    expect(new Set(parses.map((e) => e.name)).size).toBe(1);
    expect(parses).toHaveLength(2);
  });

  // pgbench prepares synchronously (Parse, Sync, wait) the first time each connection reaches a
  // command. With 5 connections per thread on 2 servers, the other connections of the thread hold
  // both servers in the middle of a transaction, and the thread waits for a server that only it
  // could give back: without pgmux answering the Parse itself, every such client waits until
  // query_wait_timeout aborts it (PgBouncer 1.25 deadlocks the same way).
  it('tpcb-like with 10 clients on 2 threads and 2 servers finishes with no aborted client, each statement parsed by a server at most once per backend (catches: the prepare-while-others-hold-the-pool deadlock)', async () => {
    const mark = serverEvents(cluster).length;
    const r = await bench(impatient, ['-c', '10', '-j', '2', '-t', '30']);
    expect(r.stderr).not.toMatch(/aborted|error/i);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('number of transactions actually processed: 300/300');
    // Five statements touch those tables, each parsed by a server at most once per backend (the
    // first client's Parse, or pgmux's ahead of a Bind), never once per client.
    const perText = await waitFor('the server log to show the five pgbench statements parsed', () => {
      const counts = new Map<string, number>();
      for (const e of serverEvents(cluster).slice(mark)) {
        if (e.kind === 'parse' && /pgbench_(accounts|tellers|branches|history)/.test(e.text)) counts.set(e.text, (counts.get(e.text) ?? 0) + 1);
      }
      return counts.size === 5 ? counts : undefined;
    });
    for (const n of perText.values()) expect(n).toBeLessThanOrEqual(2);
  });
});
