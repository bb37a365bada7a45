// Black-box spec of a prepared statement whose table changed (DDL) and that pgmux then prepares
// again on a server that lacked it (found by the "hostile" round: asyncpg through pgmux got
// "ProtocolError: the number of columns in the result row (3) is different from what was
// described (2)" on every later try of that statement on that connection).
//
// Against PostgreSQL itself the old statement fails with 0A000 "cached plan must not change
// result type", which drivers heal by preparing it again. pgmux's fresh copy on another server
// raises no error: it returns the new columns, which a driver that decodes rows by the columns it
// was told (asyncpg, pgJDBC) misreads. So pgmux checks what the fresh copy returns before any row
// can reach the client and, when nothing in the request tells the client the new columns, ends
// the session with that 0A000; a driver that describes each execution (libpq, psycopg) is told
// the new columns and goes on.
//
// Each script moves its statement between the pool's two servers with a Swapper (./support): it
// runs the statement on one, changes the table, asks for a swap, and runs it on the other.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { escapeLiteral } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { makeTempDir, removeTempDir } from '../support/osuser';
import { runScript, startFront, Swapper, type Front } from './support';

jest.setTimeout(60000);

const PYTHON = '/usr/bin/python3';
const USER = 'shape_user';

let cluster: Cluster;
let front: Front;
let dir: string;

beforeAll(async () => {
  cluster = await startCluster();
  await cluster.query(cluster.primary, `CREATE ROLE ${USER} LOGIN PASSWORD ${escapeLiteral(cluster.password)}; GRANT app TO ${USER}; GRANT CREATE ON SCHEMA public TO ${USER}`, 'postgres', 'app');
  front = await startFront(cluster, [USER]);
  dir = makeTempDir('pgmux-columns-');
});

afterAll(async () => {
  await front?.stop();
  if (dir !== undefined) removeTempDir(dir);
  await cluster?.stop();
});

/** Runs `script` with a Swapper between its rounds; returns the JSON lines it printed. */
async function drive(name: string, script: string, table: string): Promise<Record<string, unknown>[]> {
  const path = join(dir, `${name}.py`);
  writeFileSync(path, script);
  const swapper = await Swapper.start(front, USER);
  try {
    const swapPort = await swapper.listen();
    const env = { PGMUX_PORT: String(front.port), PGMUX_USER: USER, PGMUX_PASSWORD: cluster.password, SWAP_PORT: String(swapPort), TABLE: table };
    const r = await runScript(name, PYTHON, [path], env);
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

describe('a prepared statement whose columns changed, prepared again by pgmux on another server', () => {
  it('asyncpg (default statement cache) has its connection ended with FATAL 0A000 "cached plan must not change result type" (its driver reports the close) instead of rows with columns it was not told, and a new connection reads the new columns (catches: rows of the new shape decoded by the old columns, failing that connection for good)', async () => {
    const r = await drive('asyncpg_columns', ASYNCPG, 'shape_asyncpg');
    expect(r).toEqual([
      { step: 'before', rows: [[['a', 1]]] },
      // asyncpg reads the FATAL, then the close, and reports the close.
      { step: 'moved', error: '08003', message: 'connection was closed in the middle of operation', closed: true },
      { step: 'reconnected', rows: [[['a', 1], ['b', 7]]] },
    ]);
    expect(front.pgmux.logs()).toMatch(/pooler error: cached plan must not change result type/);
  });

  it('psycopg (prepare_threshold=0: libpq describes the portal on each execution) is told the new columns and reads them, no error (catches: a session ended although the client was told the new columns)', async () => {
    const r = await drive('psycopg_columns', PSYCOPG, 'shape_psycopg');
    expect(r).toEqual([
      { step: 'before', columns: ['a'], rows: [[1]] },
      { step: 'moved', columns: ['a', 'b'], rows: [[1, 7]] },
    ]);
  });
});
