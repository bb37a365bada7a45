// Black-box spec: SQL-level PREPARE / EXECUTE / DEALLOCATE in a database with replicas (issue
// 11, item 3). `PREPARE q(bigint) AS SELECT …; EXECUTE q(1); DEALLOCATE q`, as one simple Query
// or three, must work; an EXECUTE of a read may run on a replica (pgmux prepares it there), one
// of a write, of FOR UPDATE, or with a volatile call in its arguments runs on the primary.
//
// A real primary and streaming replica behind pgmux (transaction mode, read_your_writes off so
// that only the statement decides); the node that ran each statement reports itself with
// pg_is_in_recovery() and inet_server_port(). A write reaching the replica would fail there
// ("cannot execute UPDATE in a read-only transaction"), so its success also proves the primary.

import { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { startPgmux, type PgmuxProcess } from '../support/pgmux';
import { freePort } from '../support/ports';
import { R, ranOn, until, type Where } from '../routing/support';

jest.setTimeout(30000);

let cluster: Cluster;
let pgmux: PgmuxProcess;
let port: number;
const clients: Client[] = [];

async function connect(): Promise<Client> {
  const c = new Client({ host: '127.0.0.1', port, user: 'app', password: cluster.password, database: 'app' });
  c.on('error', () => undefined);
  await c.connect();
  clients.push(c);
  return c;
}

beforeAll(async () => {
  cluster = await startCluster({ replica: true });
  await cluster.query(cluster.primary, 'CREATE TABLE rw (id int PRIMARY KEY, v text); CREATE SEQUENCE rw_seq; GRANT ALL ON rw, rw_seq TO app; INSERT INTO rw VALUES (1, $$one$$)');
  await cluster.waitForReplay();
  port = await freePort();
  const replica = cluster.replica;
  if (replica === undefined) throw new Error('no replica');
  const server = `host=${cluster.primary.host} port=${cluster.primary.port} dbname=app`;
  const ini =
    '[databases]\n' +
    `app = ${server} replicas=${replica.host}:${replica.port}\n` +
    '[pgbouncer]\n' +
    `listen_addr = 127.0.0.1\nlisten_port = ${port}\nunix_socket_dir =\n` +
    'auth_type = trust\nauth_file = userlist.txt\nadmin_users = app\n' +
    'pool_mode = transaction\ndefault_pool_size = 2\n' +
    'read_your_writes = off\nreplica_lag_poll_interval = 0.05\nmax_replica_lag = 64MB,60s\n';
  pgmux = await startPgmux(ini, { 'userlist.txt': `"app" "${cluster.password}"\n` });
  const admin = new Client({ host: '127.0.0.1', port, user: 'app', password: cluster.password, database: 'pgbouncer' });
  await connect();
  await admin.connect();
  try {
    await until('the replica to be up', async () => (await admin.query('SHOW REPLICAS')).rows.some((r) => r.database === 'app' && r.state === 'up'));
  } finally {
    await admin.end();
  }
}, 60000);

afterAll(async () => {
  for (const c of clients) await c.end().catch(() => undefined);
  await pgmux?.stop();
  await cluster?.stop();
});

const where = (c: Client, sql: string): Promise<Where> => ranOn(cluster, c, sql);

describe('SQL-level prepared statements with replicas', () => {
  it('PREPARE; EXECUTE; DEALLOCATE as one simple Query runs, on the replica (catches: 0A000 for the Query psql -c sends)', async () => {
    const c = await connect();
    for (let i = 0; i < 3; i++) {
      const res = (await c.query(`PREPARE q(bigint) AS SELECT ${R}, $1 + 1 AS n; EXECUTE q(${i}); DEALLOCATE q`)) as unknown as { command: string; rows: { r: boolean; p: number; n: string }[] }[];
      expect(res.map((r) => r.command)).toEqual(['PREPARE', 'SELECT', 'DEALLOCATE']);
      expect(res[1].rows).toEqual([{ r: true, p: cluster.replica?.port, n: String(i + 1) }]);
    }
    await expect(c.query('EXECUTE q(1)')).rejects.toMatchObject({ code: '26000' });
  });

  it('PREPARE, EXECUTE, DEALLOCATE as three Queries: the EXECUTE of a read runs on the replica, prepared there by pgmux (catches: every EXECUTE sent to the primary)', async () => {
    const c = await connect();
    await c.query(`PREPARE r(bigint) AS SELECT ${R}, $1 AS n`);
    for (let i = 0; i < 3; i++) expect(await where(c, `EXECUTE r(${i})`)).toBe('replica');
    expect((await c.query('DEALLOCATE r')).command).toBe('DEALLOCATE');
    await expect(c.query('EXECUTE r(1)')).rejects.toMatchObject({ code: '26000' });
  });

  it('an EXECUTE of a write, of FOR UPDATE, or with a volatile call in its arguments runs on the primary (catches: a write sent to the replica, where it fails)', async () => {
    const c = await connect();
    await c.query(`PREPARE w(int) AS UPDATE rw SET v = v WHERE id = $1 RETURNING ${R}`);
    await c.query(`PREPARE l AS SELECT ${R} FROM rw WHERE id = 1 FOR UPDATE`);
    await c.query(`PREPARE n(bigint) AS SELECT ${R}, $1 AS n`);
    for (let i = 0; i < 2; i++) {
      expect(await where(c, 'EXECUTE w(1)')).toBe('primary');
      expect(await where(c, 'EXECUTE l')).toBe('primary');
      expect(await where(c, "EXECUTE n(nextval('rw_seq'))")).toBe('primary');
      expect(await where(c, `EXECUTE n(1); UPDATE rw SET v = v WHERE id = 1; SELECT ${R}`)).toBe('primary');
    }
    // The read next to them still goes to the replica.
    expect(await where(c, 'EXECUTE n(1)')).toBe('replica');
  });

  it('a statement prepared by a protocol Parse is EXECUTEd by SQL on the replica, and one never prepared goes to the primary for its 26000 (catches: Parse and PREPARE names routed apart)', async () => {
    const c = await connect();
    const text = `SELECT ${R} WHERE $1::int = 1`;
    expect((await c.query({ name: 'by_parse', text, values: [1] })).rows).toHaveLength(1);
    expect(await where(c, 'EXECUTE by_parse(1)')).toBe('replica');
    await expect(c.query('EXECUTE nobody(1)')).rejects.toMatchObject({ code: '26000', message: 'prepared statement "nobody" does not exist' });
  });

  it('inside a transaction the EXECUTE runs where the transaction runs (catches: a statement routed apart from its transaction)', async () => {
    const c = await connect();
    await c.query(`PREPARE t AS SELECT ${R}`);
    await c.query('BEGIN');
    expect(await where(c, 'EXECUTE t')).toBe('primary');
    await c.query('COMMIT');
    await c.query('BEGIN READ ONLY');
    expect(await where(c, 'EXECUTE t')).toBe('replica');
    await c.query('COMMIT');
  });
});
