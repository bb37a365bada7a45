// Black-box spec: a startup parameter that is a PostgreSQL setting (node-postgres's
// statement_timeout, asyncpg's server_settings, pgJDBC's search_path) is the session's setting, as
// PostgreSQL reads it (a `-c name=value` switch there): applied on every server the client lands
// on, never seen by the clients it shares them with. PgBouncer 1.18, and pgmux before, refused
// the login with "unsupported startup parameter". One PostgreSQL refuses (unknown name, bad
// value) fails the client with PostgreSQL's SQLSTATE and words, as the same `-c` switch does.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { runPgmux, type Running } from '../support/front';
import { run } from '../support/child';
import { RawClient, msg } from '../support/wire';

jest.setTimeout(60000);

const PYTHON = '/usr/bin/python3';

let cluster: Cluster;
let mux: Running;
let dir: string;

beforeAll(async () => {
  cluster = await startCluster();
  // One server: every client shares it, so each switch between clients must bring it in line.
  mux = await runPgmux(cluster, { roles: ['app'], settings: { default_pool_size: 1 } });
  dir = mkdtempSync(join(tmpdir(), 'pgmux-bare-settings-'));
});

afterAll(async () => {
  await mux?.stop();
  await cluster?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

const PROBE = "SELECT pg_backend_pid() AS pid, current_setting('statement_timeout') AS st";

describe('node-postgres statement_timeout (a bare startup parameter)', () => {
  it('holds on every transaction of its client and on no other client of the same server, and cancels a long statement with 57014 (catches: the login refused, or the setting lost or leaked on a shared server)', async () => {
    const direct = new Client({ host: '127.0.0.1', port: cluster.primary.port, user: 'app', password: cluster.password, database: 'app', statement_timeout: 100 });
    await direct.connect();
    const directSt = (await direct.query<{ st: string }>(PROBE)).rows[0]!.st;
    await direct.end();
    expect(directSt).toBe('100ms');

    const timed = await mux.connect('app', { statement_timeout: 100 });
    const plain = await mux.connect('app');
    const seen: { who: string; pid: number; st: string }[] = [];
    for (let round = 0; round < 3; round++) {
      for (const [who, c] of [['timed', timed], ['plain', plain]] as const) {
        const r = await c.query<{ pid: number; st: string }>(PROBE);
        seen.push({ who, ...r.rows[0]! });
      }
    }
    // Inside a transaction too, after the other client had the server.
    await timed.query('BEGIN');
    seen.push({ who: 'timed', ...(await timed.query<{ pid: number; st: string }>(PROBE)).rows[0]! });
    await timed.query('COMMIT');
    seen.push({ who: 'plain', ...(await plain.query<{ pid: number; st: string }>(PROBE)).rows[0]! });

    expect(new Set(seen.map((s) => s.pid)).size).toBe(1);
    expect(seen.map((s) => `${s.who} ${s.st}`)).toEqual(seen.map((s) => (s.who === 'timed' ? `timed ${directSt}` : 'plain 0')));
    await expect(timed.query('SELECT pg_sleep(1)')).rejects.toMatchObject({ code: '57014', message: 'canceling statement due to statement timeout' });
    // The session goes on with its setting; the other client is still at the default.
    expect((await timed.query<{ st: string }>(PROBE)).rows[0]!.st).toBe('100ms');
    expect((await plain.query<{ st: string }>(PROBE)).rows[0]!.st).toBe('0');
  });
});

/** Runs an asyncpg script against `port`; it prints one line of JSON. */
async function asyncpg(name: string, port: number, body: string): Promise<Record<string, unknown>> {
  const file = join(dir, `drive_${name}.py`);
  writeFileSync(
    file,
    `import asyncio, asyncpg, json, os
env = os.environ
async def main():
    port, password = int(env['PORT']), env['PASSWORD']
    out = {}
${body}
    print(json.dumps(out))
asyncio.run(main())
`,
  );
  const r = await run(PYTHON, [file], { env: { ...process.env, PORT: String(port), PASSWORD: cluster.password } });
  if (r.code !== 0) throw new Error(`${name} failed (${r.code}):\n${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
}

/** Logs in through pgmux with these startup parameters; the ErrorResponse that ends the first request. */
async function firstRequestRefusal(params: Record<string, string>): Promise<Record<string, string>> {
  const conn = await RawClient.open(mux.port);
  try {
    await conn.login(msg.startup({ user: 'app', database: 'app', ...params }), 'app', cluster.password);
    conn.send(msg.query('SELECT 1'));
    return (await conn.refusal()).fields;
  } finally {
    conn.destroy();
  }
}

describe('asyncpg server_settings', () => {
  it('search_path and application_name from server_settings are the session\'s, as straight to PostgreSQL (catches: the login refused as "unsupported startup parameter: search_path")', async () => {
    const body = `
    conn = await asyncpg.connect(host='127.0.0.1', port=port, user='app', password=password, database='app',
                                 server_settings={'search_path': 's1', 'application_name': 'x'})
    for i in range(3):
        async with conn.transaction():
            out['t%d' % i] = list(await conn.fetchrow("SELECT current_setting('search_path'), current_setting('application_name')"))
    await conn.close()
`;
    const direct = await asyncpg('settings_direct', cluster.primary.port, body);
    expect(direct).toEqual({ t0: ['s1', 'x'], t1: ['s1', 'x'], t2: ['s1', 'x'] });
    const plain = await mux.connect('app');
    const before = await plain.query<{ sp: string }>("SELECT current_setting('search_path') AS sp");
    expect(await asyncpg('settings_pooled', mux.port, body)).toEqual(direct);
    const after = await plain.query<{ sp: string }>("SELECT current_setting('search_path') AS sp");
    expect([before.rows[0]!.sp, after.rows[0]!.sp]).toEqual(['"$user", public', '"$user", public']);
  });

  it('an unknown setting and a bad value fail with PostgreSQL\'s SQLSTATE and words (catches: silently dropped or forwarded unread)', async () => {
    // Straight to PostgreSQL, asyncpg's server_settings are refused at login.
    const body = `
    for key, settings in (('nosuch', {'nosuch': '1'}), ('banana', {'statement_timeout': 'banana'})):
        try:
            conn = await asyncpg.connect(host='127.0.0.1', port=port, user='app', password=password, database='app', server_settings=settings)
            out[key] = 'accepted'
        except asyncpg.PostgresError as e:
            out[key] = [e.sqlstate, e.severity, str(e)]
`;
    const direct = await asyncpg('invalid_direct', cluster.primary.port, body);
    expect(direct).toEqual({
      nosuch: ['42704', 'FATAL', 'unrecognized configuration parameter "nosuch"'],
      banana: ['22023', 'FATAL', 'invalid value for parameter "statement_timeout": "banana"'],
    });
    // pgmux welcomes the client itself; the first request fails with the server's refusal
    // (asyncpg reports that FATAL as "connection was closed in the middle of operation", as it
    // does for any FATAL without a ReadyForQuery, so the frames are read here).
    const prefix = "pgmux: a setting from this connection's startup packet could not be applied on the server: ";
    expect(await firstRequestRefusal({ nosuch: '1' })).toMatchObject({ S: 'FATAL', C: '42704', M: prefix + (direct.nosuch as string[])[2] });
    expect(await firstRequestRefusal({ statement_timeout: 'banana' })).toMatchObject({ S: 'FATAL', C: '22023', M: prefix + (direct.banana as string[])[2] });
    // node-postgres sends its statement_timeout as parseInt's text: "NaN" for a value that is no number.
    const nan = { statement_timeout: 'soon' as unknown as number };
    const byPg = async (port: number): Promise<{ code?: string; message: string }> => {
      const c = new Client({ host: '127.0.0.1', port, user: 'app', password: cluster.password, database: 'app', ...nan });
      c.on('error', () => undefined);
      try {
        await c.connect();
        await c.query('SELECT 1');
        return { message: 'accepted' };
      } catch (err) {
        const e = err as { code?: string; message: string };
        return { code: e.code, message: e.message };
      } finally {
        await c.end().catch(() => undefined);
      }
    };
    const pgDirect = await byPg(cluster.primary.port);
    expect(pgDirect).toEqual({ code: '22023', message: 'invalid value for parameter "statement_timeout": "NaN"' });
    expect(await byPg(mux.port)).toEqual({ code: '22023', message: prefix + pgDirect.message });
  });

  it('a bare parameter fails exactly as the same `options=-c` switch (catches: two paths for one setting drifting apart)', async () => {
    for (const [name, value] of [['nosuch', '1'], ['statement_timeout', 'banana']] as const) {
      expect(await firstRequestRefusal({ [name]: value })).toEqual(await firstRequestRefusal({ options: `-c ${name}=${value}` }));
    }
  });
});

describe('what stays as it was', () => {
  it('an options switch other than -c keeps PgBouncer\'s refusal, replication its 0A000, and a bare parameter wins over the same options -c switch as in PostgreSQL (catches: the new path swallowing refusals, or applying options last)', async () => {
    const first = async (params: Record<string, string>): Promise<Record<string, string>> => {
      const conn = await RawClient.open(mux.port);
      try {
        conn.send(msg.startup({ user: 'app', database: 'app', ...params }));
        return (await conn.refusal({ sole: true })).fields;
      } finally {
        conn.destroy();
      }
    };
    expect(await first({ options: '-e' })).toMatchObject({ S: 'FATAL', C: '08P01', M: 'unsupported startup parameter: options' });
    expect(await first({ replication: 'database' })).toMatchObject({ S: 'FATAL', C: '0A000', M: 'unsupported startup parameter: replication' });
    // The bare parameter wins over options' -c, as in PostgreSQL, which applies options first.
    const both = { lock_timeout: 2000, options: '-c lock_timeout=1s -c work_mem=2MB' };
    const direct = new Client({ host: '127.0.0.1', port: cluster.primary.port, user: 'app', password: cluster.password, database: 'app', ...both });
    await direct.connect();
    const sql = "SELECT current_setting('lock_timeout') AS lt, current_setting('work_mem') AS wm";
    const want = (await direct.query(sql)).rows;
    await direct.end();
    expect(want).toEqual([{ lt: '2s', wm: '2MB' }]);
    const pooled = await mux.connect('app', both);
    expect((await pooled.query(sql)).rows).toEqual(want);
  });
});
