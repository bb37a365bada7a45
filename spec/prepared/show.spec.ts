// Black-box spec of SHOW PREPARED (issue 4, "Memory"): the admin console lists the shared
// registry's statements with their server-side name, text, parameter types, use count and how
// many servers hold each. Every number it prints is checked against what the two servers of a
// default_pool_size=2 pool really hold (pg_prepared_statements, read inside a transaction that
// pins each client to its own server).

import { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { createLoggedRoles, startFront, type Front } from './support';

jest.setTimeout(30000);

const ROLES = ['ps_user', 'ps_admin'];

let cluster: Cluster;
let front: Front;
const consoles: Client[] = [];

beforeAll(async () => {
  cluster = await startCluster();
  await createLoggedRoles(cluster, ROLES);
  front = await startFront(cluster, ROLES, { admin_users: 'ps_admin' });
});

afterAll(async () => {
  await Promise.all(consoles.map((c) => c.end().catch(() => undefined)));
  await front?.stop();
  await cluster?.stop();
});

interface PreparedRow {
  name: string;
  query: string;
  parameter_types: string;
  uses: string;
  servers: number;
}

async function showPrepared(): Promise<PreparedRow[]> {
  const c = new Client({ host: '127.0.0.1', port: front.port, user: 'ps_admin', password: cluster.password, database: 'pgbouncer' });
  c.on('error', () => undefined);
  consoles.push(c);
  await c.connect();
  const r = await c.query<PreparedRow>('SHOW PREPARED');
  await c.end();
  return r.rows;
}

/** Server-side names the client's current server holds (call inside a transaction). */
async function held(c: Client): Promise<string[]> {
  const r = await c.query<{ name: string }>('SELECT name FROM pg_prepared_statements');
  return r.rows.map((row) => row.name);
}

describe('SHOW PREPARED', () => {
  /**
   * Would catch a view that is missing, reads another counter than the registry's, counts a
   * statement once per client instead of once per server, or names it differently from what
   * the servers really hold.
   */
  it('lists a statement three clients used on two servers with servers = 2, uses >= 3 and the name the servers hold', async () => {
    const text = 'SELECT $1::int + 40 AS show_prepared_probe';
    const a = await front.connect('ps_user');
    const b = await front.connect('ps_user');
    // a pins one server in its transaction, so b can only get the other one.
    await a.query('BEGIN');
    const ra = await a.query({ name: 'probe_a', text, values: [1] });
    expect(ra.rows[0].show_prepared_probe).toBe(41);
    const pidA = (await a.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    await b.query('BEGIN');
    const rb = await b.query({ name: 'probe_b', text, values: [2] });
    expect(rb.rows[0].show_prepared_probe).toBe(42);
    const pidB = (await b.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    expect(pidB).not.toBe(pidA);
    const heldA = await held(a);
    const heldB = await held(b);
    await a.query('COMMIT');
    await b.query('COMMIT');
    // A third client of the same statement lands on one of the same two servers (pool_size 2):
    // the count of servers holding it must stay 2 (a per-client count would say 3).
    const c = await front.connect('ps_user');
    expect((await c.query({ name: 'probe_c', text, values: [3] })).rows[0].show_prepared_probe).toBe(43);

    const rows = (await showPrepared()).filter((r) => r.query === text);
    expect(rows).toHaveLength(1);
    const row = rows[0];
    // The server-side name SHOW PREPARED prints is what both servers really prepared.
    expect(row.name).toMatch(/^pgmux_/);
    expect(heldA).toContain(row.name);
    expect(heldB).toContain(row.name);
    expect(Number(row.servers)).toBe(2);
    expect(Number(row.uses)).toBeGreaterThanOrEqual(3);
    // node-postgres sends no parameter types: the Parse's list is empty.
    expect(row.parameter_types).toBe('');
  });

  /** Would catch a view that drops SQL-level PREPARE statements or their types, or never truncates. */
  it('shows SQL PREPARE statements with their type names, and cuts long texts', async () => {
    const c = await front.connect('ps_user');
    await c.query('PREPARE show_sql_probe (int8) AS SELECT $1 + 7 AS v');
    expect((await c.query('EXECUTE show_sql_probe(1)')).rows[0].v).toBe('8');
    const long = `SELECT 1 AS show_long_probe /* ${'x'.repeat(400)} */`;
    await c.query({ name: 'long_probe', text: long });

    const rows = await showPrepared();
    const sqlRow = rows.find((r) => r.query.startsWith('SELECT $1 + 7 AS v'));
    expect(sqlRow?.parameter_types).toBe('int8');
    expect(Number(sqlRow?.uses)).toBeGreaterThanOrEqual(1);
    expect(Number(sqlRow?.servers)).toBe(1);
    const longRow = rows.find((r) => r.query.startsWith('SELECT 1 AS show_long_probe'));
    expect(longRow).toBeDefined();
    expect(longRow?.query.length).toBeLessThan(long.length);
    expect(longRow?.query.endsWith('...')).toBe(true);
  });
});
