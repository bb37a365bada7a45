// Black-box spec of LISTEN/NOTIFY in transaction pooling with the drivers' own listening APIs
// (issue 14): psycopg 3's conn.notifies() after a LISTEN committed in a transaction (psycopg
// sends BEGIN and COMMIT through the extended protocol), asyncpg's add_listener/remove_listener
// (LISTEN and UNLISTEN as prepared statements), and node-postgres named and parameterless
// extended queries. NOTIFYs come straight from PostgreSQL; the listener connection is counted in
// pg_stat_activity.

import { writeFileSync } from 'node:fs';
import postgres from 'postgres';
import { join } from 'node:path';
import { poolSuite, runPgmux, waitFor, type Observer } from '../pool/support';
import { runScript } from '../prepared/support';
import { makeTempDir, removeTempDir } from '../support/osuser';
import { Inbox, nothingMoreOn } from './support';

const ROLES = ['ld_psycopg', 'ld_asyncpg', 'ld_named', 'ld_pgjs'];
const PYTHON = '/usr/bin/python3';

jest.setTimeout(60000);

const suite = poolSuite(ROLES, 'SELECT 1');
let dir: string;
beforeAll(() => {
  dir = makeTempDir('pgmux-listen-drivers-');
});
afterAll(() => removeTempDir(dir));

async function listenerCount(obs: Observer, user: string): Promise<number> {
  const r = await obs.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1 AND application_name = 'pgmux listener'", [user]);
  return Number(r.rows[0].n);
}

const PSYCOPG = `
import json, os
import psycopg

env = os.environ
pgmux = dict(host='127.0.0.1', port=int(env['PGMUX_PORT']), user=env['PGUSER'], password=env['PGPASSWORD'], dbname='app')
direct = dict(host=env['PG_HOST'], port=int(env['PG_PORT']), user=env['PGUSER'], password=env['PGPASSWORD'], dbname='app')

conn = psycopg.connect(**pgmux)            # not autocommit: psycopg sends BEGIN first
conn.execute('LISTEN psy_a')
conn.execute('LISTEN psy_b')
conn.commit()
conn.execute('LISTEN psy_rolled')
conn.rollback()
conn.autocommit = True
chans = [r[0] for r in conn.execute('SELECT pg_listening_channels()').fetchall()]
print(json.dumps({'channels': chans}), flush=True)

with psycopg.connect(**direct, autocommit=True) as d:
    d.execute("NOTIFY psy_rolled, 'no'")
    for i in range(3):
        d.execute("NOTIFY psy_a, 'a%d'" % i)
        d.execute("NOTIFY psy_b, 'b%d'" % i)
got = []
gen = conn.notifies()
for n in gen:
    got.append([n.channel, n.payload])
    if len(got) == 6:
        gen.close()
        break
print(json.dumps({'got': got}), flush=True)
conn.close()
`;

const ASYNCPG = `
import asyncio, json, os
import asyncpg

env = os.environ

async def main():
    conn = await asyncpg.connect(host='127.0.0.1', port=int(env['PGMUX_PORT']), user=env['PGUSER'], password=env['PGPASSWORD'], database='app')
    direct = await asyncpg.connect(host=env['PG_HOST'], port=int(env['PG_PORT']), user=env['PGUSER'], password=env['PGPASSWORD'], database='app')
    q = asyncio.Queue()
    cb = lambda c, pid, channel, payload: q.put_nowait([channel, payload])
    await conn.add_listener('apg', cb)
    await conn.add_listener('apg2', cb)
    print(json.dumps({'listening': True}), flush=True)
    for i in range(3):
        await direct.execute("NOTIFY apg, 'x%d'" % i)
    got = [await asyncio.wait_for(q.get(), 10) for _ in range(3)]
    # Queries in between still work, and the result is theirs.
    rows = await conn.fetch('SELECT generate_series(1, 3) AS n')
    await conn.remove_listener('apg', cb)
    await direct.execute("NOTIFY apg, 'gone'")
    await direct.execute("NOTIFY apg2, 'marker'")
    got.append(await asyncio.wait_for(q.get(), 10))
    print(json.dumps({'got': got, 'rows': [r['n'] for r in rows]}), flush=True)
    await conn.close()
    await direct.close()

asyncio.run(main())
`;

function env(user: string): NodeJS.ProcessEnv {
  return {
    PGMUX_PORT: String(suite.run!.port),
    PGUSER: user,
    PGPASSWORD: suite.cluster.password,
    PG_HOST: suite.cluster.primary.host,
    PG_PORT: String(suite.cluster.primary.port),
  };
}

describe('drivers listening through pgmux in transaction pooling', () => {
  it('psycopg 3: LISTEN committed in a transaction is delivered to conn.notifies(), one rolled back is not (catches: LISTEN lost in psycopg\'s implicit transactions)', async () => {
    suite.run = await runPgmux(suite.cluster, { roles: ['ld_psycopg'], settings: { default_pool_size: 1 } });
    const script = join(dir, 'psycopg_listen.py');
    writeFileSync(script, PSYCOPG);
    const r = await runScript('psycopg listen', PYTHON, [script], env('ld_psycopg'), 30000);
    // The script's own output says why when it fails.
    if (r.code !== 0) throw new Error(`exit ${String(r.code)}:\n${r.output}\n${suite.run.pgmux.logs()}`);
    expect(r.records).toEqual([
      { channels: ['psy_a', 'psy_b'] },
      { got: [['psy_a', 'a0'], ['psy_b', 'b0'], ['psy_a', 'a1'], ['psy_b', 'b1'], ['psy_a', 'a2'], ['psy_b', 'b2']] },
    ]);
  });

  it('asyncpg: add_listener (LISTEN as a prepared statement) gets notifications, remove_listener stops them, through one listener connection (catches: extended-protocol LISTEN run on a pooled server)', async () => {
    suite.run = await runPgmux(suite.cluster, { roles: ['ld_asyncpg'], settings: { default_pool_size: 1 } });
    const script = join(dir, 'asyncpg_listen.py');
    writeFileSync(script, ASYNCPG);
    const r = await runScript('asyncpg listen', PYTHON, [script], env('ld_asyncpg'), 30000);
    // The script's own output says why when it fails.
    if (r.code !== 0) throw new Error(`exit ${String(r.code)}:\n${r.output}\n${suite.run.pgmux.logs()}`);
    expect(r.records).toEqual([
      { listening: true },
      { got: [['apg', 'x0'], ['apg', 'x1'], ['apg', 'x2'], ['apg2', 'marker']], rows: [1, 2, 3] },
    ]);
  });

  it('postgres.js: sql.listen() (a prepared LISTEN on a connection of its own) gets notifications in order, and unlisten() stops them (catches: extended-protocol LISTEN run on a pooled server)', async () => {
    suite.run = await runPgmux(suite.cluster, { roles: ['ld_pgjs'], settings: { default_pool_size: 1 } });
    const sql = postgres({ host: '127.0.0.1', port: suite.run.port, user: 'ld_pgjs', password: suite.cluster.password, database: 'app', max: 2 });
    try {
      const got: string[] = [];
      const first = await sql.listen('pgjs', (payload) => got.push(payload));
      await sql.listen('pgjs_marker', (payload) => got.push(`marker ${payload}`));
      expect(await listenerCount(suite.obs, 'ld_pgjs')).toBe(1);
      for (let i = 0; i < 3; i++) await sql`SELECT pg_notify('pgjs', ${`p${i}`})`;
      await waitFor('3 notifications', () => got.length >= 3);
      expect(got).toEqual(['p0', 'p1', 'p2']);
      await first.unlisten();
      await sql`SELECT pg_notify('pgjs', 'gone')`;
      await sql`SELECT pg_notify('pgjs_marker', 'end')`;
      await waitFor('the marker', () => got.includes('marker end'));
      expect(got).toEqual(['p0', 'p1', 'p2', 'marker end']);
    } finally {
      await sql.end({ timeout: 5 });
    }
  });

  it('node-postgres named and extended LISTEN/UNLISTEN are answered by pgmux too; no pooled server ever listens (catches: LISTEN through Parse/Bind/Execute reaching a pooled server)', async () => {
    suite.run = await runPgmux(suite.cluster, { roles: ['ld_named'], settings: { default_pool_size: 1 } });
    const c = await suite.run.connect('ld_named');
    const inbox = new Inbox(c);
    await c.query({ name: 'listen_n', text: 'LISTEN named_ch' });
    // Again through the statement the client now holds: Bind/Execute only.
    await c.query({ name: 'listen_n', text: 'LISTEN named_ch' });
    await c.query('LISTEN marker');
    expect(await listenerCount(suite.obs, 'ld_named')).toBe(1);
    await suite.obs.query("SELECT pg_notify('named_ch', 'n1')");
    expect(await inbox.count(1, 'named_ch')).toEqual(['n1']);
    // The pooled server listens on nothing.
    const onServer = await c.query('SELECT count(*)::int AS n FROM pg_listening_channels() AS t(ch) WHERE true');
    expect(onServer.rows).toEqual([{ n: 0 }]);
    await c.query({ name: 'unlisten_n', text: 'UNLISTEN named_ch' });
    await nothingMoreOn(inbox, 'named_ch', 'marker', (ch) => suite.obs.query('SELECT pg_notify($1, $2)', ['named_ch', 'late']).then(() => suite.obs.query('SELECT pg_notify($1, $2)', [ch, ''])));
  });
});
