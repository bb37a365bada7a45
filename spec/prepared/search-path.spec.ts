// Black-box spec: named statements of clients with different search_paths (schema per tenant).
// PostgreSQL resolves a prepared statement's table names with the search_path of its Parse and
// fixes its result columns then; each connection straight to PostgreSQL has its own statement,
// so two tenants running the same text each get their own table. pgmux shares one server-side
// statement per distinct text; shared across search_paths, the second tenant's Bind ran the first
// tenant's statement, which PostgreSQL re-analysed under the second's search_path and refused
// with 0A000 `cached plan must not change result type` whenever the two tables' columns differ
// (tenants part-way through a migration). Outside a transaction pgmux hid it by re-running the
// batch; inside one (psycopg's default, every Django/SQLAlchemy request) the client got the error.
//
// default_pool_size = 1: both clients' transactions run on the same server.

import { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { runScript, startFront, type Front } from './support';

jest.setTimeout(60000);

const USER = 'app';
const PYTHON = '/usr/bin/python3';

let cluster: Cluster;
let front: Front;

beforeAll(async () => {
  cluster = await startCluster();
  await cluster.query(
    cluster.primary,
    `CREATE SCHEMA tenant_a AUTHORIZATION app; CREATE SCHEMA tenant_b AUTHORIZATION app;
     CREATE TABLE tenant_a.users(id int, name text); INSERT INTO tenant_a.users VALUES (1, 'ann');
     CREATE TABLE tenant_b.users(id int, name text, email text); INSERT INTO tenant_b.users VALUES (1, 'bob', 'bob@b');
     ALTER TABLE tenant_a.users OWNER TO app; ALTER TABLE tenant_b.users OWNER TO app`,
    'postgres',
  );
  front = await startFront(cluster, [USER], { default_pool_size: 1 });
});

afterAll(async () => {
  await front?.stop();
  await cluster?.stop();
});

/** A client of `port` whose session search_path is `schema`. */
async function tenant(port: number, schema: string): Promise<Client> {
  const c = new Client({ host: '127.0.0.1', port, user: USER, password: cluster.password, database: 'app' });
  await c.connect();
  await c.query(`SET search_path = ${schema}`);
  return c;
}

/** Runs the same named statement in a transaction for each client in turn, `rounds` times; the rows (or error) each got. */
async function inTransactions(clients: Client[], rounds: number): Promise<string[]> {
  const out: string[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const c of clients) {
      await c.query('BEGIN');
      try {
        const res = await c.query({ name: 'user_by_id', text: 'SELECT * FROM users WHERE id = $1', values: [1] });
        out.push(JSON.stringify(res.rows[0]));
      } catch (e) {
        const err = e as { code?: string; message: string };
        out.push(`${err.code} ${err.message}`);
      }
      await c.query('COMMIT');
    }
  }
  return out;
}

const EXPECTED = ['{"id":1,"name":"ann"}', '{"id":1,"name":"bob","email":"bob@b"}'];

describe('the same named statement from clients of different search_paths', () => {
  it('straight to PostgreSQL each tenant gets its own table\'s row (the reference)', async () => {
    const clients = [await tenant(cluster.primary.port, 'tenant_a'), await tenant(cluster.primary.port, 'tenant_b')];
    try {
      expect(await inTransactions(clients, 2)).toEqual([...EXPECTED, ...EXPECTED]);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });

  it('through pgmux inside transactions on one server each tenant gets its own row, with no 0A000 (catches: one server-side statement shared across search_paths)', async () => {
    const clients = [await tenant(front.port, 'tenant_a'), await tenant(front.port, 'tenant_b')];
    try {
      expect(await inTransactions(clients, 2)).toEqual([...EXPECTED, ...EXPECTED]);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });

  it('psycopg 3 (prepare_threshold=0) after rounds in autocommit, then in transactions as by default, gets each tenant its own row through pgmux (catches: the same, as users meet it)', async () => {
    const script = `
import json, os, psycopg
dsn = f"host=127.0.0.1 port={os.environ['PORT']} dbname=app user=app password={os.environ['PW']}"
conns = []
for schema in ('tenant_a', 'tenant_b'):
    c = psycopg.connect(dsn, prepare_threshold=0, autocommit=True)
    c.execute(f"SET search_path = {schema}")
    conns.append(c)
def rounds(n):
    for r in range(n):
        for c in conns:
            try:
                print(json.dumps({'row': list(c.execute("SELECT * FROM users WHERE id = %s::int", [1]).fetchone())}))
            except psycopg.Error as e:
                print(json.dumps({'error': f"{e.sqlstate} {e}"}))
            if not c.autocommit: c.rollback()
rounds(2)
for c in conns: c.autocommit = False
rounds(2)
`;
    const r = await runScript('psycopg', PYTHON, ['-c', script], { PORT: String(front.port), PW: cluster.password });
    const rows = [{ row: [1, 'ann'] }, { row: [1, 'bob', 'bob@b'] }];
    expect(r.records).toEqual([...rows, ...rows, ...rows, ...rows]);
  });
});
