// Black-box spec of pool modes (issue 3, "Pools per (database, user). Modes: ..."): real
// PostgreSQL, real clients (node-postgres, postgres.js, and raw protocol bytes where a driver
// will not produce the message sequence), pgmux as a child process. What a server is doing is
// read from PostgreSQL itself (pg_backend_pid(), pg_stat_activity), never from pgmux's words.

import postgres from 'postgres';
import { outcome, pidOf, poolSuite, runPgmux, track, waitFor } from './support';
import { msg, RawClient, rowsOf } from '../support/wire';

const ROLES = ['m_tx', 'm_hold', 'm_pipe', 'm_pgjs', 'm_portal', 'm_sess', 'm_reset', 'm_noreset', 'm_always', 'm_never', 'm_stmt'];

jest.setTimeout(20000);

const suite = poolSuite(ROLES, 'CREATE TABLE pool_tx (id serial PRIMARY KEY, client int NOT NULL, pid int NOT NULL)');

describe('transaction mode', () => {
  it('20 clients looping BEGIN/INSERT/COMMIT share default_pool_size=2 backends and every row lands (catches a pool that opens a server per client or loses writes)', async () => {
    suite.run = await runPgmux(suite.cluster, { roles: ['m_tx'], settings: { default_pool_size: 2 } });
    const clients = await Promise.all(Array.from({ length: 20 }, () => suite.run!.connect('m_tx')));
    let running = true;
    let maxSeen = 0;
    const sampler = (async () => {
      while (running) maxSeen = Math.max(maxSeen, (await suite.obs.pids('m_tx')).length);
    })();
    const LOOPS = 10;
    const pidsUsed = new Set<number>();
    try {
      await Promise.all(
        clients.map(async (c, n) => {
          for (let i = 0; i < LOOPS; i++) {
            await c.query('BEGIN');
            const ins = await c.query<{ pid: number }>('INSERT INTO pool_tx (client, pid) VALUES ($1, pg_backend_pid()) RETURNING pid', [n]);
            const inTx = await pidOf(c);
            // Every statement of one transaction runs on the same backend.
            expect(inTx).toBe(ins.rows[0]!.pid);
            await c.query('COMMIT');
            pidsUsed.add(inTx);
          }
        }),
      );
    } finally {
      running = false;
      await sampler;
    }
    const rows = await suite.obs.query("SELECT count(*)::int AS n, count(DISTINCT pid)::int AS pids FROM pool_tx");
    expect(rows.rows[0]).toEqual({ n: 20 * LOOPS, pids: 2 });
    expect(pidsUsed.size).toBe(2);
    expect(maxSeen).toBeLessThanOrEqual(2);
    expect(await suite.obs.pids('m_tx')).toHaveLength(2);
  });

  it('a client inside BEGIN keeps its server until COMMIT, then a waiting client gets that server (catches release at a statement boundary inside a transaction)', async () => {
    suite.run = await runPgmux(suite.cluster, { roles: ['m_hold'], settings: { default_pool_size: 1 } });
    const a = await suite.run.connect('m_hold');
    const b = await suite.run.connect('m_hold');
    await a.query('BEGIN');
    const pidA = await pidOf(a);
    const waiting = track(pidOf(b));
    for (let i = 0; i < 3; i++) expect(await pidOf(a)).toBe(pidA);
    expect(waiting.settled()).toBe(false);
    const seen = await suite.obs.backends('m_hold');
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ pid: pidA, state: 'idle in transaction' });
    await a.query('COMMIT');
    expect(await waiting.promise).toBe(pidA);
  });

  it('several pipelined Syncs in one write keep the server until the last ReadyForQuery (catches release at the first ReadyForQuery of a pipeline)', async () => {
    suite.run = await runPgmux(suite.cluster, { roles: ['m_pipe'], settings: { default_pool_size: 1 } });
    const raw = await RawClient.login(suite.run.port, 'm_pipe', suite.cluster.password);
    const other = await suite.run.connect('m_pipe');
    try {
      raw.send(msg.extended("SELECT pg_backend_pid()::text, 'first'"), msg.extended("SELECT pg_sleep(0.3)::text, 'second'"), msg.extended("SELECT pg_backend_pid()::text, 'third'"));
      const first = await raw.until('Z');
      const [pid1, tag1] = rowsOf(first)[0]!;
      expect(tag1).toBe('first');
      // Queued now, while two ReadyForQuery are still owed to the pipeline.
      const waiting = track(other.query<{ who: string; pid: number }>("SELECT 'other' AS who, pg_backend_pid() AS pid"));
      const second = await raw.until('Z');
      expect(rowsOf(second)[0]![1]).toBe('second');
      const third = await raw.until('Z');
      expect(rowsOf(third)[0]).toEqual([pid1, 'third']);
      expect((await waiting.promise).rows).toEqual([{ who: 'other', pid: Number(pid1) }]);
    } finally {
      await raw.close();
    }
  });

  it('postgres.js pipelining many queries on one connection gets every answer right while another client competes for pool_size=1 (catches a pipeline split across servers or answers sent to the wrong client)', async () => {
    suite.run = await runPgmux(suite.cluster, { roles: ['m_pgjs'], settings: { default_pool_size: 1 } });
    const sql = postgres({ host: '127.0.0.1', port: suite.run.port, user: 'm_pgjs', pass: suite.cluster.password, database: 'app', max: 1, prepare: false, onnotice: () => undefined });
    const other = await suite.run.connect('m_pgjs');
    try {
      await sql`SELECT 1`;
      const N = 30;
      let stop = false;
      const competitor = (async () => {
        let n = 0;
        while (!stop) {
          const r = await other.query<{ v: number }>('SELECT $1::int AS v', [n]);
          expect(r.rows[0]!.v).toBe(n++);
        }
        return n;
      })();
      // No parameters, so postgres.js sends each as Parse/Bind/Execute/Sync without waiting
      // (a parameter would make it describe first and wait); pg_sleep keeps the pipeline full.
      const answers = await Promise.all(Array.from({ length: N }, (_, i) => sql.unsafe<{ i: number }[]>(`SELECT ${i}::int AS i, pg_sleep(0.005)`)));
      stop = true;
      expect(await competitor).toBeGreaterThan(0);
      expect(answers.map((r) => r[0]!.i)).toEqual(Array.from({ length: N }, (_, i) => i));
      expect(await suite.obs.pids('m_pgjs')).toHaveLength(1);
    } finally {
      await sql.end({ timeout: 5 });
    }
  });

  it('an Execute with a row limit and Flush (suspended portal) keeps the server until Sync, even after an earlier ReadyForQuery (catches release while a portal is open)', async () => {
    suite.run = await runPgmux(suite.cluster, { roles: ['m_portal'], settings: { default_pool_size: 1 } });
    const raw = await RawClient.login(suite.run.port, 'm_portal', suite.cluster.password);
    const other = await suite.run.connect('m_portal');
    try {
      // The simple query's ReadyForQuery 'I' arrives while the portal messages are already sent.
      raw.send(msg.query('SELECT pg_backend_pid()'), msg.parse('SELECT g FROM generate_series(1, 10) g'), msg.bind(), msg.execute(3), msg.flush());
      const pid = rowsOf(await raw.until('Z'))[0]![0];
      const page1 = await raw.until('s');
      expect(rowsOf(page1).map((r) => r[0])).toEqual(['1', '2', '3']);
      const waiting = track(pidOf(other));
      raw.send(msg.execute(2), msg.flush());
      expect(rowsOf(await raw.until('s')).map((r) => r[0])).toEqual(['4', '5']);
      expect(waiting.settled()).toBe(false);
      raw.send(msg.execute(0), msg.sync());
      const rest = await raw.until('Z');
      expect(rowsOf(rest).map((r) => r[0])).toEqual(['6', '7', '8', '9', '10']);
      expect(rest.map((f) => f.type)).not.toContain('E');
      expect(String(await waiting.promise)).toBe(pid);
    } finally {
      await raw.close();
    }
  });
});

describe('session mode', () => {
  it('a client keeps one backend for its whole session, even between transactions, and others wait for it (catches transaction-style release in session mode)', async () => {
    suite.run = await runPgmux(suite.cluster, { roles: ['m_sess'], settings: { pool_mode: 'session', default_pool_size: 2 } });
    const a = await suite.run.connect('m_sess');
    const b = await suite.run.connect('m_sess');
    const c = await suite.run.connect('m_sess');
    const pidA = await pidOf(a);
    const pidB = await pidOf(b);
    expect(pidB).not.toBe(pidA);
    const waiting = track(pidOf(c));
    for (let i = 0; i < 3; i++) {
      expect(await pidOf(a)).toBe(pidA);
      expect(await pidOf(b)).toBe(pidB);
    }
    // Both servers are held by idle sessions: c waits although nobody is in a transaction.
    expect(waiting.settled()).toBe(false);
    await a.end();
    expect(await waiting.promise).toBe(pidA);
  });

  it('server_reset_query (DISCARD ALL) runs when a client leaves: its temp table and SET are gone for the next client on that backend (catches a missing reset)', async () => {
    const leftovers = async (user: string, reset: string) => {
      suite.run = await runPgmux(suite.cluster, { roles: [user], settings: { pool_mode: 'session', default_pool_size: 1, server_reset_query: reset } });
      const a = await suite.run.connect(user);
      await a.query("CREATE TEMP TABLE left_behind (x int); SET work_mem = '7MB'");
      const pidA = await pidOf(a);
      await a.end();
      const b = await suite.run.connect(user);
      const r = await b.query<{ pid: number; tbl: string | null; work_mem: string }>(
        "SELECT pg_backend_pid() AS pid, to_regclass('pg_temp.left_behind')::text AS tbl, current_setting('work_mem') AS work_mem",
      );
      await suite.run.stop();
      suite.run = undefined;
      expect(r.rows[0]!.pid).toBe(pidA);
      return r.rows[0];
    };
    expect(await leftovers('m_reset', 'DISCARD ALL')).toMatchObject({ tbl: null, work_mem: '4MB' });
    // The control: with the reset query emptied, the same steps leak, so the above is the reset's doing.
    expect(await leftovers('m_noreset', '')).toMatchObject({ tbl: expect.stringContaining('left_behind'), work_mem: '7MB' });
  });
});

describe('server_reset_query_always', () => {
  it('runs the reset in transaction mode too when set, and not when unset (catches the setting being ignored)', async () => {
    const workMemSeenByNext = async (user: string, always: number) => {
      suite.run = await runPgmux(suite.cluster, { roles: [user], settings: { default_pool_size: 1, server_reset_query_always: always } });
      const a = await suite.run.connect(user);
      // A plain SET now follows its client and is reset for the next one (lib/session/settings);
      // a set_config whose name is computed is the one kind pgmux cannot follow, so only the
      // reset query takes it away.
      await a.query("SELECT set_config('work_' || 'mem', '7MB', false)");
      const pidA = await pidOf(a);
      const b = await suite.run.connect(user);
      const r = await b.query<{ pid: number; work_mem: string }>("SELECT pg_backend_pid() AS pid, current_setting('work_mem') AS work_mem");
      await suite.run.stop();
      suite.run = undefined;
      expect(r.rows[0]!.pid).toBe(pidA);
      return r.rows[0]!.work_mem;
    };
    expect(await workMemSeenByNext('m_always', 1)).toBe('4MB');
    expect(await workMemSeenByNext('m_never', 0)).toBe('7MB');
  });
});

describe('statement mode', () => {
  it("refuses a multi-statement transaction with PgBouncer's error and runs single statements on a shared server (catches transactions slipping through statement mode)", async () => {
    suite.run = await runPgmux(suite.cluster, { roles: ['m_stmt'], settings: { pool_mode: 'statement', default_pool_size: 1 } });
    const a = await suite.run.connect('m_stmt');
    const b = await suite.run.connect('m_stmt');
    // Single statements from two clients alternate on the one server.
    const pid = await pidOf(a);
    expect(await pidOf(b)).toBe(pid);
    expect((await a.query('SELECT 41 + 1 AS v')).rows).toEqual([{ v: 42 }]);
    // An implicit multi-statement transaction in one Query ends idle, so it is one statement here too.
    const multi = (await b.query('BEGIN; SELECT 3 AS v; COMMIT')) as unknown as { rows: unknown[] }[];
    expect(multi[1]!.rows).toEqual([{ v: 3 }]);
    const begun = await outcome((async () => {
      await a.query('BEGIN');
      await a.query('SELECT 1');
    })());
    expect(begun.ok).toBe(false);
    if (!begun.ok) expect(begun.error.message).toMatch(/transaction blocks not allowed in statement pooling mode/);
    // The other client and the pool go on.
    expect((await b.query('SELECT 2 AS v')).rows).toEqual([{ v: 2 }]);
    await waitFor('the refused transaction to leave no backend in a transaction', async () =>
      (await suite.obs.backends('m_stmt')).every((s) => s.state !== 'idle in transaction'),
    );
  });
});
