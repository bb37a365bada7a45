// Black-box spec of the restart without dropping clients (issue 18): SIGUSR2 to the main process
// of `workers = N` starts fresh workers from the code on disk, and every old worker hands each of
// its clients (socket and session) to its successor at the client's next transaction boundary,
// then exits. Real PostgreSQL, real pgbench and node-postgres clients.

import type * as net from 'node:net';
import { TLSSocket } from 'node:tls';
import { Client } from 'pg';
import { Child } from '../support/child';
import { findPgBin } from '../support/pgbin';
import { initializePgbench } from '../failover/pgbench-load';
import { makePki, type Pki } from '../tls/support/pki';
import { appClient, allWorkersUp, freePort, keyOf, sendCancel, startCluster, startPgmux, userlist, waitFor, workerPids, workersIni, type Cluster, type PgmuxProcess } from './helpers';
import { isAlive as alive } from '../support/procs';


/** How many lines of the log match `pattern` (a g regexp): the log keeps every earlier restart's too. */
function count(mux: PgmuxProcess, pattern: RegExp): number {
  return mux.logs().match(pattern)?.length ?? 0;
}

/** The restart's end, as the main process logs it once every old worker has exited. */
const RESTART_DONE = /restart done: every worker runs the code on disk/g;
/** An old worker is told its successor serves. */
const RETIRING = /stops accepting and hands its clients/g;

/** How many clients the old workers say they handed over, in all. */
function handedOver(mux: PgmuxProcess): number {
  let n = 0;
  for (const m of mux.logs().matchAll(/handed over (\d+) clients to the new worker/g)) n += Number(m[1]);
  return n;
}

/** The local port of a node-postgres client's TCP connection: the same one means the same socket. */
function localPort(c: Client): number | undefined {
  return (c as unknown as { connection: { stream: net.Socket } }).connection.stream.localPort;
}

/** Sends SIGUSR2 to the main process; resolves with the new worker pids once the restart is done and every old worker has exited. */
async function restart(mux: PgmuxProcess, workers: number): Promise<Map<number, number>> {
  const before = workerPids(mux);
  const done = count(mux, RESTART_DONE);
  process.kill(mux.pid, 'SIGUSR2');
  await waitFor('the restart done', () => count(mux, RESTART_DONE) > done, 30000);
  const after = workerPids(mux);
  expect(after.size).toBe(workers);
  for (const [index, pid] of before) {
    expect(after.get(index)).not.toBe(pid);
    await waitFor(`old worker ${index} (pid ${pid}) gone`, () => !alive(pid));
  }
  return after;
}

describe.each([2, 4])('workers = %i: SIGUSR2 under pgbench', (workers) => {
  let cluster: Cluster;
  let mux: PgmuxProcess;

  beforeAll(async () => {
    cluster = await startCluster({ replica: false });
    await initializePgbench({ port: cluster.primary.port, user: 'app', password: cluster.password, database: 'app' }, 1);
    mux = await startPgmux(workersIni(cluster, await freePort(), workers, ['default_pool_size = 20']), userlist(cluster));
    await allWorkersUp(mux, workers);
  });
  afterAll(async () => {
    await mux?.stop();
    await cluster?.stop();
  });

  /**
   * Catches: SIGUSR2 ending pgmux (node's default) or any worker; a client dropped or given an
   * error while it moves; a transaction cut by the move; an old worker that never exits; new
   * workers that are not new processes. With -M prepared: a moved client's named statements
   * (pgbench prepares each once, then only binds) missing on the new worker.
   */
  it.each(['simple', 'prepared'])('pgbench -M %s -c 20 sees no error and no aborted client; every worker pid is new', async (mode) => {
    const pgbench = await Child.start(
      findPgBin('pgbench'),
      ['-h', '127.0.0.1', '-p', String(mux.port), '-U', 'app', '-n', '-M', mode, '-c', '20', '-T', '12', '-P', '1', 'app'],
      { label: 'pgbench', env: { ...withoutPg(), PGPASSWORD: cluster.password }, emergencySignal: 'SIGKILL' },
    );
    try {
      await pgbench.waitForLog(/progress: [\d.]+ s, [1-9][\d.]* tps/, 20000);
      const moved = handedOver(mux);
      const pids = await restart(mux, workers);
      // Every pgbench client was connected before the signal: all 20 moved, none reconnected.
      expect(handedOver(mux) - moved).toBe(20);
      const exit = await pgbench.exited;
      const out = pgbench.logs();
      expect({ code: exit.code, aborted: out.match(/.*aborted.*/g) ?? [], errors: out.match(/.*error.*/gi) ?? [] }).toEqual({ code: 0, aborted: [], errors: [] });
      expect(out).toMatch(/number of failed transactions: 0 /);
      // Transactions went on after the move (the last progress lines, on the new workers, are not zero).
      expect(out).toMatch(/progress: (?:10|11|12)\.\d s, [1-9][\d.]* tps/);
      for (const pid of pids.values()) expect(alive(pid)).toBe(true);
    } finally {
      await pgbench.stop([{ signal: 'SIGKILL', waitMs: 5000 }]);
    }
  });
});

describe('workers = 2: a session carried over', () => {
  let cluster: Cluster;
  let mux: PgmuxProcess;

  beforeAll(async () => {
    cluster = await startCluster({ replica: false });
    mux = await startPgmux(workersIni(cluster, await freePort(), 2), userlist(cluster));
    await allWorkersUp(mux, 2);
  });
  afterAll(async () => {
    await mux?.stop();
    await cluster?.stop();
  });

  /**
   * Catches: a moved client losing its SET values (tracked and untracked), its SQL PREPARE, its
   * protocol-level named statement (node-postgres sends only Bind/Execute the second time), its
   * LISTEN, its cancel key; the client having to reconnect (another socket).
   */
  it('keeps its settings, prepared statements, LISTEN, cancel key and socket', async () => {
    const client = await appClient(cluster, mux.port);
    const other = await appClient(cluster, mux.port);
    let closed = false;
    client.on('end', () => (closed = true));
    try {
      await client.query("SET application_name = 'carried_app'");
      await client.query("SET work_mem = '7MB'");
      await client.query('PREPARE doubled(int) AS SELECT $1 * 2 AS n');
      expect((await client.query({ name: 'plus_one', text: 'SELECT $1::int + 1 AS n', values: [1] })).rows).toEqual([{ n: 2 }]);
      await client.query('LISTEN carried_channel');
      const port = localPort(client);
      const key = keyOf(client);

      await restart(mux, 2);

      expect((await client.query('SHOW application_name')).rows).toEqual([{ application_name: 'carried_app' }]);
      expect((await client.query('SHOW work_mem')).rows).toEqual([{ work_mem: '7MB' }]);
      expect((await client.query('EXECUTE doubled(21)')).rows).toEqual([{ n: 42 }]);
      expect((await client.query({ name: 'plus_one', text: 'SELECT $1::int + 1 AS n', values: [41] })).rows).toEqual([{ n: 42 }]);
      const notified = new Promise<string | undefined>((resolve) => client.once('notification', (n) => resolve(n.payload)));
      await other.query("NOTIFY carried_channel, 'after the restart'");
      expect(await notified).toBe('after the restart');
      expect((await client.query('SELECT pg_listening_channels() AS c')).rows).toEqual([{ c: 'carried_channel' }]);

      // Its key still cancels its query, from whichever new worker the cancel lands on.
      expect(keyOf(client)).toEqual(key);
      const sleeping = client.query('SELECT pg_sleep(30) /* carried_cancel */');
      await waitFor('the sleep running', async () => (await cluster.query(cluster.primary, "SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%carried_cancel%' AND pid <> pg_backend_pid()")).rows.length > 0);
      await sendCancel(mux.port, key.pid, key.secret);
      await expect(sleeping).rejects.toMatchObject({ code: '57014' });

      expect(localPort(client)).toBe(port);
      expect(closed).toBe(false);
    } finally {
      await client.end().catch(() => undefined);
      await other.end().catch(() => undefined);
    }
  });

  /**
   * Catches, with psycopg 3 as applications use it: its server-side prepared statements (made
   * after prepare_threshold executions, then only bound by name) or its SET lost in the move, or
   * the connection cut. Python blocks SIGUSR1 and waits for it while the restart happens.
   */
  it('keeps a psycopg 3 connection, its prepared statements and settings', async () => {
    const script = [
      'import os, signal, sys, psycopg',
      'signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])',
      "conn = psycopg.connect(host='127.0.0.1', port=int(os.environ['PGMUX_PORT']), user='app', dbname='app', password=os.environ['PGPASSWORD'], autocommit=True)",
      "conn.execute(\"SET statement_timeout = '4321ms'\")",
      'def run(base):',
      '    for i in range(8):',
      "        assert conn.execute('SELECT %s::int + 1 AS n', (base + i,)).fetchone()[0] == base + i + 1",
      'run(0)',
      "print('READY', flush=True)",
      'signal.sigwait([signal.SIGUSR1])',
      'run(100)',
      "print('timeout', conn.execute('SHOW statement_timeout').fetchone()[0], flush=True)",
      "print('DONE', flush=True)",
    ].join('\n');
    const py = await Child.start('/usr/bin/python3', ['-c', script], { label: 'psycopg', env: { ...process.env, PGMUX_PORT: String(mux.port), PGPASSWORD: cluster.password }, emergencySignal: 'SIGKILL' });
    try {
      await py.waitForLog(/READY/, 20000);
      await restart(mux, 2);
      py.signal('SIGUSR1');
      const exit = await py.exited;
      expect({ code: exit.code, logs: py.logs() }).toMatchObject({ code: 0, logs: expect.stringMatching(/timeout 4321ms\s+DONE/) });
    } finally {
      await py.stop([{ signal: 'SIGKILL', waitMs: 5000 }]);
    }
  });

  /**
   * Catches: a client moved (or cut) in the middle of its transaction; the old worker exiting
   * before the transaction ends; the transaction's work lost or split over two servers.
   */
  it('a client inside a transaction finishes it on the old worker, then moves', async () => {
    const client = await appClient(cluster, mux.port);
    try {
      await client.query('CREATE TABLE IF NOT EXISTS carried_tx (n int)');
      await client.query('TRUNCATE carried_tx');
      await client.query('BEGIN');
      await client.query('INSERT INTO carried_tx VALUES (1)');
      const server = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
      const before = workerPids(mux);
      const done = count(mux, RESTART_DONE);
      const retiring = count(mux, RETIRING);
      process.kill(mux.pid, 'SIGUSR2');
      // Both new workers serve and the old ones hand over: the old worker holding the open transaction stays.
      await waitFor('both old workers told to hand over', () => count(mux, RETIRING) >= retiring + 2, 30000);
      await waitFor('one old worker exited', () => [...before.values()].filter((pid) => !alive(pid)).length >= 1, 30000);
      expect([...before.values()].filter(alive).length).toBe(1);
      expect(count(mux, RESTART_DONE)).toBe(done);

      await client.query('INSERT INTO carried_tx VALUES (2)');
      expect((await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid).toBe(server);
      await client.query('COMMIT');
      await waitFor('the restart done', () => count(mux, RESTART_DONE) > done, 30000);
      for (const pid of before.values()) await waitFor(`old worker (pid ${pid}) gone`, () => !alive(pid));

      expect((await client.query('SELECT array_agg(n ORDER BY n) AS ns FROM carried_tx')).rows).toEqual([{ ns: [1, 2] }]);
    } finally {
      await client.end().catch(() => undefined);
    }
  });

  /**
   * Catches: a client pinned to its server (a temporary table) moved without it, or cut; an old
   * worker that exits while it still holds the pin; a pin released but the client never moved.
   */
  it('a client pinned by a temporary table stays on the old worker until the pin goes, then moves', async () => {
    const client = await appClient(cluster, mux.port);
    try {
      await client.query('CREATE TEMP TABLE carried_pin (n int)');
      const server = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
      const before = workerPids(mux);
      const done = count(mux, RESTART_DONE);
      const retiring = count(mux, RETIRING);
      process.kill(mux.pid, 'SIGUSR2');
      await waitFor('both old workers told to hand over', () => count(mux, RETIRING) >= retiring + 2, 30000);
      await waitFor('one old worker exited', () => [...before.values()].filter((pid) => !alive(pid)).length >= 1, 30000);
      expect([...before.values()].filter(alive).length).toBe(1);

      await client.query('INSERT INTO carried_pin VALUES (1)');
      expect((await client.query('SELECT count(*)::int AS n, pg_backend_pid() AS pid FROM carried_pin')).rows).toEqual([{ n: 1, pid: server }]);
      expect(count(mux, RESTART_DONE)).toBe(done);

      await client.query('DROP TABLE carried_pin');
      await waitFor('the restart done', () => count(mux, RESTART_DONE) > done, 30000);
      for (const pid of before.values()) await waitFor(`old worker (pid ${pid}) gone`, () => !alive(pid));
      expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await client.end().catch(() => undefined);
    }
  });
});

describe('workers = 2: clients that cannot move', () => {
  let cluster: Cluster;
  let pki: Pki;
  let mux: PgmuxProcess;

  beforeAll(async () => {
    [cluster, pki] = await Promise.all([startCluster({ replica: false }), makePki()]);
    const tls = ['client_tls_sslmode = allow', `client_tls_key_file = ${pki.key('server')}`, `client_tls_cert_file = ${pki.cert('server')}`];
    mux = await startPgmux(workersIni(cluster, await freePort(), 2, tls), userlist(cluster));
    await allWorkersUp(mux, 2);
  });
  afterAll(async () => {
    await mux?.stop();
    await cluster?.stop();
    pki?.remove();
  });

  /**
   * Catches: a TLS client or an admin console connection cut by the restart (their state cannot
   * be carried); an old worker that exits while it still serves one; one that never exits after
   * they left; a plain client broken by the restart around them.
   */
  it('a TLS client and a console connection stay on their old worker until they leave; the rest move', async () => {
    const secure = new Client({ host: '127.0.0.1', port: mux.port, user: 'app', password: cluster.password, database: 'app', ssl: { rejectUnauthorized: false } });
    await secure.connect();
    const admin = new Client({ host: '127.0.0.1', port: mux.port, user: 'app', password: cluster.password, database: 'pgbouncer' });
    await admin.connect();
    const plain = await appClient(cluster, mux.port);
    try {
      expect(Reflect.get(Reflect.get(secure, 'connection') as object, 'stream')).toBeInstanceOf(TLSSocket);
      const before = workerPids(mux);
      const done = count(mux, RESTART_DONE);
      process.kill(mux.pid, 'SIGUSR2');
      await waitFor('the old workers told what keeps them', () => /cannot move and stay on this worker until they disconnect: .*\(TLS\)/.test(mux.logs()) && /cannot move and stay on this worker until they disconnect: .*\(admin console\)/.test(mux.logs()), 30000);
      expect((await plain.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      expect((await secure.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
      expect((await admin.query('SHOW VERSION')).rows.length).toBe(1);
      expect(count(mux, RESTART_DONE)).toBe(done);
      expect([...before.values()].some(alive)).toBe(true);

      await secure.end();
      await admin.end();
      await waitFor('the restart done', () => count(mux, RESTART_DONE) > done, 30000);
      for (const pid of before.values()) await waitFor(`old worker (pid ${pid}) gone`, () => !alive(pid));
      expect((await plain.query('SELECT 3 AS three')).rows).toEqual([{ three: 3 }]);
    } finally {
      await Promise.all([secure, admin, plain].map((c) => c.end().catch(() => undefined)));
    }
  });
});

describe('workers = 1', () => {
  /** Catches: SIGUSR2 ending a single pgmux (node's default for it) and its clients with it. */
  it('SIGUSR2 says a restart needs workers >= 2 and changes nothing', async () => {
    const cluster = await startCluster({ replica: false });
    const mux = await startPgmux(workersIni(cluster, await freePort(), 1), userlist(cluster));
    const client = await appClient(cluster, mux.port);
    try {
      expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      process.kill(mux.pid, 'SIGUSR2');
      await mux.waitForLog(/got SIGUSR2: a restart without dropping clients needs workers = 2 or more/, 10000);
      expect((await client.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
      expect(alive(mux.pid)).toBe(true);
    } finally {
      await client.end().catch(() => undefined);
      await mux.stop();
      await cluster.stop();
    }
  });
});

/** Our environment without PG* variables (they would change where pgbench connects). */
function withoutPg(): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PG')) out[k] = v;
  return out;
}
