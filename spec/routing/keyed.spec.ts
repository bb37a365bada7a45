// read_your_writes = key (issue 19): an end user's write, made on one pooled connection with the
// application's key (a sqlcommenter tag, or SET pgmux.key), is seen by that user's next read on
// any other connection, while the replica replays 400 ms late. Without keys the same traffic
// reads stale rows (so the spec can fail). Also: keys beyond the table's bound are forgotten on
// the safe side, and after a restart keyed reads do not trust a replica behind the primary.

import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { Client, Pool } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { startPgmux, type PgmuxProcess } from '../support/pgmux';
import { freePort } from '../support/ports';
import { consoleRows } from '../support/console';
import { run } from '../support/child';
import { makeTempDir, removeTempDir } from '../support/osuser';

jest.setTimeout(120000);

const USERS = 50;
const CONNECTIONS = 10;

let cluster: Cluster;
let pgmux: PgmuxProcess;
let dir: string;

function admin(sql: string): Promise<Record<string, unknown>[]> {
  return consoleRows(pgmux.port, 'app', cluster.password, sql);
}

function ini(port: number): string {
  const replica = cluster.replica as { port: number };
  const line = `host=127.0.0.1 port=${cluster.primary.port} dbname=app replicas=127.0.0.1:${replica.port} read_your_writes_timeout=3`;
  return (
    '[databases]\n' +
    `keyed = ${line} read_your_writes=key\n` +
    `plain = ${line} read_your_writes=connection\n` +
    `small = ${line} read_your_writes=key read_your_writes_keys=5\n` +
    '[pgbouncer]\n' +
    `listen_addr = 127.0.0.1\nlisten_port = ${port}\nunix_socket_dir =\n` +
    'auth_type = scram-sha-256\nauth_file = userlist.txt\nadmin_users = app\n' +
    'pool_mode = transaction\ndefault_pool_size = 10\nreplica_lag_poll_interval = 0.05\nmax_replica_lag = 0\n'
  );
}

beforeAll(async () => {
  // The replica applies WAL 400 ms after the primary wrote it: a read right after a write is stale there.
  cluster = await startCluster({ replica: true, settings: { recovery_min_apply_delay: '400ms' } });
  await cluster.query(
    cluster.primary,
    `CREATE TABLE profile (user_id int PRIMARY KEY, v int NOT NULL); INSERT INTO profile SELECT g, 0 FROM generate_series(1, ${USERS}) g; GRANT ALL ON profile TO app`,
  );
  await cluster.waitForReplay();
  dir = makeTempDir('pgmux-keyed-');
  pgmux = await startPgmux(ini(await freePort()), { 'userlist.txt': `"app" "${cluster.password}"\n` });
}, 120000);

afterAll(async () => {
  await pgmux?.stop();
  await cluster?.stop();
  if (dir !== undefined) removeTempDir(dir);
});

const tag = (user: number): string => `/*controller='profile',pgmux_key='user-${user}'*/`;

/**
 * 50 users, each writing its row on one connection of a pool of 10 and reading it back on
 * another, `rounds` times: half the connections only write, half only read, so no read is saved
 * by its own connection's writes. Returns reads that saw an older value, and where reads ran.
 */
async function nodeUsers(database: string, rounds: number, keyed: boolean): Promise<{ stale: number; onReplica: number; reads: number }> {
  const pool = new Pool({ host: '127.0.0.1', port: pgmux.port, user: 'app', password: cluster.password, database, max: CONNECTIONS });
  const conns = await Promise.all(Array.from({ length: CONNECTIONS }, () => pool.connect()));
  let stale = 0;
  let onReplica = 0;
  let reads = 0;
  try {
    for (let round = 1; round <= rounds; round++) {
      await Promise.all(
        Array.from({ length: USERS }, async (_, i) => {
          const user = i + 1;
          const half = CONNECTIONS / 2;
          const writer = conns[i % half];
          const reader = conns[half + (i % half)];
          const c = keyed ? tag(user) : '';
          await writer.query(`${c} UPDATE profile SET v = $1 WHERE user_id = $2`, [round, user]);
          const r = await reader.query(`${c} SELECT v, current_setting('in_hot_standby') AS hs FROM profile WHERE user_id = $1`, [user]);
          reads++;
          if (r.rows[0].v !== round) stale++;
          if (r.rows[0].hs === 'on') onReplica++;
        }),
      );
    }
  } finally {
    for (const c of conns) c.release();
    await pool.end();
  }
  return { stale, onReplica, reads };
}

const PSYCOPG = `
import json, os, threading
import psycopg

env = os.environ
conns = [psycopg.connect(host='127.0.0.1', port=int(env['PGMUX_PORT']), user='app', password=env['PGMUX_PASSWORD'],
                         dbname=env['DB'], autocommit=True) for _ in range(${CONNECTIONS})]
counts = {'stale': 0, 'onReplica': 0, 'reads': 0}
lock = threading.Lock()

# Five threads, each writing on one connection and reading on another; the key both ways: a
# sqlcommenter tag on the write, SET pgmux.key on the reading connection.
def users(t):
    w, r = conns[2 * t], conns[2 * t + 1]
    for user in range(t + 1, ${USERS} + 1, ${CONNECTIONS / 2}):
        w.execute("/*pgmux_key='py-%d'*/ UPDATE profile SET v = %%s WHERE user_id = %%s" % user, (user * 10, user))
        r.execute("SET pgmux.key = 'py-%d'" % user)
        v, hs = r.execute("SELECT v, current_setting('in_hot_standby') FROM profile WHERE user_id = %s", (user,)).fetchone()
        with lock:
            counts['reads'] += 1
            counts['stale'] += v != user * 10
            counts['onReplica'] += hs == 'on'

threads = [threading.Thread(target=users, args=(t,)) for t in range(${CONNECTIONS / 2})]
for th in threads: th.start()
for th in threads: th.join()
print(json.dumps(counts))
`;

describe('read_your_writes = key', () => {
  /** The feature: 0 stale reads across connections, and the reads still run on the replica. */
  it('gives 50 users their own writes on other pooled connections (node-postgres), reads on the replica', async () => {
    const r = await nodeUsers('keyed', 2, true);
    expect(r.stale).toBe(0);
    expect(r.reads).toBe(2 * USERS);
    // Waiting for the replica (read_your_writes_timeout = 3 s), not falling back to the primary.
    expect(r.onReplica).toBeGreaterThan(r.reads / 2);
    const keys = (await admin('SHOW KEYS')).find((row) => row.database === 'keyed');
    expect(Number(keys?.keyed_reads)).toBeGreaterThanOrEqual(r.reads);
    expect(Number(keys?.keyed_waits)).toBeGreaterThan(0);
  });

  /** The same traffic without keys: reads on other connections do see stale rows. */
  it('shows stale reads for the same traffic without keys', async () => {
    const r = await nodeUsers('plain', 1, false);
    expect(r.stale).toBeGreaterThan(0);
  });

  it('gives psycopg 3 users their writes, keyed by a tag on the write and SET pgmux.key on the read', async () => {
    const script = join(dir, 'keyed.py');
    writeFileSync(script, PSYCOPG);
    const out = await run('/usr/bin/python3', [script], { env: { ...process.env, PGMUX_PORT: String(pgmux.port), PGMUX_PASSWORD: cluster.password, DB: 'keyed' } });
    expect(out.stderr).toBe('');
    const r = JSON.parse(out.stdout.trim()) as { stale: number; onReplica: number; reads: number };
    expect(r).toMatchObject({ stale: 0, reads: USERS });
  });

  /** Keys beyond read_your_writes_keys are forgotten, but their writes still bound keyed reads. */
  it('stays safe when the key table is full', async () => {
    const r = await nodeUsers('small', 1, true);
    expect(r.stale).toBe(0);
    const keys = (await admin('SHOW KEYS')).find((row) => row.database === 'small');
    expect(Number(keys?.keys)).toBeLessThanOrEqual(5);
  });

  /** SHOW ROUTE of a keyed statement is decided against that key's last write. */
  it('explains a keyed read with SHOW ROUTE', async () => {
    const replica = cluster.replica as Parameters<Cluster['query']>[0];
    // Replay paused: the write stays unreplayed however long the console takes to answer.
    await cluster.query(replica, 'SELECT pg_wal_replay_pause()');
    try {
      const c = new Client({ host: '127.0.0.1', port: pgmux.port, user: 'app', password: cluster.password, database: 'keyed' });
      await c.connect();
      await c.query(`${tag(7)} UPDATE profile SET v = v + 1 WHERE user_id = 7`);
      await c.end();
      const rows = await admin(`SHOW ROUTE ${tag(7)} SELECT v FROM profile WHERE user_id = 7`);
      const keyed = rows.find((row) => row.database === 'keyed');
      expect(keyed).toMatchObject({ route: 'wait', reason: 'wait: replica behind your write' });
      const other = await admin(`SHOW ROUTE ${tag(8)} SELECT v FROM profile WHERE user_id = 8`);
      expect(other.find((row) => row.database === 'keyed')).toMatchObject({ route: 'replica' });
    } finally {
      await cluster.query(replica, 'SELECT pg_wal_replay_resume()');
    }
  });

  /** After a restart pgmux knows no key: a keyed read must not trust a replica behind the primary's position at start. */
  it('after a restart, does not send a keyed read to a replica behind the primary', async () => {
    const replica = cluster.replica as Parameters<Cluster['query']>[0];
    // The replica stops replaying; a write pgmux never saw goes straight to the primary.
    await cluster.query(replica, 'SELECT pg_wal_replay_pause()');
    try {
      await cluster.query(cluster.primary, 'UPDATE profile SET v = 777 WHERE user_id = 9');
      await pgmux.stop();
      pgmux = await startPgmux(ini(await freePort()), { 'userlist.txt': `"app" "${cluster.password}"\n` });
      const read = async (database: string, keyed: boolean): Promise<number> => {
        const c = new Client({ host: '127.0.0.1', port: pgmux.port, user: 'app', password: cluster.password, database });
        await c.connect();
        try {
          return (await c.query(`${keyed ? tag(9) : ''} SELECT v FROM profile WHERE user_id = 9`)).rows[0].v as number;
        } finally {
          await c.end();
        }
      };
      // Unkeyed, the read goes to the replica, which has not replayed the write.
      expect(await read('plain', false)).not.toBe(777);
      // Keyed, it waits for the primary's position at start, then runs on the primary.
      expect(await read('keyed', true)).toBe(777);
    } finally {
      await cluster.query(replica, 'SELECT pg_wal_replay_resume()');
    }
  });
});
