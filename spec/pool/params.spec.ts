// Black-box spec of session parameters in transaction pooling (issue 3, "Session parameters"):
// what a client SETs (client_encoding, DateStyle, TimeZone, IntervalStyle,
// standard_conforming_strings, application_name) or sends at startup follows it to whichever
// server it lands on, and never shows on another client's statements.
//
// Landing on a given server is forced, not hoped for: with default_pool_size=2 a client in a
// transaction holds one server, so the next request of anyone else can only get the other.
//
// track_extra_parameters: PostgreSQL 15 reports only GUC_REPORT parameters in ParameterStatus
// (the six above plus a few read-only ones), so pgmux cannot see a later `SET search_path`.
// An extra parameter such as search_path is therefore tracked from the startup packet only:
// that value is applied to every server the client lands on, and other clients get their own
// (the server default) back. A SET of it during the session follows the client too, as every
// SET does (lib/session/settings, spec/session/settings.spec.ts).

import postgres from 'postgres';
import { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { createRoles, Observer, outcome, pidOf, runPgmux, type Running } from './support';
import { msg, RawClient, rowsOf } from '../support/wire';

jest.setTimeout(20000);

const ROLES = ['p_set', 'p_start', 'p_extra', 'p_strict', 'p_badtz'];

const TRACKED = ['TimeZone', 'DateStyle', 'IntervalStyle', 'application_name', 'client_encoding', 'standard_conforming_strings'] as const;

/** What client A sets, in PostgreSQL's canonical spelling (as SHOW prints it back). */
const A_VALUES: Record<(typeof TRACKED)[number], string> = {
  TimeZone: 'America/New_York',
  DateStyle: 'SQL, DMY',
  IntervalStyle: 'postgres_verbose',
  application_name: 'client-a',
  client_encoding: 'LATIN1',
  standard_conforming_strings: 'off',
};

let cluster: Cluster;
let obs: Observer;
let run: Running | undefined;

beforeAll(async () => {
  cluster = await startCluster();
  await createRoles(cluster, ROLES);
  await cluster.query(
    cluster.primary,
    "CREATE SCHEMA sp_schema; CREATE TABLE sp_schema.sp_t (v text); INSERT INTO sp_schema.sp_t VALUES ('from sp_schema'); CREATE TABLE sp_schema.sp_badtz (v text)",
    'app',
  );
  obs = await Observer.open(cluster);
});

afterEach(async () => {
  await run?.stop();
  run = undefined;
});

afterAll(async () => {
  await obs?.close();
  await cluster?.stop();
});

type Seen = Record<string, string> & { pid: number };

/** The tracked parameters as the server running this statement has them, and its pid. */
async function seen(c: Client): Promise<Seen> {
  const cols = TRACKED.map((n) => `current_setting('${n}') AS "${n}"`).join(', ');
  const r = await c.query<Seen>(`SELECT pg_backend_pid() AS pid, ${cols}`);
  return r.rows[0]!;
}

function withoutPid(s: Seen): Record<string, string> {
  const { pid: _pid, ...rest } = s;
  return rest;
}

describe('parameters set with SET', () => {
  it("follow the client to the other server, and another client landing on that server sees its own values (catches parameters left behind or leaked between clients)", async () => {
    run = await runPgmux(cluster, { roles: ['p_set'], settings: { default_pool_size: 2 } });
    const a = await run.connect('p_set');
    const h1 = await run.connect('p_set');
    const h2 = await run.connect('p_set');
    const c = await run.connect('p_set');
    const baseline = withoutPid(await seen(c));
    for (const name of TRACKED) expect(baseline[name]).not.toBe(A_VALUES[name]);

    await a.query(TRACKED.map((n) => `SET ${n} = '${A_VALUES[n]}'`).join('; '));
    // A holds server P; h1 can only get the other one, Q.
    await a.query('BEGIN');
    const onP = await seen(a);
    await h1.query('BEGIN');
    const q = await pidOf(h1);
    expect(q).not.toBe(onP.pid);
    await a.query('COMMIT');
    // h2 can only get P; once h1 lets Q go, A's next statement can only land on Q.
    await h2.query('BEGIN');
    expect(await pidOf(h2)).toBe(onP.pid);
    await h1.query('COMMIT');
    const onQ = await seen(a);
    expect(onQ.pid).toBe(q);
    expect(withoutPid(onP)).toEqual(A_VALUES);
    expect(withoutPid(onQ)).toEqual(A_VALUES);

    // c lands on Q right after A (P is still held) and sees its own values, not A's.
    const cOnQ = await seen(c);
    expect(cOnQ.pid).toBe(q);
    expect(withoutPid(cOnQ)).toEqual(baseline);
    await h2.query('COMMIT');
    // And A still has its own afterwards.
    expect(withoutPid(await seen(a))).toEqual(A_VALUES);
  });
});

describe('startup parameters', () => {
  it('application_name and options=-c settings from the startup packet apply on every server, -c switches also when options is listed in ignore_startup_parameters, as PostgreSQL applies them (catches startup values dropped on later servers)', async () => {
    run = await runPgmux(cluster, { roles: ['p_start'], settings: { default_pool_size: 2, ignore_startup_parameters: 'options' } });
    const a = await run.connect('p_start', { application_name: 'startup-app', options: '-c work_mem=7MB' });
    const h = await run.connect('p_start');
    const h2 = await run.connect('p_start');
    const probe = "SELECT pg_backend_pid() AS pid, current_setting('application_name') AS app, current_setting('work_mem') AS wm";
    await a.query('BEGIN');
    const first = await a.query<{ pid: number; app: string; wm: string }>(probe);
    // PostgreSQL's own view of that backend agrees.
    expect((await obs.backends('p_start')).find((b) => b.pid === first.rows[0]!.pid)?.application_name).toBe('startup-app');
    // h holds the other server, then h2 the first one; a's next statement can only land on h's.
    await h.query('BEGIN');
    await a.query('COMMIT');
    await h2.query('BEGIN');
    await h.query('COMMIT');
    const second = await a.query<{ pid: number; app: string; wm: string }>(probe);
    await h2.query('COMMIT');
    expect(first.rows[0]).toMatchObject({ app: 'startup-app', wm: '7MB' });
    expect(second.rows[0]).toMatchObject({ app: 'startup-app', wm: '7MB' });
    expect(second.rows[0]!.pid).not.toBe(first.rows[0]!.pid);
  });

  it('a startup value the server refuses (a TimeZone typo) fails the first request with PostgreSQL\'s own error, and the request does not run, as PostgreSQL refuses that login (catches the request run silently in the server\'s TimeZone, the client told it had its own)', async () => {
    const options = '-c TimeZone=Mars/Olympus';
    const words = 'invalid value for parameter "TimeZone": "Mars/Olympus"';
    // PostgreSQL itself: the login is refused with these words.
    const direct = new Client({ host: cluster.primary.host, port: cluster.primary.port, user: 'p_badtz', password: cluster.password, database: 'app', options });
    direct.on('error', () => undefined);
    const refused = await outcome(direct.connect());
    await direct.end().catch(() => undefined);
    expect(refused.ok ? null : { code: refused.error.code, message: refused.error.message }).toEqual({ code: '22023', message: words });

    run = await runPgmux(cluster, { roles: ['p_badtz'] });
    const c = await run.connect('p_badtz', { options });
    const first = await outcome(c.query("INSERT INTO sp_schema.sp_badtz SELECT now()::text"));
    expect(first.ok ? null : { code: first.error.code, message: first.error.message }).toEqual({
      code: '22023',
      message: expect.stringContaining(words) as unknown as string,
    });
    const written = await cluster.query(cluster.primary, 'SELECT count(*)::int AS n FROM sp_schema.sp_badtz', 'app');
    expect(written.rows[0]).toEqual({ n: 0 });
    // The same values on a good connection still work: the pool is unharmed.
    const other = await run.connect('p_badtz');
    expect((await other.query<{ v: number }>('SELECT 1 AS v')).rows[0]).toEqual({ v: 1 });
  });

  it('a client gets no ParameterStatus for the values it was welcomed with when pgmux brings a server in line (catches the echo of pgmux\'s own sync, which PostgreSQL never sends, reaching the client)', async () => {
    run = await runPgmux(cluster, { roles: ['p_badtz'] });
    const raw = await RawClient.open(run.port);
    try {
      // The pool's server has application_name '' and UTC; this client's differ, so its first request syncs the server.
      await raw.login(msg.startup({ user: 'p_badtz', database: 'app', application_name: 'echo-app', TimeZone: 'Asia/Tokyo' }), 'p_badtz', cluster.password);
      const frames = await raw.roundTrip(msg.query("SELECT current_setting('application_name') || ' ' || current_setting('TimeZone')"));
      expect(frames.map((f) => f.type)).toEqual(['T', 'D', 'C', 'Z']);
      expect(rowsOf(frames)).toEqual([['echo-app Asia/Tokyo']]);
    } finally {
      raw.destroy();
    }
  });

  it("refuses an options that is not only -c switches with PgBouncer's message, and applies any other untracked parameter as a setting, as PostgreSQL (catches: options silently dropped, search_path refused or dropped)", async () => {
    run = await runPgmux(cluster, { roles: ['p_strict'] });
    // options holding anything but -c switches (here -e, European dates) is refused as a whole.
    const withOptions = await outcome(run.connect('p_strict', { options: '-e' }));
    expect(withOptions.ok).toBe(false);
    if (!withOptions.ok) expect(withOptions.error.message).toBe('unsupported startup parameter: options');
    // search_path is not tracked here (no track_extra_parameters): a session setting, like -c search_path=...
    const sql = postgres({ host: '127.0.0.1', port: run.port, user: 'p_strict', pass: cluster.password, database: 'app', max: 1, connection: { search_path: 'sp_schema, public' } });
    try {
      const [row] = await sql<{ sp: string; v: string }[]>`SELECT current_setting('search_path') AS sp, (SELECT v FROM sp_t) AS v`;
      expect(row).toEqual({ sp: 'sp_schema, public', v: 'from sp_schema' });
    } finally {
      await sql.end({ timeout: 1 });
    }
  });
});

describe('track_extra_parameters', () => {
  it('search_path from the startup packet is applied on every server the client lands on, and not to other clients (catches an extra parameter lost on a server switch or leaked to the next client)', async () => {
    run = await runPgmux(cluster, { roles: ['p_extra'], settings: { default_pool_size: 2, track_extra_parameters: 'IntervalStyle, search_path' } });
    const sql = postgres({ host: '127.0.0.1', port: run.port, user: 'p_extra', pass: cluster.password, database: 'app', max: 1, prepare: false, connection: { search_path: 'sp_schema, public' } });
    const h1 = await run.connect('p_extra');
    const h2 = await run.connect('p_extra');
    const c = await run.connect('p_extra');
    const probe = "SELECT pg_backend_pid() AS pid, current_setting('search_path') AS sp, (SELECT v FROM sp_t) AS v";
    try {
      await sql.unsafe('BEGIN');
      const [onP] = await sql.unsafe<{ pid: number; sp: string; v: string }[]>(probe);
      await h1.query('BEGIN');
      const q = await pidOf(h1);
      await sql.unsafe('COMMIT');
      await h2.query('BEGIN');
      expect(await pidOf(h2)).toBe(onP!.pid);
      await h1.query('COMMIT');
      const [onQ] = await sql.unsafe<{ pid: number; sp: string; v: string }[]>(probe);
      expect(onQ!.pid).toBe(q);
      expect(onP).toMatchObject({ sp: 'sp_schema, public', v: 'from sp_schema' });
      expect(onQ).toMatchObject({ sp: 'sp_schema, public', v: 'from sp_schema' });
      // c, without a search_path of its own, lands on Q right after and gets the default.
      const r = await c.query<{ pid: number; sp: string }>("SELECT pg_backend_pid() AS pid, current_setting('search_path') AS sp");
      expect(r.rows[0]).toEqual({ pid: q, sp: '"$user", public' });
      await h2.query('COMMIT');
    } finally {
      await sql.end({ timeout: 1 });
    }
  });
});
