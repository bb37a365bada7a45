// Specs for the [rules] with the clients people use, at their defaults (issue 15): psql, psycopg 3,
// asyncpg and postgres.js each meet a deny rule (the rule's SQLSTATE, the session goes on), a
// statement_timeout rule (PostgreSQL's 57014) and a cache rule: after a write made on PostgreSQL
// itself, past pgmux, a second read still shows the old row, so it came from the cache, in the
// driver's own protocol (simple for psql, unnamed extended for psycopg, named statements with
// binary values for asyncpg and postgres.js).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import postgres from 'postgres';
import { startCluster, type Cluster } from '../support/cluster';
import { startPgmux, type PgmuxProcess } from '../support/pgmux';
import { freePort } from '../support/ports';
import { psql } from '../support/clients';
import { run } from '../support/child';
import { until } from '../routing/support';
import { admin, rulesIni, userlist, type RulesSetup } from './support';

const PYTHON = '/usr/bin/python3';

let cluster: Cluster;
let pgmux: PgmuxProcess;
let setup: RulesSetup;
let direct: Client;
let dir: string;

const RULES =
  "no_secret = regex='secret_table' deny=yes sqlstate=42501 message='secret_table is off limits'\n" +
  "slow = regex='/\\* slow \\*/' statement_timeout=300ms\n" +
  "hot = regex='FROM items' cache_ttl=60s\n";

/** Each driver reads its own row, so one driver's cached answer never stands in for another's. */
const ROWS: Record<string, number> = { psql: 1, psycopg: 2, asyncpg: 3, postgresjs: 4 };

const PY_COMMON = `
import json, os
env = os.environ
port, user, password = int(env['PGMUX_PORT']), env['PGMUX_USER'], env['PGMUX_PASSWORD']
pg_port, pg_password = int(env['PG_PORT']), env['PG_PASSWORD']
row = int(env['ROW'])
write_past = "UPDATE items SET v = 'changed past pgmux' WHERE id = %d" % row
out = {}
`;

const PSYCOPG = `${PY_COMMON}
import psycopg
conn = psycopg.connect(host='127.0.0.1', port=port, user=user, password=password, dbname='plain', autocommit=True)
past = psycopg.connect(host='127.0.0.1', port=pg_port, user='postgres', password=pg_password, dbname='app', autocommit=True)
try:
    conn.execute('SELECT * FROM secret_table')
except psycopg.Error as e:
    out['deny'] = e.sqlstate
try:
    conn.execute('/* slow */ SELECT pg_sleep(3)')
except psycopg.Error as e:
    out['timeout'] = e.sqlstate
out['first'] = conn.execute('SELECT v FROM items WHERE id = %s', (row,)).fetchone()[0]
past.execute(write_past)
out['second'] = conn.execute('SELECT v FROM items WHERE id = %s', (row,)).fetchone()[0]
out['after'] = conn.execute('SELECT 1').fetchone()[0]
print(json.dumps(out))
`;

const ASYNCPG = `${PY_COMMON}
import asyncio, asyncpg
async def main():
    conn = await asyncpg.connect(host='127.0.0.1', port=port, user=user, password=password, database='plain')
    past = await asyncpg.connect(host='127.0.0.1', port=pg_port, user='postgres', password=pg_password, database='app')
    try:
        await conn.fetch('SELECT * FROM secret_table')
    except asyncpg.PostgresError as e:
        out['deny'] = e.sqlstate
    try:
        await conn.fetch('/* slow */ SELECT pg_sleep(3)')
    except asyncpg.PostgresError as e:
        out['timeout'] = e.sqlstate
    # asyncpg prepares the statement once (named; Parse, Describe, Flush), then runs
    # Bind/Execute(limit 1)/Sync. The first run still holds the server its Flush linked, so it
    # is not admitted afresh and fills nothing; the second is, and is kept; the third is served.
    await conn.fetchval('SELECT v FROM items WHERE id = $1', row)
    out['first'] = await conn.fetchval('SELECT v FROM items WHERE id = $1', row)
    await past.execute(write_past)
    out['second'] = await conn.fetchval('SELECT v FROM items WHERE id = $1', row)
    out['after'] = await conn.fetchval('SELECT 1')
    await conn.close()
    await past.close()
    print(json.dumps(out))
asyncio.run(main())
`;

/** Runs a Python driver script; it prints its findings as one line of JSON. */
async function python(name: string, code: string, row: number): Promise<Record<string, unknown>> {
  // Not `${name}.py`: a script named psycopg.py would be imported as the psycopg module itself.
  const file = join(dir, `drive_${name}.py`);
  writeFileSync(file, code);
  const env = {
    PGMUX_PORT: String(pgmux.port),
    PGMUX_USER: 'app',
    PGMUX_PASSWORD: cluster.password,
    PG_PORT: String(cluster.primary.port),
    PG_PASSWORD: cluster.password,
    ROW: String(row),
  };
  const r = await run(PYTHON, [file], { env: { ...process.env, ...env } });
  if (r.code !== 0) throw new Error(`${name} failed (${r.code}):\n${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
}

beforeAll(async () => {
  cluster = await startCluster();
  await cluster.query(
    cluster.primary,
    "CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 10) g; " +
      'CREATE TABLE secret_table (id int); GRANT ALL ON items, secret_table TO app',
  );
  direct = new Client({ host: cluster.primary.host, port: cluster.primary.port, user: 'postgres', password: cluster.password, database: 'app' });
  await direct.connect();
  setup = { cluster, port: await freePort(), settings: 'result_cache_size = 1048576\n' };
  pgmux = await startPgmux(rulesIni(setup, RULES), userlist(cluster));
  dir = mkdtempSync(join(tmpdir(), 'pgmux-rules-drivers-'));
  const c = new Client({ host: '127.0.0.1', port: setup.port, user: 'app', password: cluster.password, database: 'plain' });
  await c.connect();
  await until('the cache catalog', async () => {
    await c.query('SELECT v FROM items WHERE id = 10');
    return Number((await admin(pgmux, setup, 'SHOW CACHE')).find((r) => r.database === 'plain')?.stores ?? 0) > 0;
  });
  await c.end();
}, 60000);

afterAll(async () => {
  await direct?.end().catch(() => undefined);
  await pgmux?.stop();
  await cluster?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** Changes the driver's row on PostgreSQL itself: a fresh read shows it, a cached one does not. */
const writePast = (row: number): Promise<unknown> => direct.query(`UPDATE items SET v = 'changed past pgmux' WHERE id = ${row}`);

describe('rules with real drivers', () => {
  it('psql: deny, statement_timeout and a cached read', async () => {
    const args = ['-h', '127.0.0.1', '-p', String(pgmux.port), '-U', 'app', '-d', 'plain', '-X', '-q', '-t', '-A', '-v', 'VERBOSITY=verbose'];
    const env = { PGPASSWORD: cluster.password };
    const denied = await psql([...args, '-c', 'SELECT * FROM secret_table', '-c', 'SELECT 7'], env);
    expect(denied.stderr).toContain('ERROR:  42501: secret_table is off limits');
    expect(denied.stdout.trim()).toBe('7');
    const slow = await psql([...args, '-c', '/* slow */ SELECT pg_sleep(3)'], env);
    expect(slow.stderr).toContain('ERROR:  57014: canceling statement due to statement timeout');
    const sql = `SELECT v FROM items WHERE id = ${ROWS.psql}`;
    expect((await psql([...args, '-c', sql], env)).stdout.trim()).toBe('v1');
    await writePast(ROWS.psql);
    expect((await psql([...args, '-c', sql], env)).stdout.trim()).toBe('v1');
  });

  it('psycopg 3 (unnamed extended protocol): deny, statement_timeout and a cached read', async () => {
    expect(await python('psycopg', PSYCOPG, ROWS.psycopg)).toEqual({ deny: '42501', timeout: '57014', first: 'v2', second: 'v2', after: 1 });
  });

  it('asyncpg (named statements, binary, fetchval with a row limit of 1): deny, statement_timeout and a cached read', async () => {
    expect(await python('asyncpg', ASYNCPG, ROWS.asyncpg)).toEqual({ deny: '42501', timeout: '57014', first: 'v3', second: 'v3', after: 1 });
  });

  it('postgres.js (named statements, pipelined): deny, statement_timeout and a cached read', async () => {
    const sql = postgres({ host: '127.0.0.1', port: pgmux.port, user: 'app', pass: cluster.password, database: 'plain', max: 1, onnotice: () => undefined });
    try {
      await expect(sql`SELECT * FROM secret_table`).rejects.toMatchObject({ code: '42501', message: 'secret_table is off limits' });
      await expect(sql.unsafe('/* slow */ SELECT pg_sleep(3)')).rejects.toMatchObject({ code: '57014' });
      const row = ROWS.postgresjs;
      await sql`SELECT v FROM items WHERE id = ${row}`;
      expect((await sql`SELECT v FROM items WHERE id = ${row}`)[0].v).toBe('v4');
      await writePast(row);
      expect((await sql`SELECT v FROM items WHERE id = ${row}`)[0].v).toBe('v4');
      expect((await sql`SELECT 1 AS one`)[0].one).toBe(1);
    } finally {
      await sql.end();
    }
  });
});

