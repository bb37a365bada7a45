// Black-box spec of limits and queueing (issue 3, "Limits and queueing"): max_client_conn,
// default_pool_size, min_pool_size, reserve_pool_size/reserve_pool_timeout, max_db_connections,
// max_user_connections, FIFO service and query_wait_timeout. Server counts are read from
// PostgreSQL's pg_stat_activity; every test logs pgmux in as roles of its own.

import { readFileSync } from 'node:fs';
import { RawClient, msg } from '../support/wire';
import { elapse, outcome, pidOf, poolSuite, runPgmux, track, waitFor, waitUntilRead } from './support';

const ROLES = ['l_max', 'l_size', 'l_size1', 'l_min', 'l_res', 'l_db1', 'l_db2', 'l_user', 'l_fifo', 'l_wait', 'l_pkt'];

jest.setTimeout(20000);

const suite = poolSuite(ROLES, 'CREATE SEQUENCE fifo_seq; CREATE TABLE wait_log (x int)');

/** Samples the number of backends of `users` until stopped; returns the largest count seen. */
function sampleBackends(users: readonly string[]): { stop(): Promise<number> } {
  let running = true;
  let max = 0;
  const loop = (async () => {
    while (running) {
      let n = 0;
      for (const u of users) n += (await suite.obs.pids(u)).length;
      max = Math.max(max, n);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return max;
    },
  };
}

describe('max_client_conn', () => {
  it('refuses the client over the limit at once, saying max_client_conn, and admits again once one leaves (catches a silent hang or a wrong count)', async () => {
    suite.run = await runPgmux(suite.cluster, { roles: ['l_max'], settings: { max_client_conn: 3 } });
    const held = [await suite.run.connect('l_max'), await suite.run.connect('l_max'), await suite.run.connect('l_max')];
    const started = Date.now();
    const refused = await outcome(suite.run.connect('l_max'));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(refused.ok).toBe(false);
    if (!refused.ok) {
      expect(refused.error.message).toMatch(/max_client_conn/);
      expect(refused.error.code).toBe('53300');
    }
    // The others are untouched.
    expect((await held[0]!.query('SELECT 1 AS v')).rows).toEqual([{ v: 1 }]);
    await held[2]!.end();
    const again = await waitFor('a slot to free up after a client left', async () => {
      const r = await outcome(suite.run!.connect('l_max'));
      return r.ok ? r.value : undefined;
    });
    expect((await again.query('SELECT 2 AS v')).rows).toEqual([{ v: 2 }]);
  });
});

describe('default_pool_size', () => {
  it('caps servers per pool, and a database line pool_size overrides it (catches a pool that grows with its clients)', async () => {
    suite.run = await runPgmux(suite.cluster, {
      roles: ['l_size', 'l_size1'],
      settings: { default_pool_size: 2 },
      databases: { small: 'dbname=app pool_size=1' },
    });
    const big = await Promise.all(Array.from({ length: 6 }, () => suite.run!.connect('l_size')));
    const small = await Promise.all(Array.from({ length: 4 }, () => suite.run!.connect('l_size1', { database: 'small' })));
    const sampleBig = sampleBackends(['l_size']);
    const sampleSmall = sampleBackends(['l_size1']);
    await Promise.all([...big, ...small].map((c) => c.query('SELECT pg_sleep(0.1)')));
    expect(await sampleBig.stop()).toBe(2);
    expect(await sampleSmall.stop()).toBe(1);
  });
});

describe('min_pool_size', () => {
  it('opens servers ahead of demand and keeps that many when server_idle_timeout closes the rest (catches min_pool_size ignored, or idle timeout going below it)', async () => {
    suite.run = await runPgmux(suite.cluster, { roles: ['l_min'], settings: { default_pool_size: 5, min_pool_size: 3, server_idle_timeout: 0.3 } });
    const first = await suite.run.connect('l_min');
    await first.query('SELECT 1');
    await first.end();
    // Nobody is connected, yet the pool fills to min_pool_size.
    await waitFor('3 servers opened ahead of demand', async () => (await suite.obs.pids('l_min')).length === 3);
    const five = await Promise.all(Array.from({ length: 5 }, () => suite.run!.connect('l_min')));
    await Promise.all(five.map((c) => c.query('SELECT pg_sleep(0.2)')));
    expect((await suite.obs.pids('l_min')).length).toBe(5);
    await Promise.all(five.map((c) => c.end()));
    await waitFor('idle servers above min_pool_size to close', async () => (await suite.obs.pids('l_min')).length === 3);
    await elapse(1000);
    expect((await suite.obs.pids('l_min')).length).toBe(3);
  });
});

describe('reserve_pool_size / reserve_pool_timeout', () => {
  it('opens up to reserve_pool_size extra servers once a client has waited reserve_pool_timeout, never more (catches a reserve used early, never, or without bound)', async () => {
    suite.run = await runPgmux(suite.cluster, { roles: ['l_res'], settings: { default_pool_size: 1, reserve_pool_size: 2, reserve_pool_timeout: 1 } });
    const holder = await suite.run.connect('l_res');
    const waiters = await Promise.all(Array.from({ length: 4 }, () => suite.run!.connect('l_res')));
    await holder.query('BEGIN');
    const held = await pidOf(holder);
    const sample = sampleBackends(['l_res']);
    const started = Date.now();
    const results = await Promise.all(
      waiters.map(async (c) => {
        const r = await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid, pg_sleep(0.2)');
        return { pid: r.rows[0]!.pid, after: Date.now() - started };
      }),
    );
    // All four were served while the pool's one server stayed in the holder's transaction.
    expect(await pidOf(holder)).toBe(held);
    for (const r of results) {
      expect(r.pid).not.toBe(held);
      // The 1 s wait, then the 0.2 s query; a reserve used at once answers in about 0.2 s.
      expect(r.after).toBeGreaterThanOrEqual(1200);
    }
    expect(new Set(results.map((r) => r.pid)).size).toBe(2);
    expect(await sample.stop()).toBe(3);
    await holder.query('COMMIT');
  });
});

describe('max_db_connections', () => {
  it("caps servers across the database's pools, and a waiting pool takes over another pool's idle server (catches per-pool counting or a waiter starved by idle servers)", async () => {
    suite.run = await runPgmux(suite.cluster, { roles: ['l_db1', 'l_db2'], settings: { default_pool_size: 5, max_db_connections: 2 } });
    const a1 = await suite.run.connect('l_db1');
    const b1 = await suite.run.connect('l_db2');
    const a2 = await suite.run.connect('l_db1');
    const sample = sampleBackends(['l_db1', 'l_db2']);
    await a1.query('BEGIN');
    await b1.query('BEGIN');
    const b1pid = await pidOf(b1);
    const waiting = track(pidOf(a2));
    await a1.query('SELECT 1');
    await b1.query('SELECT 1');
    expect(waiting.settled()).toBe(false);
    // b1's server goes idle in its own pool; pgmux closes it to make room for l_db1's waiter.
    await b1.query('COMMIT');
    const served = await waiting.promise;
    expect(served).not.toBe(b1pid);
    expect(await suite.obs.pids('l_db2')).toEqual([]);
    expect(await sample.stop()).toBe(2);
    await a1.query('COMMIT');
  });
});

describe('max_user_connections', () => {
  it("caps a user's servers across databases ([users] line), and a waiting pool takes over the user's idle server elsewhere (catches per-pool counting)", async () => {
    suite.run = await runPgmux(suite.cluster, {
      roles: ['l_user'],
      settings: { default_pool_size: 5 },
      databases: { other: 'dbname=app' },
      users: { l_user: 'max_user_connections=1' },
    });
    const onApp = await suite.run.connect('l_user');
    const onOther = await suite.run.connect('l_user', { database: 'other' });
    const sample = sampleBackends(['l_user']);
    await onApp.query('BEGIN');
    const appPid = await pidOf(onApp);
    const waiting = track(pidOf(onOther));
    await onApp.query('SELECT 1');
    expect(waiting.settled()).toBe(false);
    await onApp.query('COMMIT');
    const otherPid = await waiting.promise;
    expect(otherPid).not.toBe(appPid);
    expect(await suite.obs.pids('l_user')).toEqual([otherPid]);
    expect(await sample.stop()).toBe(1);
  });
});

describe('FIFO queue', () => {
  it('serves waiting clients in their order of arrival (catches LIFO or unordered wakeups)', async () => {
    suite.run = await runPgmux(suite.cluster, { roles: ['l_fifo'], settings: { default_pool_size: 1 } });
    const holder = await suite.run.connect('l_fifo');
    const clients = await Promise.all(Array.from({ length: 8 }, () => suite.run!.connect('l_fifo')));
    await holder.query('BEGIN');
    const pending: Promise<number>[] = [];
    for (const c of clients) {
      pending.push(c.query<{ n: string }>("SELECT nextval('fifo_seq') AS n").then((r) => Number(r.rows[0]!.n)));
      // Arrival order is what pgmux read first: wait until it has this one before the next.
      await waitUntilRead(suite.run.port, c);
    }
    await holder.query('COMMIT');
    const served = await Promise.all(pending);
    const sorted = [...served].sort((x, y) => x - y);
    expect(served).toEqual(sorted);
  });
});

describe('query_wait_timeout', () => {
  it('fails a client that waited too long with query_wait_timeout, and leaves the holder alone (catches endless waits or the wrong client failing)', async () => {
    suite.run = await runPgmux(suite.cluster, { roles: ['l_wait'], settings: { default_pool_size: 1, query_wait_timeout: 0.5 } });
    const holder = await suite.run.connect('l_wait');
    const waiter = await suite.run.connect('l_wait');
    await holder.query('BEGIN');
    await holder.query('INSERT INTO wait_log VALUES (1)');
    const started = Date.now();
    const r = await outcome(waiter.query('SELECT 1'));
    const waited = Date.now() - started;
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toMatch(/query_wait_timeout/);
    // 0.5 s at least (pgmux stamps the wait after the spec's stopwatch starts, and never fires
    // early); without the timeout it would wait for the holder.
    expect(waited).toBeGreaterThanOrEqual(500);
    expect(waited).toBeLessThan(5000);
    await holder.query('COMMIT');
    expect((await suite.obs.query('SELECT count(*)::int AS n FROM wait_log')).rows).toEqual([{ n: 1 }]);
  });
});

/** Bytes a process has read with read(2)/recv(2) so far, sockets included (rchar). */
function bytesRead(pid: number): number {
  const m = /^rchar:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
  if (!m) throw new Error(`no rchar for pid ${pid}`);
  return Number(m[1]);
}

describe('a queued client that keeps sending', () => {
  it('is read up to about pkt_buf, then not until a server is free; then every query runs (catches unbounded buffering of a waiting client)', async () => {
    suite.run = await runPgmux(suite.cluster, { roles: ['l_pkt'], settings: { default_pool_size: 1 } });
    const holder = await suite.run.connect('l_pkt');
    await holder.query('BEGIN');
    const raw = await RawClient.login(suite.run.port, 'l_pkt', suite.cluster.password);
    try {
      const queries = 800;
      const literal = 'x'.repeat(10000);
      const before = bytesRead(suite.run.pgmux.pid);
      // 8 MB of pipelined queries while the only server is held: pgmux must stop reading.
      raw.send(...Array.from({ length: queries }, () => msg.query(`SELECT '${literal}' AS v`)));
      let last = -1;
      let steady = 0;
      await waitFor('pgmux to stop reading from the waiting client', () => {
        const now = bytesRead(suite.run!.pgmux.pid);
        steady = now === last ? steady + 1 : 0;
        last = now;
        return steady >= 5;
      });
      expect(last - before).toBeLessThan(1024 * 1024);
      await holder.query('COMMIT');
      let rows = 0;
      for (let i = 0; i < queries; i++) {
        for (const f of await raw.until('Z')) if (f.type === 'D') rows++;
      }
      expect(rows).toBe(queries);
    } finally {
      raw.destroy();
      await holder.end();
    }
  });
});
