// SHOW POOLS while reads are routed to a replica (issue 11, item 9): clients queued on a replica's
// pool used to enter no pool's client count, so that row's cl_active went negative (its count
// was "logged-in clients of this pool minus waiting", and routed clients log in to the primary's
// pool). Each client must be counted once, in the pool it is queued in or linked through, and a
// database's rows must add up to its clients.

import { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { startPgmux, type PgmuxProcess } from '../support/pgmux';
import { freePort } from '../support/ports';
import { R, ranOn, until } from './support';

let cluster: Cluster;
let pgmux: PgmuxProcess;
let port: number;
const clients: Client[] = [];

async function connect(db = 'app'): Promise<Client> {
  const c = new Client({ host: '127.0.0.1', port, user: 'app', password: cluster.password, database: db });
  await c.connect();
  clients.push(c);
  return c;
}

async function admin(sql: string): Promise<Record<string, unknown>[]> {
  const c = new Client({ host: '127.0.0.1', port, user: 'app', password: cluster.password, database: 'pgbouncer' });
  await c.connect();
  try {
    return (await c.query(sql)).rows as Record<string, unknown>[];
  } finally {
    await c.end();
  }
}

interface PoolCounts {
  cl_active: number;
  cl_waiting: number;
  sv_active: number;
}

/** SHOW POOLS rows of database app (app and app@host:port), by database. */
async function pools(): Promise<Map<string, PoolCounts>> {
  const out = new Map<string, PoolCounts>();
  for (const r of await admin('SHOW POOLS')) {
    const db = String(r.database);
    if (db !== 'app' && !db.startsWith('app@')) continue;
    out.set(db, { cl_active: Number(r.cl_active), cl_waiting: Number(r.cl_waiting), sv_active: Number(r.sv_active) });
  }
  return out;
}

beforeAll(async () => {
  cluster = await startCluster({ replica: true });
  port = await freePort();
  const replica = cluster.replica;
  if (replica === undefined) throw new Error('no replica');
  const ini =
    '[databases]\n' +
    `app = host=${cluster.primary.host} port=${cluster.primary.port} dbname=app replicas=${replica.host}:${replica.port}\n` +
    '[pgbouncer]\n' +
    `listen_addr = 127.0.0.1\nlisten_port = ${port}\nunix_socket_dir =\n` +
    'auth_type = trust\nauth_file = userlist.txt\nadmin_users = app\n' +
    // One server per pool: the second read routed to the replica queues there.
    'pool_mode = transaction\ndefault_pool_size = 1\n' +
    'read_your_writes = off\nreplica_lag_poll_interval = 0.05\nmax_replica_lag = 64MB,60s\n';
  pgmux = await startPgmux(ini, { 'userlist.txt': `"app" "${cluster.password}"\n` });
  const first = await connect();
  await until('the replica to take reads', async () => (await ranOn(cluster, first, `SELECT ${R}`)) === 'replica');
}, 60000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  await pgmux?.stop();
  await cluster?.stop();
});

it('counts clients queued on and linked through a replica pool in that pool, never negative, adding up to all clients', async () => {
  const [reader, queued1, queued2, inTx, idle] = [await connect(), await connect(), await connect(), await connect(), clients[0]!];
  // The replica's only server: held by a slow read.
  const slow = reader.query(`SELECT ${R}, pg_sleep(1.5)`);
  const replicaRow = async (): Promise<PoolCounts | undefined> => [...(await pools()).entries()].find(([db]) => db.startsWith('app@'))?.[1];
  await until('the slow read to hold the replica server', async () => (await replicaRow())?.sv_active === 1);
  // Two more reads for the replica queue behind it; a transaction runs on the primary.
  const waiting = [queued1.query(`SELECT ${R}`), queued2.query(`SELECT ${R}`)];
  await inTx.query('BEGIN');
  await inTx.query('SELECT txid_current()');
  await until('both reads to queue on the replica pool', async () => (await replicaRow())?.cl_waiting === 2);

  const rows = await pools();
  const replica = [...rows.entries()].find(([db]) => db.startsWith('app@'))![1];
  const primary = rows.get('app')!;
  // The replica's pool: the slow reader linked, the two reads queued.
  expect(replica).toEqual({ cl_active: 1, cl_waiting: 2, sv_active: 1 });
  // The primary's pool: the client in its transaction (linked) and the idle one.
  expect(primary).toEqual({ cl_active: 2, cl_waiting: 0, sv_active: 1 });
  for (const r of rows.values()) expect(Math.min(r.cl_active, r.cl_waiting)).toBeGreaterThanOrEqual(0);
  expect(replica.cl_active + replica.cl_waiting + primary.cl_active + primary.cl_waiting).toBe(5);

  // The reads are answered by the replica in turn; afterwards every client is back, idle, in its own pool.
  for (const r of [await slow, ...(await Promise.all(waiting))]) expect((r.rows[0] as { r: boolean }).r).toBe(true);
  await inTx.query('COMMIT');
  await until('every client idle in the primary pool', async () => {
    const after = await pools();
    const rep = [...after.entries()].find(([db]) => db.startsWith('app@'))![1];
    return JSON.stringify(after.get('app')) === JSON.stringify({ cl_active: 5, cl_waiting: 0, sv_active: 0 }) && rep.cl_active === 0 && rep.cl_waiting === 0;
  });
  expect(idle).toBeDefined();
});
