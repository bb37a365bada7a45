// Black-box spec of the admin console with `workers = N` (issue 18): whichever worker the
// console lands on, SHOW answers for the whole pgmux (the sum of the workers, or every
// worker's rows with a worker column), and PAUSE/RESUME/RELOAD/SHUTDOWN act on every worker.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from 'pg';
import { appClient, allWorkersUp, consoleRows, freePort, serverBackends, startCluster, startPgmux, userlist, waitFor, workerOf, workersIni, type Cluster, type PgmuxProcess } from './helpers';

const num = (v: unknown): number => Number(v);

describe.each([2, 4])('workers = %i', (workers) => {
  let cluster: Cluster;
  let mux: PgmuxProcess;
  let port: number;
  const clients: Client[] = [];

  beforeAll(async () => {
    cluster = await startCluster();
    port = await freePort();
    mux = await startPgmux(workersIni(cluster, port, workers, ['default_pool_size = 20']), userlist(cluster));
    await allWorkersUp(mux, workers);
    for (let i = 0; i < workers * 3; i++) clients.push(await appClient(cluster, port));
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    await mux?.stop();
    await cluster?.stop();
  });

  /**
   * Catches: SHOW answering for the worker the console happens to land on (its share of the
   * clients, servers and transactions, not all of them). Asked several times, so the console
   * lands on several workers.
   */
  it('SHOW POOLS / CLIENTS / SERVERS / STATS / DATABASES equal the sum of the workers, from any worker', async () => {
    // Two transactions per client, one at a time on each: every worker opens servers.
    for (const c of clients) await c.query('SELECT 1');
    for (const c of clients) await c.query('SELECT 2');
    const servers = await serverBackends(cluster);
    for (let ask = 0; ask < workers * 2; ask++) {
      const pools = (await consoleRows(cluster, port, 'SHOW POOLS')).filter((r) => r.database === 'app');
      expect(pools).toHaveLength(1);
      expect(num(pools[0].cl_active) + num(pools[0].cl_waiting)).toBe(clients.length);
      expect(num(pools[0].sv_idle) + num(pools[0].sv_used) + num(pools[0].sv_active) + num(pools[0].sv_tested) + num(pools[0].sv_login)).toBe(servers);

      const listed = (await consoleRows(cluster, port, 'SHOW CLIENTS')).filter((r) => r.database === 'app');
      expect(listed).toHaveLength(clients.length);
      expect(new Set(listed.map((r) => num(r.worker)))).toEqual(new Set(clients.map(workerOf)));

      expect((await consoleRows(cluster, port, 'SHOW SERVERS')).filter((r) => r.database === 'app')).toHaveLength(servers);

      const stats = (await consoleRows(cluster, port, 'SHOW STATS')).find((r) => r.database === 'app');
      expect(num(stats?.total_xact_count)).toBe(2 * clients.length);

      const db = (await consoleRows(cluster, port, 'SHOW DATABASES')).find((r) => r.name === 'app');
      expect(num(db?.pool_size)).toBe(20);
      expect(num(db?.current_connections)).toBe(servers);
      expect(num(db?.port)).toBe(cluster.primary.port);

      // SHOW CONFIG says what the file says, not a worker's share.
      const config = await consoleRows(cluster, port, 'SHOW CONFIG');
      expect(config.find((r) => r.key === 'default_pool_size')?.value).toBe('20');
      expect(config.find((r) => r.key === 'workers')?.value).toBe(String(workers));
    }
  });

  /**
   * Catches: PAUSE pausing only the console's worker (clients of the others would go on);
   * RESUME resuming only one.
   */
  it('PAUSE holds the clients of every worker; RESUME lets them all go', async () => {
    const admin = new (await import('pg')).Client({ host: '127.0.0.1', port, user: 'app', password: cluster.password, database: 'pgbouncer' });
    await admin.connect();
    try {
      await admin.query('PAUSE');
      let done = 0;
      const queries = clients.map((c) => c.query('SELECT 1').then(() => done++));
      await waitFor('every client waiting', async () => {
        const pool = (await consoleRows(cluster, port, 'SHOW POOLS')).find((r) => r.database === 'app');
        return num(pool?.cl_waiting) === clients.length;
      });
      expect(done).toBe(0);
      await admin.query('RESUME');
      await Promise.all(queries);
      expect(done).toBe(clients.length);
    } finally {
      await admin.end();
    }
  });

  /** Catches: RELOAD on the console re-reading the file in its own worker only. */
  it('RELOAD on the console reaches every worker', async () => {
    const added = `reloaded = host=127.0.0.1 port=${cluster.primary.port} dbname=app`;
    writeFileSync(join(mux.dir, 'pgmux.ini'), workersIni(cluster, port, workers, ['default_pool_size = 20'], [added]));
    await consoleRows(cluster, port, 'RELOAD');
    const more: Client[] = [];
    try {
      for (let i = 0; i < workers * 2; i++) more.push(await appClient(cluster, port, 'reloaded'));
      expect(new Set(more.map(workerOf)).size).toBe(workers);
    } finally {
      await Promise.all(more.map((c) => c.end()));
    }
  });

  /** Catches: SHUTDOWN stopping the console's worker only (the main process would replace it). */
  it('SHUTDOWN on the console stops every worker and the main process', async () => {
    const admin = new (await import('pg')).Client({ host: '127.0.0.1', port, user: 'app', password: cluster.password, database: 'pgbouncer' });
    await admin.connect();
    admin.on('error', () => undefined);
    admin.query('SHUTDOWN').catch(() => undefined);
    expect(await mux.waitForExit()).toBe(0);
  });
});
