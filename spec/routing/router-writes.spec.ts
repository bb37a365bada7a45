// Specs for issue 6's "every write kind runs on the primary", end to end: a real primary and
// streaming replica behind pgmux (transaction pooling, replicas=), node-postgres (and psql for
// COPY FROM STDIN). Where a statement can return a value it returns in_hot_standby and
// inet_server_port(); where it cannot, it must succeed through pgmux and, as a control, fail when
// sent straight to the replica. One cluster and one pgmux for the whole file.

import { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { startPgmux, type PgmuxProcess } from '../support/pgmux';
import { freePort } from '../support/ports';
import { psql } from '../support/clients';
import { R, ranOn, until, type Where } from './support';

let cluster: Cluster;
let pgmux: PgmuxProcess;
let port: number;
const clients: Client[] = [];

async function connect(): Promise<Client> {
  const c = new Client({ host: '127.0.0.1', port, user: 'app', password: cluster.password, database: 'app' });
  await c.connect();
  clients.push(c);
  return c;
}

/** Which node ran `sql`; its last result's first row carries in_hot_standby as `r` and inet_server_port() as `p`. */
const where = (c: Client, sql: string): Promise<Where> => ranOn(cluster, c, sql);

beforeAll(async () => {
  cluster = await startCluster({ replica: true });
  await cluster.query(
    cluster.primary,
    'CREATE TABLE w (id int PRIMARY KEY, v text); CREATE SEQUENCE w_seq; GRANT ALL ON w, w_seq TO app; ' +
      "INSERT INTO w SELECT g, 'x' FROM generate_series(1, 20) g; " +
      // STABLE, so only the write_functions entry can send it to the primary.
      'CREATE FUNCTION audit_fn() RETURNS int STABLE LANGUAGE sql AS $$SELECT 1$$; ' +
      'CREATE FUNCTION stable_fn() RETURNS int STABLE LANGUAGE sql AS $$SELECT 1$$; ' +
      'CREATE FUNCTION volatile_fn() RETURNS int VOLATILE LANGUAGE sql AS $$SELECT 1$$',
  );
  await cluster.waitForReplay();
  port = await freePort();
  const replica = cluster.replica;
  if (replica === undefined) throw new Error('no replica');
  const ini =
    '[databases]\n' +
    `app = host=${cluster.primary.host} port=${cluster.primary.port} dbname=app replicas=${replica.host}:${replica.port}\n` +
    '[pgbouncer]\n' +
    `listen_addr = 127.0.0.1\nlisten_port = ${port}\nunix_socket_dir =\n` +
    'auth_type = trust\nauth_file = userlist.txt\n' +
    'pool_mode = transaction\ndefault_pool_size = 4\n' +
    // Reads right after a write may go to the primary briefly; none of the cases below depend on it.
    'read_your_writes = off\nreplica_lag_poll_interval = 0.05\nmax_replica_lag = 64MB,60s\n' +
    'write_functions = audit_fn\n';
  pgmux = await startPgmux(ini, { 'userlist.txt': `"app" "${cluster.password}"\n` });
  // Control for the whole file: reads do reach the replica (else "primary" below proves nothing), and
  // the volatility lookup has loaded (else an unknown function goes to the primary for that alone).
  const c = await connect();
  await until('a STABLE function read to run on the replica', async () => (await where(c, `SELECT stable_fn(), ${R}`)) === 'replica');
}, 60000);

afterAll(async () => {
  for (const c of clients) await c.end().catch(() => undefined);
  await pgmux?.stop();
  await cluster?.stop();
});

/** A statement that returns the node it ran on. */
interface Returns {
  kind: string;
  sql: string;
}

const returning: Returns[] = [
  // A plain DELETE (not in a CTE) classified as a read.
  { kind: 'DELETE … RETURNING', sql: `DELETE FROM w WHERE id = 20 RETURNING ${R}` },
  // Only FOR UPDATE recognised as a locking clause; the other strengths would lock nothing on a replica.
  { kind: 'SELECT … FOR NO KEY UPDATE', sql: `SELECT ${R} FROM w WHERE id = 1 FOR NO KEY UPDATE` },
  { kind: 'SELECT … FOR SHARE', sql: `SELECT ${R} FROM w WHERE id = 1 FOR SHARE` },
  { kind: 'SELECT … FOR KEY SHARE', sql: `SELECT ${R} FROM w WHERE id = 1 FOR KEY SHARE` },
  // A writing CTE missed when it is not the first CTE, or when it is an INSERT/UPDATE.
  { kind: 'writing CTE after a reading one', sql: `WITH a AS (SELECT 1 AS x), u AS (UPDATE w SET v = 'y' WHERE id = 2 RETURNING id) SELECT ${R} FROM u, a` },
  { kind: 'INSERT in a CTE', sql: `WITH i AS (INSERT INTO w VALUES (21, 'i') RETURNING id) SELECT ${R} FROM i` },
  // setval only matched as nextval.
  { kind: 'setval', sql: `SELECT setval('w_seq', 10), ${R}` },
  // A transaction-scoped advisory lock taken on a replica would not exclude writers on the primary.
  { kind: 'advisory xact lock', sql: `SELECT pg_try_advisory_xact_lock(77) AS got, ${R}` },
  { kind: 'txid_current', sql: `SELECT txid_current(), ${R}` },
  { kind: 'pg_current_wal_lsn', sql: `SELECT pg_current_wal_lsn(), ${R}` },
  // set_config (even is_local) on a replica would set it on a server the client's next write never sees.
  { kind: 'set_config', sql: `SELECT set_config('pgmux_spec.x', '1', true), ${R}` },
  // pg_notify on a replica would reach no listener (and errors in recovery).
  { kind: 'pg_notify', sql: `SELECT pg_notify('chan', 'hi'), ${R}` },
  { kind: 'lo_* (large objects)', sql: `SELECT lo_unlink(lo_create(0)), ${R}` },
  // write_functions ignored: audit_fn is STABLE, so only the list can send it to the primary.
  { kind: 'a write_functions entry', sql: `SELECT audit_fn(), ${R}` },
  // A user VOLATILE function (provolatile 'v') not looked up, or looked up but ignored.
  { kind: 'a VOLATILE user function', sql: `SELECT volatile_fn(), ${R}` },
  // Multi-statement string classified by its first part (a read) only.
  { kind: 'multi-statement, read then write', sql: `SELECT 1; INSERT INTO w VALUES (22, 'm'); SELECT ${R}` },
  // LOCK outside BEGIN is refused by PostgreSQL, but a multi-statement string is an implicit
  // transaction block where it is allowed: the read after it would take the string to the replica.
  { kind: 'LOCK (implicit transaction block)', sql: `LOCK TABLE w IN ROW EXCLUSIVE MODE; SELECT ${R}` },
];

/** A statement that returns no row to carry the node: success through pgmux, failure on the replica. */
interface Succeeds {
  kind: string;
  sql: string;
}

const succeeding: Succeeds[] = [
  // MERGE (no RETURNING in PostgreSQL 15) unknown to the lexer and defaulted to a read.
  { kind: 'MERGE', sql: "MERGE INTO w USING (VALUES (3)) s(id) ON w.id = s.id WHEN MATCHED THEN UPDATE SET v = 'merged'" },
  // DDL classified as a read because it starts with neither INSERT/UPDATE/DELETE.
  { kind: 'DDL (CREATE TABLE)', sql: 'CREATE TABLE ddl_made (x int)' },
  // SELECT INTO read as a plain SELECT (it creates a table).
  { kind: 'SELECT INTO', sql: 'SELECT id, v INTO into_made FROM w' },
  // EXPLAIN read as a read without looking at ANALYZE and the statement it runs.
  { kind: 'EXPLAIN ANALYZE of a write', sql: "EXPLAIN ANALYZE INSERT INTO w VALUES (23, 'e')" },
];

/** Errors a hot standby gives for these: read-only transaction, or a lock mode refused in recovery. */
const REFUSED_ON_REPLICA = ['25006', '0A000', '55000'];

async function refusedOnReplica(sql: string): Promise<void> {
  const replica = cluster.replica;
  if (replica === undefined) throw new Error('no replica');
  const err = await cluster.query(replica, sql, 'app').then(
    () => undefined,
    (e: unknown) => e as { code?: string },
  );
  expect(err).toBeDefined();
  expect(REFUSED_ON_REPLICA).toContain(err?.code);
}

describe('every write kind runs on the primary', () => {
  /** Each case names the misclassification it catches in the comment above its row. */
  it.each(returning)('$kind', async ({ sql }) => {
    const c = await connect();
    expect(await where(c, sql)).toBe('primary');
  });

  /** Sent to the replica these fail, so success through pgmux proves the primary ran them. */
  it.each(succeeding)('$kind succeeds through pgmux and is refused by the replica', async ({ sql }) => {
    const c = await connect();
    await expect(c.query(sql)).resolves.toBeDefined();
    await refusedOnReplica(sql);
  });

  /** COPY FROM STDIN read as a plain COPY (TO) and sent to the replica, where it is refused. node-postgres
   * cannot feed COPY data without pg-copy-streams, so psql (a real client) sends it. */
  it('COPY … FROM STDIN succeeds through pgmux and is refused by the replica', async () => {
    const res = await psql(
      ['-h', '127.0.0.1', '-p', String(port), '-U', 'app', '-d', 'app', '-X', '-v', 'ON_ERROR_STOP=1', '-c', 'COPY w FROM STDIN'],
      { PGPASSWORD: cluster.password },
      '30\tcopied\n31\tcopied\n\\.\n',
    );
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const rows = await cluster.query(cluster.primary, 'SELECT count(*)::int AS n FROM w WHERE id IN (30, 31)');
    expect(rows.rows).toEqual([{ n: 2 }]);
    await refusedOnReplica('COPY w FROM STDIN');
  });
});
