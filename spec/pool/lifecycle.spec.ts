// Black-box spec of the server lifecycle and client timeouts (issue 3, "Server lifecycle"):
// server_connect_timeout, server_login_retry, server_idle_timeout, server_lifetime,
// server_check_query/server_check_delay, client_idle_timeout, idle_transaction_timeout,
// query_timeout, and servers that die while idle or under a client. Servers are watched from
// PostgreSQL (pg_stat_activity, pg_backend_pid(), its log); unreachable servers are local TCP
// listeners that count what pgmux does to them.

import { createServer, type Server, type Socket } from 'node:net';
import { startCluster, type Cluster } from '../support/cluster';
import { createRoles, elapse, Observer, outcome, pidOf, runPgmux, waitFor, type Running } from './support';

jest.setTimeout(20000);

/**
 * Where the spec starts its stopwatch before pgmux stamps the event (a query the spec sends),
 * a timeout must not have fired before its full length: pgmux reads its clock at each socket
 * event, so it never fires early. Where pgmux's stamp comes first (the end of an earlier round
 * trip), the lower bound is loose; it still catches a timeout that fires at once.
 */
const EARLIEST_MS = 200;

const ROLES = ['s_connect', 's_retry', 's_flap', 's_idle', 's_life', 's_check', 's_cidle', 's_itx', 's_qt', 's_dead', 's_under', 's_cq'];

let cluster: Cluster;
let obs: Observer;
let run: Running | undefined;
let fake: FakeServer | undefined;

beforeAll(async () => {
  cluster = await startCluster();
  await createRoles(cluster, ROLES);
  await cluster.query(
    cluster.primary,
    `CREATE TABLE check_log (pid int NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());
     CREATE FUNCTION pool_check() RETURNS int LANGUAGE sql AS 'INSERT INTO check_log (pid) VALUES (pg_backend_pid()) RETURNING 1';
     CREATE TABLE tx_log (who text NOT NULL)`,
    'app',
  );
  obs = await Observer.open(cluster);
});

afterEach(async () => {
  await run?.stop();
  run = undefined;
  await fake?.close();
  fake = undefined;
});

afterAll(async () => {
  await obs?.close();
  await cluster?.stop();
});

/** A local TCP server standing in for a broken PostgreSQL; it records each connection. */
interface FakeServer {
  port: number;
  /** Accept times (ms since epoch), and when each socket closed (undefined while open). */
  conns: { at: number; closedAt?: number }[];
  close(): Promise<void>;
}

/** `silent`: accepts and never answers. `slam`: accepts and closes at once. */
async function fakeServer(kind: 'silent' | 'slam'): Promise<FakeServer> {
  const sockets = new Set<Socket>();
  const conns: FakeServer['conns'] = [];
  const server: Server = createServer((socket) => {
    const conn: { at: number; closedAt?: number } = { at: Date.now() };
    conns.push(conn);
    sockets.add(socket);
    socket.on('error', () => undefined);
    // Read (and drop) what pgmux sends, so that its FIN is seen and 'close' follows.
    socket.resume();
    socket.on('close', () => {
      conn.closedAt = Date.now();
      sockets.delete(socket);
    });
    if (kind === 'slam') socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    conns,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Times (ms since epoch) of PostgreSQL's log lines saying `user`'s password was refused. */
function refusedLogins(user: string): number[] {
  const out: number[] = [];
  for (const line of cluster.logs(cluster.primary).split('\n')) {
    const m = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) UTC \[\d+\] FATAL:  password authentication failed for user "([^"]+)"/.exec(line);
    if (m && m[2] === user) out.push(Date.parse(`${m[1]!.replace(' ', 'T')}Z`));
  }
  return out;
}

describe('server_connect_timeout', () => {
  it('gives up on a server that accepts and never answers, closes that socket and tells the waiting client (catches a login that hangs forever)', async () => {
    fake = await fakeServer('silent');
    run = await runPgmux(cluster, {
      roles: ['s_connect'],
      settings: { server_connect_timeout: 0.5 },
      databases: { hole: `dbname=app port=${fake.port}` },
    });
    const started = Date.now();
    const r = await outcome(run.connect('s_connect', { database: 'hole' }));
    const took = Date.now() - started;
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toMatch(/connect timeout/);
    expect(took).toBeGreaterThanOrEqual(500);
    expect(took).toBeLessThan(5000);
    // Besides the pool's login, the fake server sees pgmux's health probe (a single host that has
    // never answered is probed until it does), which gives up after its own connect timeout: every
    // socket open when the client was refused must be closed, none left hanging.
    const opened = fake.conns.slice();
    expect(opened.length).toBeGreaterThanOrEqual(1);
    await waitFor('pgmux to close the unanswered connections', () => opened.every((c) => c.closedAt !== undefined));
  });
});

describe('server_login_retry', () => {
  it('after a refused login, makes no new attempt before the retry delay and fails clients fast meanwhile (catches hammering a server that refuses us)', async () => {
    run = await runPgmux(cluster, {
      roles: ['s_retry'],
      settings: { server_login_retry: 1 },
      databases: { badpw: 'dbname=app password=wrong-password' },
    });
    const first = await outcome(run.connect('s_retry', { database: 'badpw' }));
    expect(first.ok).toBe(false);
    if (!first.ok) expect(first.error.message).toBe('password authentication failed for user "s_retry"');
    // Keep knocking until PostgreSQL has seen a second attempt.
    const messages = new Set<string>();
    const attempts = await waitFor('a second login attempt after server_login_retry', async () => {
      const r = await outcome(run!.connect('s_retry', { database: 'badpw' }));
      if (!r.ok) messages.add(r.error.message);
      const seen = refusedLogins('s_retry');
      return seen.length >= 2 ? seen : undefined;
    });
    expect(attempts).toHaveLength(2);
    // 1 s, less the janitor clock's staleness; a missing delay would retry within milliseconds.
    expect(attempts[1]! - attempts[0]!).toBeGreaterThanOrEqual(600);
    expect([...messages]).toContain('server login has been failing, try again later (server_login_retry)');
  });

  it('a server that drops every connection is retried once per server_login_retry, not in a loop, while a client waits (catches a reconnect storm)', async () => {
    fake = await fakeServer('slam');
    run = await runPgmux(cluster, {
      roles: ['s_flap'],
      settings: { server_login_retry: 0.5, client_login_timeout: 1.6 },
      databases: { flap: `dbname=app port=${fake.port}` },
    });
    const r = await outcome(run.connect('s_flap', { database: 'flap' }));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toMatch(/client_login_timeout/);
    // An attempt at 0, then one per 0.5 s while the client waited 1.6 s: 4, fewer if ticks run
    // late; a reconnect loop makes hundreds.
    expect(fake.conns.length).toBeGreaterThanOrEqual(2);
    expect(fake.conns.length).toBeLessThanOrEqual(6);
  });
});

describe('server_idle_timeout', () => {
  it('closes a server left idle longer than the timeout, and the next query gets a new one without error (catches idle servers kept forever)', async () => {
    run = await runPgmux(cluster, { roles: ['s_idle'], settings: { server_idle_timeout: 0.5 } });
    const c = await run.connect('s_idle');
    const pid1 = await pidOf(c);
    const released = Date.now();
    expect(await obs.pids('s_idle')).toEqual([pid1]);
    await waitFor('the idle server to close', async () => (await obs.pids('s_idle')).length === 0);
    expect(Date.now() - released).toBeGreaterThanOrEqual(EARLIEST_MS);
    const pid2 = await pidOf(c);
    expect(pid2).not.toBe(pid1);
  });
});

describe('server_lifetime', () => {
  it('replaces a busy server once it is older than server_lifetime, but never inside a transaction (catches lifetime ignored, or a transaction cut)', async () => {
    run = await runPgmux(cluster, { roles: ['s_life'], settings: { server_lifetime: 0.6, server_idle_timeout: 0, default_pool_size: 1 } });
    const c = await run.connect('s_life');
    const pid1 = await pidOf(c);
    const born = (await obs.query('SELECT backend_start FROM pg_stat_activity WHERE pid = $1', [pid1])).rows[0]!.backend_start as Date;
    // Busy all along: a query every few ms.
    const pid2 = await waitFor('a new server after server_lifetime', async () => {
      const p = await pidOf(c);
      return p !== pid1 ? p : undefined;
    });
    // By PostgreSQL's clock: the first server lived about server_lifetime.
    const replacedAt = (await obs.query('SELECT backend_start FROM pg_stat_activity WHERE pid = $1', [pid2])).rows[0]!.backend_start as Date;
    expect(replacedAt.getTime() - born.getTime()).toBeGreaterThanOrEqual(600 - EARLIEST_MS);
    await waitFor('the old server to be gone', async () => !(await obs.pids('s_life')).includes(pid1));
    // A transaction that outlives the lifetime keeps its server to the end.
    await c.query('BEGIN');
    const inTx = await pidOf(c);
    await elapse(800);
    expect(await pidOf(c)).toBe(inTx);
    await c.query('COMMIT');
    await waitFor('the expired server to close on release', async () => !(await obs.pids('s_life')).includes(inTx));
    expect(pid2).not.toBe(pid1);
  });
});

describe('server_check_query / server_check_delay', () => {
  it('runs the check before reusing a server idle longer than the delay, and not otherwise (catches no check, a check on every use, or a check that never ends)', async () => {
    run = await runPgmux(cluster, {
      roles: ['s_check'],
      settings: { server_check_query: 'SELECT pool_check()', server_check_delay: 1, default_pool_size: 1 },
    });
    const checks = async () => (await obs.query('SELECT pid, at FROM check_log ORDER BY at')).rows as { pid: number; at: Date }[];
    const c = await run.connect('s_check');
    const pid = await pidOf(c);
    const before = (await checks()).length;
    // Reused at once (well within the delay): no check.
    expect(await pidOf(c)).toBe(pid);
    expect(await checks()).toHaveLength(before);
    await elapse(1500);
    const r = await c.query<{ pid: number; at: Date }>('SELECT pg_backend_pid() AS pid, clock_timestamp() AS at');
    const after = await checks();
    expect(after).toHaveLength(before + 1);
    // The check ran on that same server, before the client's statement.
    expect(after[before]!.pid).toBe(pid);
    expect(r.rows[0]!.pid).toBe(pid);
    expect(after[before]!.at.getTime()).toBeLessThanOrEqual(r.rows[0]!.at.getTime());
    // Checked just now, so reused at once without another check.
    await pidOf(c);
    expect(await checks()).toHaveLength(before + 1);
  });
});

describe('a connect_query that fails', () => {
  it('is logged and the server serves anyway, as PgBouncer does (catches a close-and-reconnect loop that leaves clients hanging)', async () => {
    run = await runPgmux(cluster, {
      roles: ['s_cq'],
      databases: { app: "dbname=app connect_query='SELECT no_such_function()'" },
      settings: { default_pool_size: 1 },
    });
    const c = await run.connect('s_cq');
    try {
      const pid = await pidOf(c);
      // The same server again: it was neither closed nor replaced.
      expect(await pidOf(c)).toBe(pid);
      expect(await obs.pids('s_cq')).toEqual([pid]);
      expect(run.pgmux.logs()).toMatch(/connect_query failed: function no_such_function\(\) does not exist; using the server anyway/);
    } finally {
      await c.end();
    }
  });
});

describe('client_idle_timeout', () => {
  it('closes a client idle longer than the timeout with client_idle_timeout, but not a busy one (catches the timeout ignored or counted from login)', async () => {
    run = await runPgmux(cluster, { roles: ['s_cidle'], settings: { client_idle_timeout: 1 } });
    const idle = await run.connect('s_cidle');
    const busy = await run.connect('s_cidle');
    const started = Date.now();
    const closed = new Promise<Error>((resolve) => idle.once('error', resolve));
    // Loop on the last query's time, not the clock before the pause: under load one pause can
    // outlast the margin, and the busy client must have queried after the timeout had passed.
    let lastBusy = started;
    while (lastBusy - started < 1600) {
      await busy.query('SELECT 1');
      lastBusy = Date.now();
      await elapse(100);
    }
    const err = await closed;
    expect(err.message).toMatch(/client_idle_timeout/);
    expect(lastBusy - started).toBeGreaterThanOrEqual(1500);
    expect((await busy.query('SELECT 2 AS v')).rows).toEqual([{ v: 2 }]);
  });
});

describe('idle_transaction_timeout', () => {
  it('disconnects a client idle inside a transaction, rolls its work back and drops its server (catches a transaction left holding a server and locks)', async () => {
    run = await runPgmux(cluster, { roles: ['s_itx'], settings: { idle_transaction_timeout: 0.5 } });
    const c = await run.connect('s_itx');
    const other = await run.connect('s_itx');
    const closed = new Promise<Error>((resolve) => c.once('error', resolve));
    await c.query('BEGIN');
    await c.query("INSERT INTO tx_log VALUES ('idle-tx')");
    const pid = await pidOf(c);
    const started = Date.now();
    const err = await closed;
    expect(err.message).toMatch(/idle transaction timeout/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(EARLIEST_MS);
    await waitFor('the server of the abandoned transaction to close', async () => !(await obs.pids('s_itx')).includes(pid));
    expect((await obs.query("SELECT count(*)::int AS n FROM tx_log WHERE who = 'idle-tx'")).rows).toEqual([{ n: 0 }]);
    expect((await other.query('SELECT 3 AS v')).rows).toEqual([{ v: 3 }]);
  });
});

describe('query_timeout', () => {
  it('fails a query running longer than query_timeout and does not give its server to anyone else (catches the timeout ignored or a busy server reused)', async () => {
    run = await runPgmux(cluster, { roles: ['s_qt'], settings: { query_timeout: 0.5, default_pool_size: 1 } });
    const c = await run.connect('s_qt');
    const sleeping = await pidOf(c);
    const started = Date.now();
    const r = await outcome(c.query('SELECT pg_sleep(10)'));
    const took = Date.now() - started;
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toMatch(/query timeout/);
    expect(took).toBeGreaterThanOrEqual(500);
    expect(took).toBeLessThan(5000);
    // The one server slot is free again at once, on a fresh server.
    const next = await run.connect('s_qt');
    expect(await pidOf(next)).not.toBe(sleeping);
  });
});

describe('a server that dies', () => {
  it('while idle in the pool is dropped and replaced without any client noticing (catches a dead server handed out)', async () => {
    run = await runPgmux(cluster, { roles: ['s_dead'], settings: { default_pool_size: 2 } });
    const c = await run.connect('s_dead');
    const errors: Error[] = [];
    c.on('error', (e) => errors.push(e));
    for (let round = 0; round < 3; round++) {
      const pid = await pidOf(c);
      await obs.terminate(pid);
      await waitFor('the terminated backend to exit', async () => !(await obs.pids('s_dead')).includes(pid));
      const next = await pidOf(c);
      expect(next).not.toBe(pid);
    }
    expect(errors).toEqual([]);
  });

  it('under a client gives that client an error and nobody else: another open transaction commits (catches errors sent to the wrong client or a pool-wide failure)', async () => {
    run = await runPgmux(cluster, { roles: ['s_under'], settings: { default_pool_size: 3 } });
    const victim = await run.connect('s_under');
    const sleeper = await run.connect('s_under');
    const bystander = await run.connect('s_under');
    const victimError = new Promise<Error & { code?: string }>((resolve) => victim.once('error', resolve));
    await victim.query('BEGIN');
    await bystander.query('BEGIN');
    await bystander.query("INSERT INTO tx_log VALUES ('bystander')");
    const victimPid = await pidOf(victim);
    const sleeperPid = await pidOf(sleeper);
    const sleeping = outcome(sleeper.query('SELECT pg_sleep(30)'));
    await waitFor('the sleeper to be running pg_sleep', async () => (await obs.backends('s_under')).some((b) => b.pid === sleeperPid && b.state === 'active'));
    await obs.terminate(victimPid);
    await obs.terminate(sleeperPid);
    const e1 = await victimError;
    expect(['57P01', '08006']).toContain(e1.code);
    const slept = await sleeping;
    expect(slept.ok).toBe(false);
    if (!slept.ok) expect(['57P01', '08006']).toContain(slept.error.code);
    await bystander.query('COMMIT');
    expect((await obs.query("SELECT count(*)::int AS n FROM tx_log WHERE who = 'bystander'")).rows).toEqual([{ n: 1 }]);
    // The pool still serves new clients.
    const fresh = await run.connect('s_under');
    expect((await fresh.query('SELECT 4 AS v')).rows).toEqual([{ v: 4 }]);
  });
});
