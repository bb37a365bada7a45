// Specs for read/write splitting wired into the client path (issue 6): a real primary and
// streaming replica behind pgmux, where the server that ran each statement is observed with
// in_hot_standby and inet_server_port(). One cluster and one pgmux for the whole file.

import { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { startPgmux, type PgmuxProcess } from '../support/pgmux';
import { freePort } from '../support/ports';
import { consoleRows } from '../support/console';
import { R, ranOn, until, type Where } from './support';

let cluster: Cluster;
let pgmux: PgmuxProcess;
let port: number;
const clients: Client[] = [];

async function connect(db = 'app', user = 'app'): Promise<Client> {
  const c = new Client({ host: '127.0.0.1', port, user, password: cluster.password, database: db });
  await c.connect();
  clients.push(c);
  return c;
}

/** Which node ran `sql`, which must return in_hot_standby as its first column `r` and inet_server_port() as `p`. */
const where = (c: Client, sql = `SELECT ${R}`): Promise<Where> => ranOn(cluster, c, sql);

function admin(sql: string): Promise<Record<string, unknown>[]> {
  return consoleRows(port, 'app', cluster.password, sql);
}

async function replicaState(): Promise<string | undefined> {
  const rows = await admin('SHOW REPLICAS');
  return rows.find((r) => r.database === 'app')?.state as string | undefined;
}

beforeAll(async () => {
  cluster = await startCluster({ replica: true });
  await cluster.query(
    cluster.primary,
    'CREATE TABLE rw (id int PRIMARY KEY, v text); CREATE SEQUENCE rw_seq; GRANT ALL ON rw, rw_seq TO app; INSERT INTO rw VALUES (1, $$one$$)',
  );
  // User functions of each volatility; all are harmless on a replica, so only routing tells them apart.
  await cluster.query(
    cluster.primary,
    'CREATE FUNCTION stable_fn() RETURNS int STABLE LANGUAGE sql AS $$SELECT 1$$; ' +
      'CREATE FUNCTION volatile_fn() RETURNS int VOLATILE LANGUAGE sql AS $$SELECT 1$$; ' +
      'CREATE FUNCTION listed_fn() RETURNS int VOLATILE LANGUAGE sql AS $$SELECT 1$$; ' +
      'CREATE FUNCTION mixed_fn(int) RETURNS int STABLE LANGUAGE sql AS $$SELECT 1$$; ' +
      'CREATE FUNCTION mixed_fn(text) RETURNS int VOLATILE LANGUAGE sql AS $$SELECT 1$$',
  );
  await cluster.waitForReplay();
  port = await freePort();
  const replica = cluster.replica;
  if (replica === undefined) throw new Error('no replica');
  const server = `host=${cluster.primary.host} port=${cluster.primary.port} dbname=app`;
  const replicas = `replicas=${replica.host}:${replica.port}`;
  const ini =
    '[databases]\n' +
    `app = ${server} ${replicas}\n` +
    `ro = ${server} ${replicas} route=replica\n` +
    `plain = ${server}\n` +
    `sess = ${server} ${replicas} pool_mode=session\n` +
    '[pgbouncer]\n' +
    `listen_addr = 127.0.0.1\nlisten_port = ${port}\nunix_socket_dir =\n` +
    'auth_type = trust\nauth_file = userlist.txt\nadmin_users = app\n' +
    'pool_mode = transaction\ndefault_pool_size = 4\nmax_prepared_statements = 100\n' +
    'read_your_writes = connection\nread_your_writes_timeout = 0.3\nreplica_lag_poll_interval = 0.05\nmax_replica_lag = 64MB,60s\n' +
    'read_only_functions = listed_fn\n';
  pgmux = await startPgmux(ini, { 'userlist.txt': `"app" "${cluster.password}"\n` });
  // The tracker starts at the first routed login; it takes a poll or two to call the replica up.
  await connect();
  await until('the replica to be up', async () => (await replicaState()) === 'up');
}, 60000);

afterAll(async () => {
  for (const c of clients) await c.end().catch(() => undefined);
  await pgmux?.stop();
  await cluster?.stop();
});

describe('read/write splitting', () => {
  /** Reads never leaving the primary would be a router that is configured but not wired. */
  it('runs plain SELECTs outside a transaction on the replica, simple and extended protocol', async () => {
    const c = await connect();
    for (let i = 0; i < 3; i++) expect(await where(c)).toBe('replica');
    // Unnamed and named prepared statements: decided at Parse, reused at Bind, on any replica server.
    const q = `SELECT current_setting('in_hot_standby')::bool AS r, inet_server_port() AS p WHERE $1::int = 1`;
    expect((await c.query(q, [1])).rows[0].r).toBe(true);
    for (let i = 0; i < 3; i++) expect((await c.query({ name: 'named_read', text: q, values: [1] })).rows[0].r).toBe(true);
  });

  /** A write that reached the replica would fail ("read-only transaction"); a locking read there would not lock. */
  it('sends every write kind to the primary', async () => {
    const c = await connect();
    const r = R;
    expect(await where(c, `INSERT INTO rw VALUES (2, 'two') RETURNING ${r}`)).toBe('primary');
    expect(await where(c, `UPDATE rw SET v = 'deux' WHERE id = 2 RETURNING ${r}`)).toBe('primary');
    expect(await where(c, `SELECT ${r} FROM rw WHERE id = 1 FOR UPDATE`)).toBe('primary');
    expect(await where(c, `SELECT nextval('rw_seq'), ${r}`)).toBe('primary');
    expect(await where(c, `WITH d AS (DELETE FROM rw WHERE id = 2 RETURNING id) SELECT ${r} FROM d`)).toBe('primary');
    expect(await where(c, `/* pgmux:primary */ SELECT ${r}`)).toBe('primary');
    // Extended protocol: the Parse decides.
    expect((await c.query(`INSERT INTO rw VALUES ($1, 'three') RETURNING ${r}`, [3])).rows[0].r).toBe(false);
  });

  /** A read that skipped the wait would be stale; one that never waited for the replica would load the primary. */
  it('lets a read after a write wait for the replica to replay it, then run there', async () => {
    const c = await connect();
    await c.query("INSERT INTO rw VALUES (200, 'fresh')");
    const res = await c.query(`SELECT v, current_setting('in_hot_standby')::bool AS r FROM rw WHERE id = 200`);
    expect(res.rows).toEqual([{ v: 'fresh', r: true }]);
  });

  /** Session pooling keeps one server per client for good: routing there would strand writes on a replica. */
  it('leaves a session-mode database on the primary', async () => {
    const c = await connect('sess');
    expect(await where(c)).toBe('primary');
    expect(await where(c, `INSERT INTO rw VALUES (300, 's') RETURNING ${R}`)).toBe('primary');
  });

  /** A transaction split across nodes would see neither its own writes nor consistent reads. */
  it('keeps a transaction on the primary, and a READ ONLY one on the replica', async () => {
    const c = await connect();
    await c.query('BEGIN');
    expect(await where(c)).toBe('primary');
    expect(await where(c)).toBe('primary');
    await c.query('COMMIT');
    await c.query('BEGIN READ ONLY');
    expect(await where(c)).toBe('replica');
    expect(await where(c)).toBe('replica');
    await c.query('COMMIT');
  });

  /**
   * A session SET follows the client to any server (lib/session/settings), replicas included: it
   * no longer pins, and the value is there on the replica (issue 14).
   */
  it('keeps routing reads of a client that SETs to the replica, where its settings are replayed', async () => {
    const c = await connect();
    expect(await where(c)).toBe('replica');
    await c.query("SET application_name = 'follows'; SET statement_timeout = '7s'; SET myapp.tenant = 'r1'; SET search_path = public, pg_catalog");
    expect(await where(c)).toBe('replica');
    const r = await c.query<{ r: boolean; app: string; st: string; t: string; sp: string }>(
      "SELECT current_setting('in_hot_standby')::bool AS r, current_setting('application_name') AS app, current_setting('statement_timeout') AS st, current_setting('myapp.tenant') AS t, current_setting('search_path') AS sp",
    );
    expect(r.rows[0]).toEqual({ r: true, app: 'follows', st: '7s', t: 'r1', sp: 'public, pg_catalog' });
  });

  /**
   * The same from the startup packet (`options=-c`), which no statement shows the classifier: a
   * value that follows reads on the replica; default_transaction_isolation = serializable would
   * fail every read there, so it pins.
   */
  it('routes a client by its startup options: -c statement_timeout reads on the replica with it, -c default_transaction_isolation=serializable stays on the primary', async () => {
    const open = async (options: string): Promise<Client> => {
      const c = new Client({ host: '127.0.0.1', port, user: 'app', password: cluster.password, database: 'app', options });
      await c.connect();
      clients.push(c);
      return c;
    };
    const follows = await open('-c statement_timeout=7s');
    expect(await where(follows)).toBe('replica');
    expect((await follows.query(`SELECT ${R}, current_setting('statement_timeout') AS st`)).rows[0]).toMatchObject({ r: true, st: '7s' });
    const serializable = await open('-c default_transaction_isolation=serializable');
    expect(await where(serializable)).toBe('primary');
    expect(await where(serializable)).toBe('primary');
  });

  /** SERIALIZABLE as the default fails every transaction on a hot standby: that SET keeps the client on the primary. */
  it('pins a client that SETs default_transaction_isolation to the primary', async () => {
    const c = await connect();
    expect(await where(c)).toBe('replica');
    await c.query("SET default_transaction_isolation = 'serializable'");
    expect(await where(c)).toBe('primary');
  });

  /** SHOW ROUTE must give the same verdict the router acts on, with its reason code; SHOW REPLICAS the tracker's view. */
  it('explains decisions with SHOW ROUTE and counts reads in SHOW REPLICAS', async () => {
    const read = await admin('SHOW ROUTE SELECT * FROM rw');
    expect(read.find((r) => r.database === 'app')).toMatchObject({ route: 'replica', reason: 'replica: plain select' });
    const write = await admin("SHOW ROUTE INSERT INTO rw VALUES (9, 'x')");
    expect(write.find((r) => r.database === 'app')?.route).toBe('primary');
    const rows = await admin('SHOW REPLICAS');
    const app = rows.find((r) => r.database === 'app');
    expect(app).toMatchObject({ host: cluster.replica?.host, port: cluster.replica?.port, state: 'up' });
    expect(Number(app?.reads_routed)).toBeGreaterThan(0);
    expect(String(app?.replay_lsn)).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    // The replica's pool has its own SHOW POOLS row, apart from the primary's.
    const pools = (await admin('SHOW POOLS')).map((r) => `${String(r.database)}/${String(r.user)}`);
    expect(pools).toEqual(expect.arrayContaining(['app/app', `app@${cluster.replica?.host}:${cluster.replica?.port}/app`]));
  });

  /** The read/only alias would be useless (or dangerous) if it ever used the primary. */
  it('sends everything of a route=replica database to the replica', async () => {
    const c = await connect('ro');
    expect(await where(c)).toBe('replica');
    await expect(c.query("INSERT INTO rw VALUES (50, 'no')")).rejects.toThrow(/read-only transaction/);
  });

  /** Without read-your-writes a client would not see the row it just inserted. */
  it('reads a client its own write while the replica is stale, and others may read stale', async () => {
    const replica = cluster.replica as NonNullable<Cluster['replica']>;
    await cluster.query(replica, 'SELECT pg_wal_replay_pause()');
    try {
      const writer = await connect();
      const other = await connect();
      expect(await where(other)).toBe('replica');
      await writer.query("INSERT INTO rw VALUES (100, 'mine')");
      const mine = await writer.query(`SELECT v, current_setting('in_hot_standby')::bool AS r FROM rw WHERE id = 100`);
      expect(mine.rows).toEqual([{ v: 'mine', r: false }]);
      // Another connection's scope has no write: it reads the paused replica, which lacks the row.
      const theirs = await other.query(`SELECT v, current_setting('in_hot_standby')::bool AS r FROM rw WHERE id = 100`);
      expect(theirs.rows).toEqual([]);
      expect(await where(other)).toBe('replica');
    } finally {
      await cluster.query(replica, 'SELECT pg_wal_replay_resume()');
    }
    await cluster.waitForReplay();
    // Once replayed, the writer's reads go back to the replica.
    const c = await connect();
    await c.query("INSERT INTO rw VALUES (101, 'later')");
    await until('the writer to read from the replica again', async () => (await where(c)) === 'replica');
    expect((await c.query('SELECT v FROM rw WHERE id = 101')).rows).toEqual([{ v: 'later' }]);
  });

  /** A down replica must cost no errors: reads go to the primary, and come back by themselves. */
  it('reads on the primary while the replica is down, and on the replica once it is back', async () => {
    const replica = cluster.replica as NonNullable<Cluster['replica']>;
    const c = await connect();
    expect(await where(c)).toBe('replica');
    await cluster.stopNode(replica);
    for (let i = 0; i < 5; i++) expect(await where(c)).toBe('primary');
    const fresh = await connect();
    expect(await where(fresh)).toBe('primary');
    await cluster.startNode(replica);
    await until('reads to return to the replica', async () => (await where(c)) === 'replica', 20000);
  }, 40000);
});

describe('user function volatility (pg_proc.provolatile)', () => {
  const r = R;

  /**
   * Without the lookup wired, every user function would go to the primary (stable ones too); with
   * it wrong, a volatile one would run on a replica; and read_only_functions must beat the lookup.
   */
  it('runs STABLE functions on the replica, VOLATILE ones on the primary, unless listed in read_only_functions', async () => {
    const c = await connect();
    // The lookup is fetched from the primary when the replica set starts; until then all user functions are unknown.
    await until('the volatility lookup to load', async () => (await where(c, `SELECT stable_fn(), ${r}`)) === 'replica');
    expect(await where(c, `SELECT public.stable_fn(), ${r}`)).toBe('replica');
    expect(await where(c, `SELECT volatile_fn(), ${r}`)).toBe('primary');
    expect(await where(c, `SELECT public.volatile_fn(), ${r}`)).toBe('primary');
    expect(await where(c, `SELECT listed_fn(), ${r}`)).toBe('replica');
    // Overloads are not resolved by argument type: one volatile overload makes the name volatile.
    expect(await where(c, `SELECT mixed_fn(1), ${r}`)).toBe('primary');
    // Extended protocol: the Parse's classification uses the same lookup.
    expect((await c.query(`SELECT stable_fn() + $1::int AS x, ${r}`, [1])).rows[0].r).toBe(true);
    expect((await c.query(`SELECT volatile_fn() + $1::int AS x, ${r}`, [1])).rows[0].r).toBe(false);
    const route = await admin('SHOW ROUTE SELECT volatile_fn()');
    expect(route.find((row) => row.database === 'app')).toMatchObject({ route: 'primary', reason: 'primary: volatile function volatile_fn' });
  });

  /** A lookup taken once and never refreshed would keep a function created later on the primary forever. */
  it('looks volatility up again at RELOAD', async () => {
    await cluster.query(cluster.primary, 'CREATE FUNCTION late_fn() RETURNS int IMMUTABLE LANGUAGE sql AS $$SELECT 2$$');
    await cluster.waitForReplay();
    const c = await connect();
    await until('the replica to be up', async () => (await replicaState()) === 'up', 30000);
    // Unknown to the lookup taken at start: the primary, the safe side.
    expect(await where(c, `SELECT late_fn(), ${r}`)).toBe('primary');
    await admin('RELOAD');
    await until('late_fn to be known as immutable', async () => (await where(c, `SELECT late_fn(), ${r}`)) === 'replica');
  }, 40000);
});

describe('session pins counted by reason (SHOW PINS)', () => {
  type Counts = Record<string, { now: number; total: number }>;
  async function pins(): Promise<Counts> {
    const out: Counts = {};
    for (const row of await admin('SHOW PINS')) {
      if (row.database === 'app') out[String(row.reason)] = { now: Number(row.pinned_now), total: Number(row.pinned_total) };
    }
    return out;
  }
  const REASONS = ['set', 'temp-table', 'advisory-lock', 'with-hold-cursor'];
  /** Every row SHOW PINS has (a prepared transaction pins too: spec/session/pins.spec.ts). */
  const ALL_REASONS = [...REASONS, 'prepared-xact'];

  /**
   * Counts that never move, move for the wrong reason, never come down on unlock or disconnect, or
   * count a client twice for the same reason would make the view lie about why reads hit the primary.
   */
  it('counts each pin reason now and in total, and releases on unlock and on disconnect', async () => {
    const before = await pins();
    expect(Object.keys(before).sort()).toEqual([...ALL_REASONS].sort());
    const c = new Client({ host: '127.0.0.1', port, user: 'app', password: cluster.password, database: 'app' });
    await c.connect();
    try {
      await c.query("SET default_transaction_isolation = 'repeatable read'");
      await c.query('SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL REPEATABLE READ');
      await c.query('LISTEN pin_channel');
      await c.query('CREATE TEMP TABLE pin_tmp (x int)');
      await c.query('SELECT pg_advisory_lock(4242)');
      await c.query('BEGIN');
      await c.query('DECLARE pin_cur CURSOR WITH HOLD FOR SELECT 1');
      await c.query('COMMIT');
      const during = await pins();
      // LISTEN pins nothing: pgmux answers it, its listener connection gets the notifications (lib/session); SHOW PINS has no row for it.
      expect(during.listen).toBeUndefined();
      for (const reason of REASONS) {
        // The second SET does not count the already pinned client again.
        expect({ reason, now: during[reason].now - before[reason].now, total: during[reason].total - before[reason].total }).toEqual({ reason, now: 1, total: 1 });
      }
      await c.query('SELECT pg_advisory_unlock_all()');
      // The server is asked what remains once the statement is done (lib/session/pins): the count follows its answer.
      await until('the advisory lock pin to go', async () => (await pins())['advisory-lock'].now === before['advisory-lock'].now);
      const unlocked = await pins();
      expect(unlocked['advisory-lock']).toEqual({ now: before['advisory-lock'].now, total: before['advisory-lock'].total + 1 });
      expect(unlocked.set.now).toBe(before.set.now + 1);
    } finally {
      await c.end();
    }
    await until('the closed client to release its pins', async () => {
      const after = await pins();
      return REASONS.every((r) => after[r].now === before[r].now && after[r].total === before[r].total + 1);
    });
  });
});
