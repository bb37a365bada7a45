// Black-box spec of query cancellation through pgmux (issue 3, "Cancel"): real clients cancel
// with the key pgmux handed out, and a stale key (its client no longer linked to the server it
// once used) cancels nothing, even when that server now runs someone else's query.

import { existsSync } from 'node:fs';
import { Client, Connection } from 'pg';
import { Child } from '../support/child';
import { findPgBin, startCluster, type Cluster } from '../support/cluster';
import { pgClient } from '../support/clients';
import type { PgmuxProcess } from '../support/pgmux';
import { pollUntil, serverConn, startMux } from './support/setup';
import { RawClient, msg } from '../support/wire';

let cluster: Cluster;
let mux: PgmuxProcess;

beforeAll(async () => {
  cluster = await startCluster();
  // `single` has one server, so the next client is sure to get the server the last one used.
  mux = await startMux(cluster, { databases: [`single = ${serverConn(cluster, 'dbname=app pool_size=1')}`] });
});

afterAll(async () => {
  await mux?.stop();
  await cluster?.stop();
});

/** What node-postgres keeps from BackendKeyData (not in @types/pg). */
interface PgKey {
  processID: number;
  secretKey: number;
}
const internals = (c: Client): PgKey => c as unknown as PgKey;

/**
 * node-postgres's own cancel path: a pg Connection to pgmux sending CancelRequest with the key
 * `target` got in its BackendKeyData (what Client#cancel does, minus its deprecated getter).
 * Resolves when pgmux has hung up.
 */
function pgCancel(target: Client): Promise<void> {
  const con = new Connection() as Connection & { connect(port: number, host: string): void; cancel(pid: number, secret: number): void };
  const { processID, secretKey } = internals(target);
  return new Promise((resolve, reject) => {
    con.once('connect', () => con.cancel(processID, secretKey));
    con.once('end', () => resolve());
    con.once('error', reject);
    con.connect(mux.port, '127.0.0.1');
  });
}

/** Resolves once a backend runs a statement containing `marker` (seen from PostgreSQL itself). */
async function running(marker: string): Promise<number> {
  let pid = 0;
  await pollUntil(async () => {
    const r = await cluster.query(
      cluster.primary,
      `SELECT pid FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%${marker}%' AND pid <> pg_backend_pid()`,
    );
    pid = r.rows[0]?.pid ?? 0;
    return pid > 0;
  }, `a backend running ${marker}`);
  return pid;
}

/** Sends a CancelRequest on its own connection; resolves once pgmux has handled it and hung up. */
async function sendCancel(pid: number, secret: number): Promise<void> {
  const conn = await RawClient.open(mux.port);
  conn.send(msg.cancel(pid, secret));
  await conn.waitClosed();
}

describe('cancelling a running query', () => {
  it("node-postgres's cancel (a pg Connection sending the key pgmux gave) stops pg_sleep(30) with 57014 (catches: keys not found or not forwarded)", async () => {
    const client = await pgClient(mux.port, 'app', cluster.password);
    try {
      const started = Date.now();
      const sleeping = client.query('SELECT pg_sleep(30) /* cancel-by-pg */');
      await running('cancel-by-pg');
      await pgCancel(client);
      await expect(sleeping).rejects.toMatchObject({ code: '57014', message: 'canceling statement due to user request' });
      expect(Date.now() - started).toBeLessThan(10000);
      // The session goes on.
      expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await client.end();
    }
  });

  it('psql on SIGINT cancels its pg_sleep(30) through pgmux (catches: libpq cancel requests dropped)', async () => {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, PGPASSWORD: cluster.password, PSQLRC: '/dev/null' };
    const bin = existsSync('/usr/bin/psql') ? '/usr/bin/psql' : findPgBin('psql');
    const psql = await Child.start(bin, ['-h', '127.0.0.1', '-p', String(mux.port), '-U', 'app', '-d', 'app', '-X', '-c', 'SELECT pg_sleep(30) /* cancel-by-psql */'], {
      label: 'psql',
      env,
      emergencySignal: 'SIGKILL',
    });
    try {
      await running('cancel-by-psql');
      const started = Date.now();
      psql.signal('SIGINT');
      const exit = await psql.exited;
      expect(Date.now() - started).toBeLessThan(10000);
      expect(exit.code).toBe(1);
      expect(psql.logs()).toMatch(/canceling statement due to user request/);
    } finally {
      await psql.stop([{ signal: 'SIGKILL', waitMs: 5000 }]);
    }
  });
});

describe('a stale cancel key', () => {
  it("cancels nothing when its client is no longer linked, though its former server runs another client's query (catches: cancels reaching reused servers)", async () => {
    const a = await pgClient(mux.port, 'app', cluster.password, 'single');
    const b = await pgClient(mux.port, 'app', cluster.password, 'single');
    try {
      const before = await a.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const serverPid = before.rows[0]!.pid;
      // a is idle now (transaction mode gave the server back); b gets that same server.
      const sleeping = b.query<{ pid: number }>('SELECT pg_backend_pid() AS pid, pg_sleep(2) /* stale-key */');
      expect(await running('stale-key')).toBe(serverPid);
      const key = internals(a);
      await sendCancel(key.processID, key.secretKey);
      await a.end(); // and once a has left altogether
      await sendCancel(key.processID, key.secretKey);
      const r = await sleeping;
      expect(r.rows[0]!.pid).toBe(serverPid);

      // Control: b's own key does cancel on this pool, so the silence above means something.
      const again = b.query('SELECT pg_sleep(30) /* own-key */');
      await running('own-key');
      await sendCancel(internals(b).processID, internals(b).secretKey);
      await expect(again).rejects.toMatchObject({ code: '57014' });
    } finally {
      await a.end().catch(() => undefined);
      await b.end();
    }
  });

  it('a key with the wrong secret cancels nothing (catches: the secret not checked)', async () => {
    const c = await pgClient(mux.port, 'app', cluster.password);
    try {
      const sleeping = c.query('SELECT pg_sleep(1) AS slept /* wrong-secret */');
      await running('wrong-secret');
      const key = internals(c);
      await sendCancel(key.processID, (key.secretKey + 1) | 0);
      await expect(sleeping).resolves.toMatchObject({ rows: [{ slept: '' }] });
    } finally {
      await c.end();
    }
  });
});
