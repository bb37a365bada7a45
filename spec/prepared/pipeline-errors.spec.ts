// Black-box spec: psycopg 3 pipelines that fail part-way must not leave pgmux believing a server
// holds a statement it lacks. After an error in the extended protocol the server skips to Sync;
// whatever pgmux sent in that batch (its own Parses of statements a server lacked, its Closes of
// statements evicted to stay within max_prepared_statements) did not happen, and pgmux's record of
// each server's statements must say so. A wrong record breaks other clients: their Parse is
// answered by pgmux (the server "has it"), their Bind then fails with 26000 from the server.
//
// Hostile load: 12 psycopg 3 connections (autocommit, prepare_threshold=0, prepared_max=5, so
// psycopg itself DEALLOCATEs), 30 pipelines of 8 statements each, about one in ten dividing by zero.
// Then clean clients run the same statements, and each server's pg_prepared_statements is compared
// with SHOW PREPARED. The load runs within 20 s: a client left waiting for an answer pgmux
// withholds (a column check the skipping server never answers) fails it too.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, escapeLiteral } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { runScript, startFront, type Front } from './support';

jest.setTimeout(30000);

const PYTHON = '/usr/bin/python3';
const ROLES = ['pe_user', 'pe_admin'];
const POOL = 8;

const HOSTILE = `
import json, os, random, threading
import psycopg

env = os.environ
errors = {}
lock = threading.Lock()

def connect():
    c = psycopg.connect(host='127.0.0.1', port=int(env['PGMUX_PORT']), user=env['PGMUX_USER'],
                        password=env['PGMUX_PASSWORD'], dbname='app', autocommit=True)
    c.prepare_threshold = 0
    c.prepared_max = 5
    return c

def note(code):
    with lock:
        errors[code] = errors.get(code, 0) + 1

def hostile(t):
    rnd = random.Random(t)
    conn = connect()
    for p in range(int(env['PIPELINES'])):
        try:
            with conn.pipeline():
                curs = []
                for s in range(8):
                    cur = conn.cursor()
                    if rnd.random() < 0.1:
                        cur.execute('select 1/%s::int', (0,))
                    else:
                        cur.execute('select %%s::int + %d' % rnd.randrange(13), (s,))
                    curs.append(cur)
        except psycopg.Error as e:
            note(e.sqlstate)
    conn.close()

def clean(t):
    conn = connect()
    for r in range(int(env['CLEAN_ROUNDS'])):
        for k in range(13):
            try:
                row = conn.execute('select %%s::int + %d' % k, (r,)).fetchone()
                assert row[0] == r + k, row
            except psycopg.Error as e:
                note('clean:' + str(e.sqlstate))
    conn.close()

def run(target, n):
    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

run(hostile, int(env['HOSTILE']))
print(json.dumps({'phase': 'hostile', 'errors': errors}), flush=True)
errors.clear()
run(clean, int(env['CLEAN']))
print(json.dumps({'phase': 'clean', 'errors': errors}), flush=True)
`;

let cluster: Cluster;
let front: Front;
/** The same with max_prepared_statements = 4: pgmux evicts (and injects Closes) all the time. */
let tight: Front;
let dir: string;

beforeAll(async () => {
  cluster = await startCluster();
  // Not logged roles: logging every statement would make the load slow.
  const pw = escapeLiteral(cluster.password);
  await cluster.query(cluster.primary, ROLES.map((r) => `CREATE ROLE ${r} LOGIN PASSWORD ${pw}; GRANT app TO ${r};`).join('\n'), 'postgres', 'postgres');
  front = await startFront(cluster, ROLES, { admin_users: 'pe_admin', default_pool_size: POOL });
  tight = await startFront(cluster, ROLES, { admin_users: 'pe_admin', default_pool_size: POOL, max_prepared_statements: 4 });
  dir = mkdtempSync(join(tmpdir(), 'pgmux-pipeline-errors-'));
});

afterAll(async () => {
  await front?.stop();
  await tight?.stop();
  await cluster?.stop();
});

/** SHOW PREPARED: server-side name -> how many servers pgmux believes hold it. */
async function believed(front: Front): Promise<Map<string, number>> {
  const c = new Client({ host: '127.0.0.1', port: front.port, user: 'pe_admin', password: cluster.password, database: 'pgbouncer' });
  await c.connect();
  try {
    const r = await c.query<{ name: string; servers: string | number }>('SHOW PREPARED');
    return new Map(r.rows.filter((row) => Number(row.servers) > 0).map((row) => [row.name, Number(row.servers)]));
  } finally {
    await c.end();
  }
}

/** What every server of the pool really holds: POOL clients, each in a transaction, so each on its own server. */
async function real(front: Front): Promise<Map<string, number>> {
  const clients: Client[] = [];
  try {
    for (let i = 0; i < POOL; i++) {
      const c = await front.connect('pe_user');
      clients.push(c);
      await c.query('BEGIN');
    }
    const counts = new Map<string, number>();
    const pids = new Set<number>();
    for (const c of clients) {
      const pid = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      pids.add(pid);
      const r = await c.query<{ name: string }>("SELECT name FROM pg_prepared_statements WHERE name LIKE 'pgmux\\_%'");
      for (const row of r.rows) counts.set(row.name, (counts.get(row.name) ?? 0) + 1);
    }
    expect(pids.size).toBe(POOL);
    return counts;
  } finally {
    await Promise.all(clients.map((c) => c.query('COMMIT').then(() => c.end()).catch(() => undefined)));
  }
}

const sorted = (m: Map<string, number>): [string, number][] => [...m.entries()].sort();

/** The hostile load then the clean clients through `front`; checks the clean ones' errors and the records. */
async function loadAndCompare(front: Front): Promise<void> {
  const script = join(dir, 'hostile.py');
  writeFileSync(script, HOSTILE);
  const env = { PGMUX_PORT: String(front.port), PGMUX_USER: 'pe_user', PGMUX_PASSWORD: cluster.password, HOSTILE: '12', PIPELINES: '30', CLEAN: '8', CLEAN_ROUNDS: '5' };
  const r = await runScript('psycopg pipelines', PYTHON, [script], env, 20000);
  expect(r.code).toBe(0);
  const [hostile, clean] = r.records as { phase: string; errors: Record<string, number> }[];
  // The load is hostile: division by zero happened.
  expect(hostile.errors['22012']).toBeGreaterThan(0);
  // psycopg's own 26000s (it takes a statement of an aborted pipeline for prepared) come
  // straight from PostgreSQL too, so only the clean clients' are counted.
  expect(clean.errors).toEqual({});
  expect(sorted(await believed(front))).toEqual(sorted(await real(front)));
}

describe('psycopg 3 pipelines with a failing statement in them', () => {
  it('leave SHOW PREPARED equal to what the servers hold, and clean clients running the same statements get no 26000 (catches: a Parse sent after the error, before the pipeline\'s Sync, recorded as done, so another client is told its statement exists)', async () => {
    await loadAndCompare(front);
  });

  it('with max_prepared_statements = 4, so that pgmux closes statements to make room inside the failing pipelines, likewise (catches: a skipped eviction put back after the skipped Parse of the same statement was undone)', async () => {
    await loadAndCompare(tight);
  });
});
