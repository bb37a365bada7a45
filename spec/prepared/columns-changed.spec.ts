// Black-box spec of a prepared statement whose table changed (DDL) and that pgmux then prepares
// again on a server that lacked it (found by the "hostile" round: asyncpg through pgmux got
// "ProtocolError: the number of columns in the result row (3) is different from what was
// described (2)" on every later try of that statement on that connection).
//
// Against PostgreSQL itself the old statement fails with 0A000 "cached plan must not change
// result type", which drivers heal by preparing it again, unseen by the application. pgmux's
// fresh copy on another server raised no error: it returned the new columns, which a driver that
// decodes rows by the columns it was told (asyncpg, pgJDBC) misreads. So pgmux checks what the
// fresh copy returns before the Bind goes and, when nothing in the request tells the client the
// new columns, answers with that same 0A000; a driver that describes each execution (libpq,
// psycopg) is told the new columns and goes on.
//
// Each script moves its statement between the pool's two servers with a Swapper (./support): it
// runs the statement on one, changes the table, asks for a swap, and runs it on the other.

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { escapeLiteral } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { makeTempDir, removeTempDir } from '../support/osuser';
import { dataRow, errorFields, fe, RawClient, runScript, startFront, Swapper, types, type Front } from './support';

jest.setTimeout(60000);

const PYTHON = '/usr/bin/python3';
const JDBC_JAR = '/usr/share/java/postgresql.jar';
const USER = 'shape_user';

let cluster: Cluster;
let front: Front;
let dir: string;

beforeAll(async () => {
  cluster = await startCluster();
  await cluster.query(cluster.primary, `CREATE ROLE ${USER} LOGIN PASSWORD ${escapeLiteral(cluster.password)}; GRANT app TO ${USER}; GRANT CREATE ON SCHEMA public TO ${USER}`, 'postgres', 'app');
  // pgJDBC sends extra_float_digits at startup: PgBouncer users list it here too.
  front = await startFront(cluster, [USER], { ignore_startup_parameters: 'extra_float_digits' });
  dir = makeTempDir('pgmux-columns-');
});

afterAll(async () => {
  await front?.stop();
  if (dir !== undefined) removeTempDir(dir);
  await cluster?.stop();
});

/** Runs a script (`python` source, or a command) with a Swapper between its rounds; returns the JSON lines it printed. */
async function drive(name: string, script: string | [string, string[]], table: string): Promise<Record<string, unknown>[]> {
  let command: [string, string[]];
  if (typeof script === 'string') {
    const path = join(dir, `${name}.py`);
    writeFileSync(path, script);
    command = [PYTHON, [path]];
  } else command = script;
  const swapper = await Swapper.start(front, USER);
  try {
    const swapPort = await swapper.listen();
    const env = { PGMUX_PORT: String(front.port), PGMUX_USER: USER, PGMUX_PASSWORD: cluster.password, SWAP_PORT: String(swapPort), TABLE: table };
    const r = await runScript(name, command[0], command[1], env);
    if (r.code !== 0) throw new Error(`${name} failed (exit ${r.code}):\n${r.output}`);
    return r.records;
  } finally {
    await swapper.stop();
  }
}

const COMMON = `
import json, os, socket
env = os.environ
def swap():
    s = socket.create_connection(('127.0.0.1', int(env['SWAP_PORT'])))
    s.recv(1)
    s.close()
def out(**kw):
    print(json.dumps(kw), flush=True)
table = env['TABLE']
sql = 'SELECT * FROM %s' % table
`;

const ASYNCPG = `${COMMON}
import asyncio, asyncpg

async def connect():
    return await asyncpg.connect(host='127.0.0.1', port=int(env['PGMUX_PORT']), user=env['PGMUX_USER'],
                                 password=env['PGMUX_PASSWORD'], database='app')

async def main():
    c = await connect()
    await c.execute('CREATE TABLE %s (a int); INSERT INTO %s VALUES (1)' % (table, table))
    # Default statement cache: prepared (Parse, Describe) once, then Bind/Execute only.
    out(step='before', rows=[list(r.items()) for r in await c.fetch(sql)])
    await c.execute('ALTER TABLE %s ADD COLUMN b int DEFAULT 7' % table)
    swap()
    try:
        out(step='moved', rows=[list(r.items()) for r in await c.fetch(sql)])
    except asyncpg.PostgresError as e:
        out(step='moved', error=e.sqlstate, message=str(e), closed=c.is_closed())
    except Exception as e:
        out(step='moved', driver_error=type(e).__name__, message=str(e))
    if not c.is_closed():
        await c.close()
    c = await connect()
    out(step='reconnected', rows=[list(r.items()) for r in await c.fetch(sql)])
    await c.close()

asyncio.run(main())
`;

const PSYCOPG = `${COMMON}
import psycopg

c = psycopg.connect(host='127.0.0.1', port=int(env['PGMUX_PORT']), user=env['PGMUX_USER'],
                    password=env['PGMUX_PASSWORD'], dbname='app', autocommit=True, prepare_threshold=0)
c.execute('CREATE TABLE %s (a int)' % table)
c.execute('INSERT INTO %s VALUES (1)' % table)
# Prepared at once; libpq runs it as Bind, Describe (of the portal), Execute, Sync.
cur = c.execute(sql, prepare=True)
out(step='before', columns=[d.name for d in cur.description], rows=[list(r) for r in cur.fetchall()])
c.execute('ALTER TABLE %s ADD COLUMN b int DEFAULT 7' % table)
swap()
try:
    cur = c.execute(sql, prepare=True)
    out(step='moved', columns=[d.name for d in cur.description], rows=[list(r) for r in cur.fetchall()])
except psycopg.Error as e:
    out(step='moved', error=e.sqlstate, message=str(e))
c.close()
`;

const JAVA = `
import java.net.Socket;
import java.sql.*;

public class Columns {
    public static void main(String[] args) throws Exception {
        java.util.Map<String, String> env = System.getenv();
        String table = env.get("TABLE");
        String url = "jdbc:postgresql://127.0.0.1:" + env.get("PGMUX_PORT") + "/app?prepareThreshold=1";
        try (Connection c = DriverManager.getConnection(url, env.get("PGMUX_USER"), env.get("PGMUX_PASSWORD"))) {
            Statement s = c.createStatement();
            s.execute("CREATE TABLE " + table + " (a int)");
            s.execute("INSERT INTO " + table + " VALUES (1)");
            PreparedStatement ps = c.prepareStatement("SELECT * FROM " + table);
            for (int i = 0; i < 2; i++) {
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    if (i == 1) System.out.println("{\\"step\\": \\"before\\", \\"columns\\": " + rs.getMetaData().getColumnCount() + ", \\"a\\": \\"" + rs.getString(1) + "\\"}");
                }
            }
            s.execute("ALTER TABLE " + table + " ADD COLUMN b text DEFAULT 'x'");
            try (Socket swap = new Socket("127.0.0.1", Integer.parseInt(env.get("SWAP_PORT")))) {
                swap.getInputStream().read();
            }
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                int n = rs.getMetaData().getColumnCount();
                System.out.println("{\\"step\\": \\"moved\\", \\"columns\\": " + n + ", \\"a\\": \\"" + rs.getString(1) + "\\"" + (n > 1 ? ", \\"b\\": \\"" + rs.getString(2) + "\\"" : "") + "}");
            } catch (SQLException e) {
                System.out.println("{\\"step\\": \\"moved\\", \\"error\\": \\"" + e.getSQLState() + "\\"}");
            }
        }
    }
}
`;

async function driveJava(): Promise<Record<string, unknown>[]> {
  const source = join(dir, 'Columns.java');
  writeFileSync(source, JAVA);
  const classes = join(dir, 'jdbc');
  execFileSync('javac', ['-d', classes, source], { stdio: 'pipe' });
  return drive('jdbc_columns', ['java', ['-cp', `${classes}:${JDBC_JAR}`, 'Columns']], 'shape_jdbc');
}

describe('a prepared statement whose columns changed, prepared again by pgmux on another server', () => {
  it('asyncpg (default statement cache) reads the new columns with no error, healing the 0A000 as against PostgreSQL itself, on the same connection (catches: rows of the new shape decoded by the old columns, failing that connection for good)', async () => {
    const r = await drive('asyncpg_columns', ASYNCPG, 'shape_asyncpg');
    expect(r).toEqual([
      { step: 'before', rows: [[['a', 1]]] },
      { step: 'moved', rows: [[['a', 1], ['b', 7]]] },
      { step: 'reconnected', rows: [[['a', 1], ['b', 7]]] },
    ]);
  });

  it('pgJDBC (prepareThreshold=1: rows read by the columns it described at the first execution) reads the new columns with no error (catches: rows read by stale columns)', async () => {
    const r = await driveJava();
    expect(r).toEqual([
      { step: 'before', columns: 1, a: '1' },
      { step: 'moved', columns: 2, a: '1', b: 'x' },
    ]);
  });

  it('psycopg (prepare_threshold=0: libpq describes the portal on each execution) is told the new columns and reads them, no error (catches: a session ended although the client was told the new columns)', async () => {
    const r = await drive('psycopg_columns', PSYCOPG, 'shape_psycopg');
    expect(r).toEqual([
      { step: 'before', columns: ['a'], rows: [[1]] },
      { step: 'moved', columns: ['a', 'b'], rows: [[1, 7]] },
    ]);
  });

  it('a raw client that described the statement, inside a transaction block, gets ERROR 0A000 with routine RevalidateCachedQuery and ReadyForQuery E, as from PostgreSQL; after ROLLBACK a new Parse reads the new columns (catches: rows of the new columns sent, or the transaction left running)', async () => {
    const swapper = await Swapper.start(front, USER);
    const raw = await RawClient.login(front.port, USER, cluster.password);
    try {
      await raw.roundTrip(fe.query('CREATE TABLE shape_raw (a int); INSERT INTO shape_raw VALUES (1)'));
      const sql = 'SELECT * FROM shape_raw';
      expect(types(await raw.roundTrip(fe.parse('s1', sql), fe.describe('S', 's1'), fe.sync()))).toBe('1 t T Z');
      expect(types(await raw.roundTrip(fe.bind('s1'), fe.execute(), fe.sync()))).toBe('2 D C Z');
      await raw.roundTrip(fe.query('ALTER TABLE shape_raw ADD COLUMN b int DEFAULT 7'));
      await swapper.swap();
      await raw.roundTrip(fe.query('BEGIN'));
      const failed = await raw.roundTrip(fe.bind('s1'), fe.execute(), fe.sync());
      expect(types(failed)).toBe('E Z');
      const e = errorFields(failed[0].body);
      expect({ S: e.S, C: e.C, M: e.M, R: e.R }).toEqual({ S: 'ERROR', C: '0A000', M: 'cached plan must not change result type', R: 'RevalidateCachedQuery' });
      expect(failed[1].body[0]).toBe('E'.charCodeAt(0));
      expect(types(await raw.roundTrip(fe.query('ROLLBACK')))).toBe('C Z');
      const fresh = await raw.roundTrip(fe.parse('s2', sql), fe.describe('S', 's2'), fe.bind('s2'), fe.execute(), fe.sync());
      expect(types(fresh)).toBe('1 t T 2 D C Z');
      expect(dataRow(fresh[4].body)).toEqual(['1', '7']);
    } finally {
      await raw.close().catch(() => undefined);
      await swapper.stop();
    }
  });
});
