// Black-box spec: SIGHUP / RELOAD with a changed [databases] line, side by side with PgBouncer
// 1.18. When a line's dbname, host, port, forced user or connect_query changes, PgBouncer tags
// the database dirty: its server connections close instead of serving again (idle ones now,
// active ones when released, so a transaction open during the reload finishes where it began),
// and new ones use the new line. A new password or pool_size reaches only servers opened from
// then on; the running ones stay.
//
// One PostgreSQL with two databases (app, app2): moving a line from dbname=app to dbname=app2 is
// the switch, read back with current_database() and the backend PIDs in pg_stat_activity. Each
// scenario runs on pgmux and on PgBouncer with the same ini, and their transcripts must be equal
// as well as what the test pins.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { startPgBouncer } from '../support/pgbouncer';
import { startPgmux } from '../support/pgmux';
import { freePort } from '../support/ports';

jest.setTimeout(60000);

let cluster: Cluster;
const clients: Client[] = [];

beforeAll(async () => {
  cluster = await startCluster();
  await cluster.query(cluster.primary, 'CREATE DATABASE app2 OWNER app', 'postgres', 'postgres');
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
});

afterAll(async () => {
  await cluster?.stop();
});

/** A pooler under test, pgmux or PgBouncer, run from the same ini. */
interface Pooler {
  readonly name: string;
  readonly port: number;
  /** Rewrites the ini with these [databases] lines (host and port added). */
  rewrite(lines: Record<string, string>): void;
  sighup(): void;
  stop(): Promise<void>;
}

function iniText(port: number, lines: Record<string, string>): string {
  const server = `host=${cluster.primary.host} port=${cluster.primary.port}`;
  return (
    '[databases]\n' +
    Object.entries(lines)
      .map(([name, rest]) => `${name} = ${server} ${rest}\n`)
      .join('') +
    '[pgbouncer]\n' +
    `listen_addr = 127.0.0.1\nlisten_port = ${port}\nunix_socket_dir =\n` +
    'auth_type = trust\nauth_file = userlist.txt\nadmin_users = app\n' +
    // A failed server login must not fast-fail the next client for 15 s (the password scenario).
    'pool_mode = transaction\ndefault_pool_size = 2\nserver_login_retry = 0\n'
  );
}

async function start(kind: 'pgmux' | 'pgbouncer', lines: Record<string, string>): Promise<Pooler> {
  const port = await freePort();
  const files = { 'userlist.txt': `"app" "${cluster.password}"\n` };
  const text = iniText(port, lines);
  const proc = kind === 'pgmux' ? await startPgmux(text, files) : await startPgBouncer(text, files);
  const file = join(proc.dir, kind === 'pgmux' ? 'pgmux.ini' : 'pgbouncer.ini');
  return {
    name: kind,
    port,
    rewrite: (next) => writeFileSync(file, iniText(port, next)),
    sighup: () => process.kill(proc.pid, 'SIGHUP'),
    stop: async () => {
      await proc.stop();
    },
  };
}

/** Runs `scenario` on pgmux and on PgBouncer (each stopped after); returns pgmux's transcript after checking they agree. */
async function sideBySide<T>(lines: Record<string, string>, scenario: (p: Pooler) => Promise<T>): Promise<T> {
  const results: T[] = [];
  for (const kind of ['pgmux', 'pgbouncer'] as const) {
    const p = await start(kind, lines);
    try {
      results.push(await scenario(p));
    } finally {
      await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
      await p.stop();
    }
  }
  expect(results[0]).toEqual(results[1]);
  return results[0] as T;
}

async function connect(p: Pooler, database: string): Promise<Client> {
  const c = new Client({ host: '127.0.0.1', port: p.port, user: 'app', password: cluster.password, database });
  c.on('error', () => undefined);
  clients.push(c);
  await c.connect();
  return c;
}

async function one(c: Client, sql: string): Promise<string> {
  const r = await c.query<{ v: unknown }>(sql);
  return String(r.rows[0]?.v);
}

const databaseOf = (c: Client): Promise<string> => one(c, 'SELECT current_database() AS v');
const pidOf = (c: Client): Promise<string> => one(c, 'SELECT pg_backend_pid() AS v');

/** Polls `check` every 20 ms until it holds; false after `timeoutMs`. */
async function eventually(check: () => Promise<boolean>, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Whether a backend with this PID still exists, asked straight to PostgreSQL. */
async function alive(pid: string): Promise<boolean> {
  const r = await cluster.query(cluster.primary, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ${Number(pid)}`, 'postgres', 'postgres');
  return (r.rows[0] as { n: number }).n > 0;
}

/** SIGHUP, then waits until the console's SHOW DATABASES shows `name` with `dbname`: the reload is done. */
async function sighupAndWait(p: Pooler, name: string, dbname: string): Promise<void> {
  p.sighup();
  const admin = await connect(p, 'pgbouncer');
  const reloaded = await eventually(async () => {
    const r = await admin.query<{ name: string; database: string }>('SHOW DATABASES');
    return r.rows.some((row) => row.name === name && row.database === dbname);
  });
  if (!reloaded) throw new Error(`${p.name}: SHOW DATABASES never showed ${name} -> ${dbname} after SIGHUP`);
}

/** RELOAD on the admin console (answered once the new config runs). */
async function reload(p: Pooler): Promise<void> {
  const admin = await connect(p, 'pgbouncer');
  await admin.query('RELOAD');
}

describe('SIGHUP / RELOAD with a changed [databases] line (as PgBouncer 1.18)', () => {
  it('a new dbname: the idle server closes at once, a transaction open during the reload finishes on the old database, then everyone (an existing idle client, the same client, a new one) runs on the new one (catches: pooled servers reused after the line changed, or an open transaction cut)', async () => {
    const pw = `user=app password=${cluster.password}`;
    const got = await sideBySide({ d: `dbname=app ${pw}` }, async (p) => {
      const c1 = await connect(p, 'd');
      const c2 = await connect(p, 'd');
      // Two servers: one left idle by c1, one held by c2's open transaction.
      await c1.query('BEGIN');
      const idlePid = await pidOf(c1);
      await c2.query('BEGIN');
      const txPid = await pidOf(c2);
      await c1.query('COMMIT');
      const before = await databaseOf(c2);
      p.rewrite({ d: `dbname=app2 ${pw}` });
      await sighupAndWait(p, 'd', 'app2');
      const idleServerClosed = await eventually(async () => !(await alive(idlePid)));
      const inTransaction = [await databaseOf(c2), (await pidOf(c2)) === txPid];
      const existingClient = await databaseOf(c1);
      const txServerKept = await alive(txPid);
      await c2.query('COMMIT');
      const txServerClosedAfterCommit = await eventually(async () => !(await alive(txPid)));
      const sameClientAfter = await databaseOf(c2);
      const newClient = await databaseOf(await connect(p, 'd'));
      return { before, idleServerClosed, inTransaction, existingClient, txServerKept, txServerClosedAfterCommit, sameClientAfter, newClient };
    });
    expect(got).toEqual({
      before: 'app',
      idleServerClosed: true,
      inTransaction: ['app', true],
      existingClient: 'app2',
      txServerKept: true,
      txServerClosedAfterCommit: true,
      sameClientAfter: 'app2',
      newClient: 'app2',
    });
  });

  it('a new password on the line is what the next server login uses (catches: a pool that keeps the password it was created with until restart)', async () => {
    const got = await sideBySide({ d: 'dbname=app user=app password=wrong-password' }, async (p) => {
      // The message only: PgBouncer sends the server's text under its own 08P01, pgmux the server's 28P01.
      const refused = await connect(p, 'd').then(
        () => 'logged in',
        (err: Error) => err.message,
      );
      p.rewrite({ d: `dbname=app user=app password=${cluster.password}` });
      await reload(p);
      return { refused, afterReload: await databaseOf(await connect(p, 'd')) };
    });
    expect(got).toEqual({ refused: 'password authentication failed for user "app"', afterReload: 'app' });
  });

  it('a new password or pool_size alone keeps the running servers, as PgBouncer does (catches: every RELOAD dropping the pool\'s connections)', async () => {
    const got = await sideBySide({ d: `dbname=app user=app password=${cluster.password}` }, async (p) => {
      const c = await connect(p, 'd');
      const pid = await pidOf(c);
      p.rewrite({ d: 'dbname=app user=app password=not-used-until-a-new-login pool_size=3' });
      await reload(p);
      return { samePid: (await pidOf(c)) === pid, stillAlive: await alive(pid) };
    });
    expect(got).toEqual({ samePid: true, stillAlive: true });
  });

  it('a lowered pool_size closes the servers over it once they are idle, keeping the one in a transaction, and the pool stays at the new size (catches: servers over a lowered pool_size kept and handed out until server_idle_timeout)', async () => {
    const pw = `user=app password=${cluster.password}`;
    const got = await sideBySide({ d: `dbname=app ${pw} pool_size=3` }, async (p) => {
      const cs = [await connect(p, 'd'), await connect(p, 'd'), await connect(p, 'd')];
      // Three servers: all in a transaction at once, then two idle.
      for (const c of cs) await c.query('BEGIN');
      const pids = await Promise.all(cs.map(pidOf));
      await cs[1]?.query('COMMIT');
      await cs[2]?.query('COMMIT');
      p.rewrite({ d: `dbname=app ${pw} pool_size=1` });
      await reload(p);
      const shrunk = await eventually(async () => (await Promise.all(pids.map(alive))).filter(Boolean).length === 1);
      const txServerKept = await alive(pids[0] as string);
      await cs[0]?.query('COMMIT');
      // Two clients at once on a pool of one: the second waits for the first's server.
      await cs[1]?.query('BEGIN');
      const second = cs[2]?.query('SELECT pg_backend_pid() AS v');
      const firstPid = await pidOf(cs[1] as Client);
      await cs[1]?.query('COMMIT');
      const secondPid = String(((await second) as { rows: { v: unknown }[] }).rows[0]?.v);
      return { shrunk, txServerKept, oneServer: firstPid === secondPid && firstPid === pids[0] };
    });
    expect(got).toEqual({ shrunk: true, txServerKept: true, oneServer: true });
  });

  it('a new connect_query retires the servers too, and the new ones run it (catches: servers that never ran the new connect_query)', async () => {
    const pw = `user=app password=${cluster.password}`;
    const flag = "SELECT current_setting('pgmux_spec.flag', true) AS v";
    const got = await sideBySide({ d: `dbname=app ${pw}` }, async (p) => {
      const c = await connect(p, 'd');
      const pid = await pidOf(c);
      const before = await one(c, flag);
      p.rewrite({ d: `dbname=app ${pw} connect_query='SET pgmux_spec.flag = ''from_connect_query'''` });
      await reload(p);
      const oldServerClosed = await eventually(async () => !(await alive(pid)));
      const after = await one(c, flag);
      return { before, oldServerClosed, after };
    });
    expect(got).toEqual({ before: 'null', oldServerClosed: true, after: 'from_connect_query' });
  });
});
