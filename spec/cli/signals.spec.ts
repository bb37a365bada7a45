// Signals as PgBouncer defines them, against a real PostgreSQL: SIGHUP reloads the config file
// (reloadable keys apply to running pools, the others keep their value and the log says so),
// SIGINT shuts down safely (no new connections, running transactions may finish), SIGTERM
// exits at once. Clients that are cut off get FATAL 57P01, as from PostgreSQL itself.

import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { makeTempDir, removeTempDir } from '../support/osuser';
import { startPgmux } from '../support/pgmux';
import { freePort } from '../support/ports';
import { accepts, appClient, clusterIni, until, userlist } from './helpers';

/** Server connections pgmux holds to database app (as user app), seen from PostgreSQL. */
async function serverBackends(cluster: Cluster): Promise<number> {
  const r = await cluster.query(cluster.primary, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = 'app' AND usename = 'app'");
  return (r.rows[0] as { n: number }).n;
}

/** Errors a client receives while it is not running a query (e.g. a FATAL at shutdown). */
function collectErrors(client: Client): { code?: string; message: string }[] {
  const errors: { code?: string; message: string }[] = [];
  client.on('error', (err: Error & { code?: string }) => errors.push({ code: err.code, message: err.message }));
  return errors;
}

describe('signals', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster();
    await cluster.query(cluster.primary, 'CREATE TABLE signal_t (id int)', 'app');
  });
  afterAll(() => cluster?.stop());

  /**
   * Catches: SIGHUP not re-reading the file; a new default_pool_size not reaching pools that
   * already exist (the waiting clients would stay on 2 servers); a non-reloadable key
   * (listen_port) being applied half-way or silently; a broken file taking the process down.
   */
  it('SIGHUP: a larger default_pool_size applies to a busy pool; listen_port keeps its value and the log says so', async () => {
    const port = await freePort();
    const otherPort = await freePort();
    const mux = await startPgmux(clusterIni(cluster, port, ['default_pool_size = 2', 'query_wait_timeout = 0']), userlist(cluster));
    const clients: Client[] = [];
    let running = true;
    const loops: Promise<void>[] = [];
    try {
      for (let i = 0; i < 8; i++) clients.push(await appClient(cluster, port));
      for (const c of clients) {
        loops.push(
          (async () => {
            while (running) await c.query('SELECT pg_sleep(0.05)');
          })(),
        );
      }
      await until(async () => (await serverBackends(cluster)) === 2, 'two server connections under load');
      for (let i = 0; i < 5; i++) expect(await serverBackends(cluster)).toBe(2);

      writeFileSync(
        join(mux.dir, 'pgmux.ini'),
        clusterIni(cluster, otherPort, ['default_pool_size = 5', 'query_wait_timeout = 0']),
      );
      process.kill(mux.pid, 'SIGHUP');
      await until(() => mux.logs().includes('config reloaded'), 'the reload log line');
      expect(mux.logs()).toMatch(/ WARNING listen_port cannot be changed by RELOAD; restart pgmux\n/);
      expect(mux.logs()).toMatch(/ LOG config reloaded: default_pool_size\n/);
      await until(async () => (await serverBackends(cluster)) === 5, 'five server connections after the reload');
      for (let i = 0; i < 5; i++) expect(await serverBackends(cluster)).toBe(5);

      // listen_port kept its running value.
      expect(await accepts({ host: '127.0.0.1', port: otherPort })).toBe(false);
      const late = await appClient(cluster, port);
      expect((await late.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      await late.end();

      // A file that no longer parses: logged, the running config stays, the process serves on.
      writeFileSync(join(mux.dir, 'pgmux.ini'), '[pgbouncer]\ndefault_pool_size = lots\n');
      process.kill(mux.pid, 'SIGHUP');
      await until(() => mux.logs().includes('reload failed'), 'the failed-reload log line');
      expect(mux.logs()).toMatch(/ ERROR reload failed, keeping the running config: .*pgmux\.ini:2: default_pool_size = "lots" is not valid/);
      const after = await appClient(cluster, port);
      expect((await after.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
      await after.end();
    } finally {
      running = false;
      await Promise.allSettled(loops);
      await Promise.allSettled(clients.map((c) => c.end()));
      await mux.stop();
    }
  });

  /**
   * Catches: SIGINT killing a transaction in progress (its COMMIT must succeed), still
   * accepting new connections, never exiting, exiting non-zero, idle clients cut off without
   * an error, or the pidfile / Unix socket left behind.
   */
  it('SIGINT: stops accepting, lets an open transaction COMMIT, then exits 0; idle clients get 57P01', async () => {
    const sockets = makeTempDir('pgmux-sig-sock-');
    const port = await freePort();
    const mux = await startPgmux(clusterIni(cluster, port, [`unix_socket_dir = ${sockets}`, 'pidfile = pgmux.pid']), userlist(cluster));
    const inTx = await appClient(cluster, port);
    const idle = await appClient(cluster, port);
    const inTxErrors = collectErrors(inTx);
    const idleErrors = collectErrors(idle);
    try {
      await idle.query('SELECT 1');
      await inTx.query('BEGIN');
      await inTx.query('INSERT INTO signal_t VALUES (1)');
      process.kill(mux.pid, 'SIGINT');
      await until(async () => !(await accepts({ host: '127.0.0.1', port })), 'the listener to close');
      expect(await accepts({ path: join(sockets, `.s.PGSQL.${port}`) })).toBe(false);
      expect(existsSync(join(mux.dir, 'pgmux.pid'))).toBe(true); // still running: the transaction holds it

      await inTx.query('INSERT INTO signal_t VALUES (2)');
      expect((await inTx.query('COMMIT')).command).toBe('COMMIT');
      expect(await mux.waitForExit()).toBe(0);

      const committed = await cluster.query(cluster.primary, 'SELECT array_agg(id ORDER BY id) AS ids FROM signal_t WHERE id IN (1, 2)', 'app');
      expect(committed.rows).toEqual([{ ids: [1, 2] }]);
      await until(() => idleErrors.length > 0 && inTxErrors.length > 0, 'the shutdown errors to reach the clients', 5000);
      for (const errors of [idleErrors, inTxErrors]) {
        expect(errors[0]).toEqual({ code: '57P01', message: 'terminating connection due to administrator command' });
      }
      expect(existsSync(join(mux.dir, 'pgmux.pid'))).toBe(false);
      expect(existsSync(join(sockets, `.s.PGSQL.${port}`))).toBe(false);
      expect(mux.logs()).toContain('got SIGINT');
    } finally {
      await Promise.allSettled([inTx.end(), idle.end()]);
      await mux.stop();
      removeTempDir(sockets);
      await cluster.query(cluster.primary, 'DELETE FROM signal_t', 'app');
    }
  });

  /**
   * Catches: SIGTERM waiting for transactions like SIGINT, a non-zero exit, clients left
   * without an error, or an open transaction's work being committed.
   */
  it('SIGTERM: exits at once; an open transaction is lost and its client gets 57P01', async () => {
    const port = await freePort();
    const mux = await startPgmux(clusterIni(cluster, port, ['pidfile = pgmux.pid']), userlist(cluster));
    const inTx = await appClient(cluster, port);
    const inTxErrors = collectErrors(inTx);
    try {
      await inTx.query('BEGIN');
      await inTx.query('INSERT INTO signal_t VALUES (3)');
      process.kill(mux.pid, 'SIGTERM');
      expect(await mux.waitForExit()).toBe(0);
      await until(() => inTxErrors.length > 0, 'the shutdown error to reach the client', 5000);
      expect(inTxErrors[0]).toEqual({ code: '57P01', message: 'terminating connection due to administrator command' });
      // The server connection is gone, so PostgreSQL rolled the transaction back.
      await until(async () => (await serverBackends(cluster)) === 0, 'the server connection to end');
      const rows = await cluster.query(cluster.primary, 'SELECT count(*)::int AS n FROM signal_t WHERE id = 3', 'app');
      expect(rows.rows).toEqual([{ n: 0 }]);
      expect(existsSync(join(mux.dir, 'pgmux.pid'))).toBe(false);
      expect(mux.logs()).toContain('got SIGTERM');
    } finally {
      await inTx.end().catch(() => undefined);
      await mux.stop();
    }
  });
  /**
   * Catches: node's default for SIGUSR1, which opens its inspector on 127.0.0.1:9229 (any local
   * user could then run code inside pgmux) where a PgBouncer user means PAUSE. pgmux logs what to
   * use instead, keeps serving, and no inspector port opens.
   */
  it('SIGUSR1: logged and ignored, no inspector opens, clients go on', async () => {
    const port = await freePort();
    const mux = await startPgmux(clusterIni(cluster, port), userlist(cluster));
    try {
      const client = await appClient(cluster, port);
      const inspectorBefore = await accepts({ host: '127.0.0.1', port: 9229 });
      process.kill(mux.pid, 'SIGUSR1');
      await until(() => /got SIGUSR1: pgmux does not act on it/.test(mux.logs()), 'the SIGUSR1 log line');
      expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      // Nothing listened there before (unless something else on the machine does): nothing may now.
      if (!inspectorBefore) expect(await accepts({ host: '127.0.0.1', port: 9229 })).toBe(false);
      expect(mux.logs()).not.toMatch(/Debugger listening/);
      await client.end();
    } finally {
      await mux.stop();
    }
  });
});
