// Side by side with the real PgBouncer 1.18 (/usr/sbin/pgbouncer): both poolers run the same
// ini in front of one PostgreSQL, the same traffic goes through both, and their admin consoles
// must answer alike: every SHOW view with the same column names, order, type OIDs and tags;
// the same traffic counters; the same stats log line; the same tags and error texts for each
// command, for admin_users and stats_users. Operators' scripts, psql and exporters read exactly
// these, so any drift here is a break for someone switching from PgBouncer.

import { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { startPgBouncer, type PgBouncerProcess } from '../support/pgbouncer';
import { startPgmux, type PgmuxProcess } from '../support/pgmux';
import { freePort } from '../support/ports';
import { waitFor } from '../pool/support';
import { RawConsole, type Reply } from './support';

jest.setTimeout(30000);

let cluster: Cluster;
let bouncer: PgBouncerProcess;
let pgmux: PgmuxProcess;
const sides: { name: 'pgbouncer' | 'pgmux'; port: number }[] = [];

function ini(serverPort: number, port: number): string {
  return [
    '[databases]',
    `app = host=127.0.0.1 port=${serverPort} dbname=app`,
    `quiet = host=127.0.0.1 port=${serverPort} dbname=app pool_size=5 pool_mode=session`,
    '[users]',
    'app = pool_mode=transaction',
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = plain',
    'auth_file = userlist.txt',
    'admin_users = admin',
    'stats_users = stats',
    'pool_mode = transaction',
    'default_pool_size = 3',
    'stats_period = 1',
    '',
  ].join('\n');
}

beforeAll(async () => {
  cluster = await startCluster();
  const files = { 'userlist.txt': `"admin" "adminpw"\n"stats" "statspw"\n"app" "${cluster.password}"\n` };
  const bp = await freePort();
  bouncer = await startPgBouncer(ini(cluster.primary.port, bp), files);
  const mp = await freePort();
  pgmux = await startPgmux(ini(cluster.primary.port, mp), files);
  sides.push({ name: 'pgbouncer', port: bp }, { name: 'pgmux', port: mp });
});

afterAll(async () => {
  await pgmux?.stop();
  await bouncer?.stop();
  await cluster?.stop();
});

/** Runs `fn` against each pooler and returns both results, PgBouncer's first. */
async function both<T>(fn: (port: number, name: string) => Promise<T>): Promise<[T, T]> {
  const out: T[] = [];
  for (const s of sides) out.push(await fn(s.port, s.name));
  return [out[0] as T, out[1] as T];
}

async function appClient(port: number): Promise<Client> {
  const c = new Client({ host: '127.0.0.1', port, user: 'app', password: cluster.password, database: 'app' });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

/** The same traffic through either pooler: 16 queries in 11 transactions, every protocol path. */
async function workload(port: number): Promise<void> {
  const c = await appClient(port);
  for (let i = 0; i < 5; i++) await c.query('SELECT 1');
  await c.query('BEGIN');
  await c.query('SELECT 2');
  await c.query("SELECT repeat('x', 3000)");
  await c.query('COMMIT');
  for (let i = 0; i < 3; i++) await c.query('SELECT $1::int AS v', [i]);
  await c.query('BEGIN');
  await c.query('SELECT 1/0').catch(() => undefined);
  await c.query('ROLLBACK');
  await c.query('SELECT 1; SELECT 2');
  await c.end();
}

const PGBOUNCER_VIEWS = [
  'HELP', 'POOLS', 'STATS', 'STATS_TOTALS', 'STATS_AVERAGES', 'TOTALS', 'CLIENTS', 'SERVERS', 'DATABASES',
  'USERS', 'CONFIG', 'LISTS', 'VERSION', 'MEM', 'FDS', 'SOCKETS', 'ACTIVE_SOCKETS', 'DNS_HOSTS', 'DNS_ZONES',
];


/** Columns pgmux adds after PgBouncer's, per view. */
const PGMUX_TRAILING_COLUMNS: Readonly<Record<string, readonly string[]>> = { CLIENTS: ['pins'] };
describe('SHOW views and the welcome, next to PgBouncer 1.18', () => {
  let replies: Map<string, [Reply, Reply]>;
  let welcome: [[string, string][], [string, string][]];

  beforeAll(async () => {
    replies = new Map();
    // Something to show: an app client inside a transaction on each side.
    const apps = await both(async (port) => {
      const c = await appClient(port);
      await c.query('BEGIN');
      await c.query('SELECT 1');
      return c;
    });
    // Startup parameters a client may send: PgBouncer echoes some of them in the welcome.
    const startup = { application_name: 'parity', DateStyle: 'ISO, DMY', client_encoding: 'LATIN1' };
    const consoles = await both((port) => RawConsole.open(port, 'admin', 'adminpw', 'pgbouncer', startup));
    welcome = [consoles[0].params, consoles[1].params];
    for (const view of PGBOUNCER_VIEWS) {
      replies.set(view, [await consoles[0].query(`SHOW ${view}`), await consoles[1].query(`SHOW ${view}`)]);
    }
    for (const c of consoles) c.close();
    for (const c of apps) await c.end();
  });

  /** A driver or psql reads these on connect; a missing or renamed one changes client behaviour. */
  it('sends the same ParameterStatus welcome on the console', () => {
    expect(welcome[1]).toEqual(welcome[0]);
  });

  /**
   * Would catch a renamed, reordered, retyped or missing column in any view (exporters break).
   * pgmux's own columns come only after all of PgBouncer's, so tools reading by position or by
   * name still parse: SHOW CLIENTS' `pins` (issue 14, lib/session/pins).
   */
  it.each(PGBOUNCER_VIEWS.filter((v) => v !== 'HELP'))('SHOW %s: same columns (name, order, type OID, size, modifier, format) and tag', (view) => {
    const [theirs, ours] = replies.get(view) as [Reply, Reply];
    expect(theirs.error).toBeNull();
    expect(ours.error).toBeNull();
    const own = PGMUX_TRAILING_COLUMNS[view] ?? [];
    const theirFields = theirs.fields ?? [];
    const ourFields = ours.fields ?? [];
    expect(ourFields.slice(0, theirFields.length)).toEqual(theirFields);
    expect(ourFields.slice(theirFields.length).map((f) => f.name)).toEqual(own);
    expect(ours.tag).toBe(theirs.tag);
  });

  it('SHOW HELP: the same NOTICE, listing every PgBouncer command line', () => {
    const [theirs, ours] = replies.get('HELP') as [Reply, Reply];
    expect(ours.fields).toEqual(theirs.fields);
    expect(ours.tag).toBe(theirs.tag);
    expect(ours.notices).toHaveLength(1);
    const [t, o] = [theirs.notices[0], ours.notices[0]];
    expect({ ...o, detail: undefined }).toEqual({ ...t, detail: undefined });
    // pgmux's additions extend lines (|STATE) or add lines (KILL_CLIENT); none of PgBouncer's may go.
    const ourLines = (o?.detail ?? '').split('\n');
    for (const line of (t?.detail ?? '').split('\n')) expect(ourLines.some((l) => l.startsWith(line))).toBe(true);
  });

  /** Values that depend on nothing but the config must be equal too. */
  it('SHOW USERS and SHOW DATABASES list the same rows', () => {
    const [tu, ou] = replies.get('USERS') as [Reply, Reply];
    expect(ou.rows).toEqual(tu.rows);
    const [td, od] = replies.get('DATABASES') as [Reply, Reply];
    // The console's own row carries each pooler's listen_port; current_connections follow traffic.
    const strip = (r: Reply) => RawConsole.objects(r).map((row) => ({ ...row, port: row.name === 'pgbouncer' ? '' : row.port, current_connections: '' }));
    expect(strip(od)).toEqual(strip(td));
  });

  it('SHOW POOLS counts the open transaction the same way', () => {
    const [theirs, ours] = replies.get('POOLS') as [Reply, Reply];
    const pick = (r: Reply) => RawConsole.objects(r).map(({ maxwait_us: _u, ...rest }) => rest);
    expect(pick(ours)).toEqual(pick(theirs));
  });
});

describe('traffic counters, next to PgBouncer 1.18', () => {
  /** The counters a monitoring stack graphs: any off-by-one in query/xact/byte accounting shows. */
  it('counts the same queries, transactions and bytes for the same traffic', async () => {
    const read = async (port: number) => {
      const con = await RawConsole.open(port, 'stats', 'statspw');
      const r = RawConsole.objects(await con.query('SHOW STATS_TOTALS')).find((row) => row.database === 'app');
      con.close();
      return r as Record<string, string | null>;
    };
    const before = await both(read);
    await both((port) => workload(port));
    const after = await both(read);
    const delta = (i: 0 | 1, key: string) => Number(after[i][key]) - Number(before[i][key]);
    for (const key of ['xact_count', 'query_count', 'bytes_received', 'bytes_sent']) {
      expect({ key, pgmux: delta(1, key) }).toEqual({ key, pgmux: delta(0, key) });
    }
    expect(delta(1, 'query_count')).toBe(16);
    expect(delta(1, 'xact_count')).toBe(11);
  });

  it('writes the stats_period log line in the same shape', async () => {
    const line = (logs: string) => /LOG (stats: .*)/.exec(logs)?.[1];
    const lines = await both((_port, name) => waitFor(`a stats line from ${name}`, () => line(name === 'pgmux' ? pgmux.logs() : bouncer.logs()), 5000));
    const shape = (s: string) => s.replace(/\d+/g, 'N');
    expect(shape(lines[1])).toBe(shape(lines[0]));
  });
});

/**
 * Each row runs on both consoles in order (so earlier rows set up later ones); tags and error
 * texts must match. Database `quiet` never has servers, so commands that wait return at once.
 */
const SCRIPT: [who: 'admin' | 'stats', query: string][] = [
  ['admin', 'FOO'],
  ['admin', 'SHOW'],
  ['admin', 'SHOW FOO'],
  ['admin', 'SHOW STATS; SHOW VERSION'],
  ['admin', 'SELECT 1'],
  ['admin', 'show client_encoding'],
  ['admin', 'SHOW DateStyle'],
  ['admin', 'SET client_encoding = utf8'],
  ['admin', 'SET extra_float_digits TO 3'],
  ['admin', 'SET TimeZone TO UTC'],
  ['admin', 'PAUSE nosuch'],
  ['admin', 'PAUSE pgbouncer'],
  ['admin', 'RESUME'],
  ['admin', 'RESUME quiet'],
  ['admin', 'PAUSE quiet'],
  ['admin', 'PAUSE quiet'],
  ['admin', 'SUSPEND'],
  ['admin', 'RESUME quiet'],
  ['admin', 'RESUME quiet'],
  ['admin', 'PAUSE'],
  ['admin', 'PAUSE'],
  ['admin', 'SUSPEND'],
  ['admin', 'RESUME'],
  ['admin', 'RESUME'],
  ['admin', 'SUSPEND x'],
  ['admin', 'SUSPEND'],
  ['admin', 'PAUSE quiet'],
  ['admin', 'RESUME'],
  ['admin', 'DISABLE'],
  ['admin', 'ENABLE'],
  ['admin', 'DISABLE nosuch'],
  ['admin', 'DISABLE pgbouncer'],
  ['admin', 'ENABLE pgbouncer'],
  ['admin', 'DISABLE quiet'],
  ['admin', 'ENABLE quiet'],
  ['admin', 'KILL'],
  ['admin', 'KILL pgbouncer'],
  ['admin', 'KILL nosuch'],
  ['admin', 'KILL quiet'],
  ['admin', 'RESUME quiet'],
  ['admin', 'RECONNECT pgbouncer'],
  ['admin', 'RECONNECT quiet'],
  ['admin', 'RECONNECT'],
  ['admin', 'WAIT_CLOSE pgbouncer'],
  ['admin', 'WAIT_CLOSE quiet'],
  ['admin', 'WAIT_CLOSE'],
  ['admin', 'RELOAD now'],
  ['admin', 'RELOAD'],
  ['admin', 'SET default_pool_size = 4'],
  ['admin', 'SET default_pool_size TO 5;'],
  ['admin', "SET server_reset_query = 'DISCARD ALL'"],
  ['admin', 'SET nosuch = 1'],
  ['admin', 'SET default_pool_size = many'],
  ['admin', 'SET unix_socket_dir = /x'],
  ['admin', 'SHUTDOWN now'],
  ['stats', 'SHOW POOLS'],
  ['stats', 'SHOW FDS'],
  ['stats', 'PAUSE'],
  ['stats', 'RESUME'],
  ['stats', 'RELOAD'],
  ['stats', 'KILL quiet'],
  ['stats', 'DISABLE'],
  ['stats', 'SET default_pool_size = 5'],
  ['stats', 'SET client_encoding = utf8'],
  ['stats', 'SHUTDOWN'],
  ['stats', 'FOO'],
];

describe('console commands, next to PgBouncer 1.18', () => {
  const results: { pgbouncer: Reply[]; pgmux: Reply[] } = { pgbouncer: [], pgmux: [] };

  beforeAll(async () => {
    for (const side of sides) {
      const admin = await RawConsole.open(side.port, 'admin', 'adminpw');
      const stats = await RawConsole.open(side.port, 'stats', 'statspw');
      for (const [who, sql] of SCRIPT) results[side.name].push(await (who === 'admin' ? admin : stats).query(sql));
      admin.close();
      stats.close();
    }
  });

  /** Would catch a wrong tag, a missing check, a changed error text or the wrong order of checks. */
  it.each(SCRIPT.map(([who, sql], i) => [i, who, sql] as const))('#%i %s: %s', (i) => {
    const outcome = (r: Reply | undefined) => ({ tag: r?.tag, error: r?.error === null ? null : { ...r?.error, detail: undefined }, notices: r?.notices });
    expect(outcome(results.pgmux[i])).toEqual(outcome(results.pgbouncer[i]));
  });

  /** Users in neither admin_users nor stats_users get PgBouncer's words at login. */
  it('refuses other users at login with "not allowed"', async () => {
    const [theirs, ours] = await both((port) => RawConsole.open(port, 'app', cluster.password).then(
      () => 'logged in',
      (e: Error) => e.message,
    ));
    expect(ours).toBe(theirs);
    expect(ours).toBe('not allowed');
  });
});
