// Specs for automatic server pinning in transaction mode (issue 14, lib/session/pins): session
// advisory locks, temporary tables, WITH HOLD cursors and prepared transactions keep their client
// on the server that holds them until they are gone or the client leaves; a server left holding
// them is reset; SHOW PINS and SHOW CLIENTS say why; max_pinned_clients_per_pool refuses the
// statement that would pin one client too many. Real PostgreSQL, node-postgres and psycopg 3,
// through databases that are not routed (no replicas), the hot path pins must be cheap on.

import { Client, type DatabaseError } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { startPgmux, type PgmuxProcess } from '../support/pgmux';
import { freePort } from '../support/ports';
import { consoleRows } from '../support/console';
import { run } from '../support/child';
import { waitFor } from '../support/wait';

let cluster: Cluster;
let pgmux: PgmuxProcess;
let port: number;
const clients: Client[] = [];

async function connect(db: string): Promise<Client> {
  const c = new Client({ host: '127.0.0.1', port, user: 'app', password: cluster.password, database: db });
  await c.connect();
  clients.push(c);
  return c;
}

async function pid(c: Client): Promise<number> {
  return Number((await c.query('SELECT pg_backend_pid() AS p')).rows[0].p);
}

function admin(sql: string): Promise<Record<string, unknown>[]> {
  return consoleRows(port, 'app', cluster.password, sql);
}

/** SHOW PINS' pinned_now for `db` and `reason`. */
async function pinnedNow(db: string, reason: string): Promise<number> {
  const row = (await admin('SHOW PINS')).find((r) => r.database === db && r.reason === reason);
  if (row === undefined) throw new Error(`SHOW PINS has no row for ${db}/${reason}`);
  return Number(row.pinned_now);
}

/** The SHOW CLIENTS rows of `db` by application_name. */
async function clientRow(db: string, app: string): Promise<Record<string, unknown>> {
  const row = (await admin('SHOW CLIENTS')).find((r) => r.database === db && r.application_name === app);
  if (row === undefined) throw new Error(`SHOW CLIENTS has no client ${app} of ${db}`);
  return row;
}

/** Whether a fresh direct session can take advisory lock `key` now (and gives it back). */
async function lockFreeDirectly(key: number): Promise<boolean> {
  const r = await cluster.query(cluster.primary, `SELECT pg_try_advisory_lock(${key}) AS ok`);
  return r.rows[0].ok === true;
}

async function errorOf(p: Promise<unknown>): Promise<DatabaseError> {
  try {
    await p;
  } catch (err) {
    return err as DatabaseError;
  }
  throw new Error('expected an error');
}

beforeAll(async () => {
  cluster = await startCluster({ settings: { max_prepared_transactions: '5' } });
  await cluster.query(cluster.primary, 'CREATE TABLE xact_rows (id int); GRANT ALL ON xact_rows TO app');
  port = await freePort();
  const server = `host=${cluster.primary.host} port=${cluster.primary.port} dbname=app`;
  const ini =
    '[databases]\n' +
    `one = ${server} pool_size=1\n` +
    `adv = ${server} pool_size=3\n` +
    `tmp = ${server} pool_size=3\n` +
    `cur = ${server} pool_size=3\n` +
    `xact = ${server} pool_size=2\n` +
    `capped = ${server} pool_size=3\n` +
    `stmt = ${server} pool_size=2 pool_mode=statement\n` +
    '[pgbouncer]\n' +
    `listen_addr = 127.0.0.1\nlisten_port = ${port}\nunix_socket_dir =\n` +
    'auth_type = trust\nauth_file = userlist.txt\nadmin_users = app\n' +
    'pool_mode = transaction\nmax_client_conn = 200\nmax_pinned_clients_per_pool = 1\n';
  pgmux = await startPgmux(ini, { 'userlist.txt': `"app" "${cluster.password}"\n` });
}, 60000);

afterAll(async () => {
  for (const c of clients) await c.end().catch(() => undefined);
  await pgmux?.stop();
  await cluster?.stop();
});

describe('session advisory locks', () => {
  /**
   * Without pinning, the lock stays on a pooled server after its client left, and blocks every
   * other session until that server closes (the migration lock that deadlocked every pod).
   */
  it('frees the lock for others as soon as the client that took it leaves (pool size 1)', async () => {
    const a = await connect('one');
    await a.query('SELECT pg_advisory_lock(7001)');
    expect(await lockFreeDirectly(7001)).toBe(false);
    const serverPid = await pid(a);
    await a.end();
    // The server was reset before anyone got it: another pgmux client on it, and a direct session, get the lock at once.
    await waitFor('the lock to be released', () => lockFreeDirectly(7001));
    const b = await connect('one');
    expect(await pid(b)).toBe(serverPid);
    expect((await b.query('SELECT pg_try_advisory_lock(7001) AS ok')).rows[0].ok).toBe(true);
    await b.query('SELECT pg_advisory_unlock(7001)');
  });

  /** Without pinning, the holder's next transaction may run on a server that does not hold its lock, and unlock there fails. */
  it('keeps the holder on its server while others share the rest of the pool, until it unlocks', async () => {
    const a = await connect('adv');
    await a.query("SET application_name = 'holder'");
    await a.query('SELECT pg_advisory_lock(7002)');
    const mine = await pid(a);
    const others = await Promise.all(Array.from({ length: 6 }, () => connect('adv')));
    const seen = new Set<number>();
    for (let round = 0; round < 10; round++) {
      const [own, ...rest] = await Promise.all([pid(a), ...others.map((o) => pid(o))]);
      expect(own).toBe(mine);
      for (const p of rest) seen.add(p);
    }
    // The others ran on the pool's other servers, never on the holder's.
    expect(seen.has(mine)).toBe(false);
    expect(seen.size).toBeGreaterThan(0);
    expect(await pinnedNow('adv', 'advisory-lock')).toBe(1);
    expect((await clientRow('adv', 'holder')).pins).toBe('advisory-lock');
    // Taken twice, unlocked once: still held, still pinned.
    await a.query('SELECT pg_advisory_lock(7002)');
    expect((await a.query('SELECT pg_advisory_unlock(7002) AS ok')).rows[0].ok).toBe(true);
    // A key it never held: false, and nothing changes.
    expect((await a.query('SELECT pg_advisory_unlock(7099) AS ok')).rows[0].ok).toBe(false);
    expect(await pid(a)).toBe(mine);
    expect(await lockFreeDirectly(7002)).toBe(false);
    expect((await clientRow('adv', 'holder')).pins).toBe('advisory-lock');
    await a.query('SELECT pg_advisory_unlock(7002)');
    await waitFor('the pin to go', async () => (await pinnedNow('adv', 'advisory-lock')) === 0);
    const row = await clientRow('adv', 'holder');
    expect(row.pins).toBe('');
    // Unlinked: its server went back to the pool.
    expect(row.link).toBe('');
    expect(await lockFreeDirectly(7002)).toBe(true);
  });

  /**
   * node-postgres sends a named statement's Parse once per connection, then only Bind/Execute:
   * without looking at the Bind, its second run would take the lock unpinned, on any server.
   */
  it('pins at each run of a named statement that takes the lock, not only at its Parse', async () => {
    const a = await connect('adv');
    await a.query("SET application_name = 'named-locker'");
    const lock = { name: 'take_lock', text: 'SELECT pg_advisory_lock($1)', values: [7004] };
    await a.query(lock);
    expect((await clientRow('adv', 'named-locker')).pins).toBe('advisory-lock');
    await a.query('SELECT pg_advisory_unlock_all()');
    await waitFor('the pin to go', async () => (await clientRow('adv', 'named-locker')).link === '');
    // Bind and Execute only, on whatever server the pool gives.
    await a.query(lock);
    expect((await clientRow('adv', 'named-locker')).pins).toBe('advisory-lock');
    const mine = await pid(a);
    const others = await Promise.all(Array.from({ length: 4 }, () => connect('adv')));
    for (let i = 0; i < 3; i++) {
      const [own, ...rest] = await Promise.all([pid(a), ...others.map((o) => pid(o))]);
      expect(own).toBe(mine);
      expect(rest).not.toContain(mine);
    }
    expect((await a.query('SELECT pg_advisory_unlock(7004) AS ok')).rows[0].ok).toBe(true);
    await waitFor('the pin to go', async () => (await clientRow('adv', 'named-locker')).link === '');
  });

  /** A transaction-level lock ends with its transaction: it must not pin. */
  it('does not pin for pg_advisory_xact_lock', async () => {
    const a = await connect('adv');
    await a.query("SET application_name = 'xact-locker'");
    await a.query('SELECT pg_advisory_xact_lock(7003)');
    expect((await clientRow('adv', 'xact-locker')).pins).toBe('');
    expect((await clientRow('adv', 'xact-locker')).link).toBe('');
  });
});

describe('temporary tables', () => {
  /** Without pinning, the creator's next transaction lands on another server where its table does not exist (42P01). */
  it('stays visible to its creator across many transactions while 10 others share the pool, until DROP', async () => {
    const a = await connect('tmp');
    await a.query("SET application_name = 'creator'");
    await a.query('CREATE TEMP TABLE scratch (n int)');
    const mine = await pid(a);
    const others = await Promise.all(Array.from({ length: 10 }, () => connect('tmp')));
    const seen = new Set<number>();
    for (let i = 1; i <= 20; i++) {
      const [, ...rest] = await Promise.all([a.query('INSERT INTO scratch VALUES ($1)', [i]), ...others.map((o) => pid(o))]);
      for (const p of rest) seen.add(p as number);
    }
    expect((await a.query('SELECT count(*)::int AS n FROM scratch')).rows[0].n).toBe(20);
    expect(await pid(a)).toBe(mine);
    expect(seen.has(mine)).toBe(false);
    expect(await pinnedNow('tmp', 'temp-table')).toBe(1);
    expect((await clientRow('tmp', 'creator')).pins).toBe('temp-table');
    // DROP of another table is no release.
    await a.query('CREATE TEMP TABLE other (n int)');
    await a.query('DROP TABLE other');
    expect(await pid(a)).toBe(mine);
    expect((await a.query('SELECT count(*)::int AS n FROM scratch')).rows[0].n).toBe(20);
    await a.query('DROP TABLE scratch');
    await waitFor('the pin to go', async () => (await pinnedNow('tmp', 'temp-table')) === 0);
    expect((await clientRow('tmp', 'creator')).link).toBe('');
  });

  it('releases the pin at DISCARD TEMP, and does not pin for ON COMMIT DROP or a rolled-back CREATE', async () => {
    const a = await connect('tmp');
    await a.query("SET application_name = 'discarder'");
    await a.query('CREATE TEMP TABLE t1 (n int)');
    await a.query('CREATE TEMP VIEW v1 AS SELECT 1 AS one');
    expect((await clientRow('tmp', 'discarder')).pins).toBe('temp-table');
    await a.query('DISCARD TEMP');
    await waitFor('the pin to go', async () => (await clientRow('tmp', 'discarder')).pins === '');
    expect((await clientRow('tmp', 'discarder')).link).toBe('');

    await a.query('BEGIN');
    await a.query('CREATE TEMP TABLE gone (n int) ON COMMIT DROP');
    await a.query('COMMIT');
    expect((await clientRow('tmp', 'discarder')).pins).toBe('');

    // A temp table created in a transaction that rolls back is gone with it.
    await a.query('BEGIN');
    await a.query('CREATE TEMP TABLE rolled (n int)');
    await a.query('ROLLBACK');
    await waitFor('the pin to go', async () => (await clientRow('tmp', 'discarder')).link === '');
    expect((await clientRow('tmp', 'discarder')).pins).toBe('');
    expect(await pinnedNow('tmp', 'temp-table')).toBe(0);
  });

  /** psycopg 3 as applications use it: a transaction per unit of work (no autocommit), statements prepared after 5 uses. */
  it('works for psycopg 3 across its transactions while other connections share the pool', async () => {
    const script = `
import json, os
import psycopg
env = os.environ
def conn():
    return psycopg.connect(host='127.0.0.1', port=int(env['PGMUX_PORT']), user='app', password=env['PGMUX_PASSWORD'], dbname='tmp')
a = conn()
others = [conn() for _ in range(4)]
a.execute('CREATE TEMP TABLE py_scratch (n int)')
a.commit()
pids, other_pids = set(), set()
for i in range(12):
    a.execute('INSERT INTO py_scratch VALUES (%s)', (i,))
    pids.add(a.execute('SELECT pg_backend_pid()').fetchone()[0])
    a.commit()
    for o in others:
        other_pids.add(o.execute('SELECT pg_backend_pid()').fetchone()[0])
        o.commit()
n = a.execute('SELECT count(*) FROM py_scratch').fetchone()[0]
a.commit()
print(json.dumps({'n': n, 'pids': sorted(pids), 'other': sorted(other_pids)}))
`;
    const r = await run('/usr/bin/python3', ['-c', script], { env: { ...process.env, PGMUX_PORT: String(port), PGMUX_PASSWORD: cluster.password } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { n: number; pids: number[]; other: number[] };
    expect(out.n).toBe(12);
    expect(out.pids).toHaveLength(1);
    expect(out.other).not.toContain(out.pids[0]);
  });
});

describe('WITH HOLD cursors and prepared transactions', () => {
  /** Without pinning, FETCH after the declaring transaction lands on another server: "cursor does not exist" (34000). */
  it('fetches a WITH HOLD cursor across transactions, then CLOSE releases the server', async () => {
    const a = await connect('cur');
    await a.query("SET application_name = 'fetcher'");
    const others = await Promise.all(Array.from({ length: 4 }, () => connect('cur')));
    await a.query('BEGIN');
    await a.query('DECLARE held CURSOR WITH HOLD FOR SELECT g FROM generate_series(1, 9) g');
    await a.query('COMMIT');
    const got: number[] = [];
    for (let i = 0; i < 3; i++) {
      const [rows] = await Promise.all([a.query('FETCH 3 FROM held'), ...others.map((o) => pid(o))]);
      for (const row of rows.rows) got.push(Number(row.g));
    }
    expect(got).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect((await clientRow('cur', 'fetcher')).pins).toBe('with-hold-cursor');
    expect(await pinnedNow('cur', 'with-hold-cursor')).toBe(1);
    await a.query('CLOSE held');
    await waitFor('the pin to go', async () => (await clientRow('cur', 'fetcher')).link === '');
    expect(await pinnedNow('cur', 'with-hold-cursor')).toBe(0);
  });

  it('pins from PREPARE TRANSACTION until COMMIT PREPARED, and leaves a prepared transaction of a client that left prepared', async () => {
    const a = await connect('xact');
    await a.query("SET application_name = 'two-phase'");
    await a.query('BEGIN');
    await a.query('INSERT INTO xact_rows VALUES (1)');
    await a.query("PREPARE TRANSACTION 'pgmux_spec_1'");
    expect((await clientRow('xact', 'two-phase')).pins).toBe('prepared-xact');
    expect(await pinnedNow('xact', 'prepared-xact')).toBe(1);
    await a.query("COMMIT PREPARED 'pgmux_spec_1'");
    await waitFor('the pin to go', async () => (await clientRow('xact', 'two-phase')).link === '');
    expect((await clientRow('xact', 'two-phase')).pins).toBe('');
    expect((await a.query('SELECT count(*)::int AS n FROM xact_rows')).rows[0].n).toBe(1);

    // A prepared transaction is not the session's: a client that leaves does not finish it.
    const b = await connect('xact');
    await b.query('BEGIN');
    await b.query('INSERT INTO xact_rows VALUES (2)');
    await b.query("PREPARE TRANSACTION 'pgmux_spec_2'");
    await b.end();
    const left = await cluster.query(cluster.primary, "SELECT count(*)::int AS n FROM pg_prepared_xacts WHERE gid = 'pgmux_spec_2'");
    expect(left.rows[0].n).toBe(1);
    await cluster.query(cluster.primary, "ROLLBACK PREPARED 'pgmux_spec_2'");
    await waitFor('the pin to go', async () => (await pinnedNow('xact', 'prepared-xact')) === 0);
  });
});

describe('max_pinned_clients_per_pool', () => {
  /** Without the limit, pinned clients can take every server of a pool and starve the rest. */
  it('refuses the statement that would pin one client too many with 53400 naming the limit; the session goes on', async () => {
    const a = await connect('capped');
    await a.query('CREATE TEMP TABLE mine (n int)');
    const b = await connect('capped');
    await b.query("SET application_name = 'refused'");
    const simple = await errorOf(b.query('SELECT pg_advisory_lock(7100)'));
    expect(simple.code).toBe('53400');
    expect(simple.message).toContain('max_pinned_clients_per_pool (1) reached');
    expect(simple.message).toContain('advisory-lock');
    // It never ran: nobody holds the lock.
    expect(await lockFreeDirectly(7100)).toBe(true);
    // Extended protocol too.
    expect((await errorOf(b.query('SELECT pg_advisory_lock($1)', [7100]))).code).toBe('53400');
    // Inside a transaction, the refusal fails the transaction as an error from PostgreSQL would.
    await b.query('BEGIN');
    expect((await errorOf(b.query('CREATE TEMP TABLE refused_tmp (n int)'))).code).toBe('53400');
    expect((await errorOf(b.query('SELECT 1'))).code).toBe('25P02');
    await b.query('ROLLBACK');
    // The session goes on, unpinned.
    expect((await b.query('SELECT 1 AS one')).rows[0].one).toBe(1);
    expect((await clientRow('capped', 'refused')).pins).toBe('');
    // Once the first client's state is gone, the second may pin.
    await a.query('DROP TABLE mine');
    await waitFor('the first pin to go', async () => (await pinnedNow('capped', 'temp-table')) === 0);
    await b.query('SELECT pg_advisory_lock(7100)');
    expect((await clientRow('capped', 'refused')).pins).toBe('advisory-lock');
    await b.query('SELECT pg_advisory_unlock_all()');
    await waitFor('the second pin to go', async () => (await clientRow('capped', 'refused')).pins === '');
  });
});

describe('statement mode', () => {
  it('keeps a client with a temp table on its server between statements', async () => {
    const a = await connect('stmt');
    await a.query('CREATE TEMP TABLE st (n int)');
    const others = await Promise.all(Array.from({ length: 3 }, () => connect('stmt')));
    for (let i = 0; i < 5; i++) await Promise.all([a.query('INSERT INTO st VALUES (1)'), ...others.map((o) => pid(o))]);
    expect((await a.query('SELECT count(*)::int AS n FROM st')).rows[0].n).toBe(5);
  });
});
