// Black-box spec of the main process of `workers = N` (issue 18): a worker that dies is
// replaced and logged, and only its own clients lose their connection; SIGHUP to the main
// process reloads every worker; SIGTERM stops them all.

import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { makeTempDir, removeTempDir } from '../support/osuser';
import { appClient, allWorkersUp, freePort, startCluster, startPgmux, userlist, waitFor, workerOf, workerPids, workersIni, type Cluster } from './helpers';
import { isAlive as alive } from '../support/procs';


describe.each([2, 4])('workers = %i', (workers) => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster();
  });
  afterAll(() => cluster?.stop());

  /**
   * Catches: a dead worker not replaced (its share of new connections would be refused);
   * the death not logged; clients of the other workers losing their connection too.
   */
  it('a killed worker is replaced and logged; only its clients are closed', async () => {
    const mux = await startPgmux(workersIni(cluster, await freePort(), workers), userlist(cluster));
    const clients: Client[] = [];
    try {
      const pids = await allWorkersUp(mux, workers);
      for (let i = 0; i < workers * 3; i++) clients.push(await appClient(cluster, mux.port));
      const victim = workers - 1;
      const victimPid = pids.get(victim)!;
      process.kill(victimPid, 'SIGKILL');
      await waitFor('the replacement logged', () => new RegExp(`worker ${victim} \\(pid ${victimPid}\\) died \\(signal SIGKILL\\).*starting a new worker ${victim}`).test(mux.logs()));
      for (const c of clients) {
        const outcome = await c.query('SELECT 1 AS one').then(
          () => 'ok',
          () => 'closed',
        );
        expect([workerOf(c), outcome]).toEqual([workerOf(c), workerOf(c) === victim ? 'closed' : 'ok']);
      }
      expect(clients.filter((c) => workerOf(c) === victim).length).toBeGreaterThan(0);
      const fresh = await waitFor('a new worker up', () => {
        const pid = workerPids(mux).get(victim);
        return pid !== undefined && pid !== victimPid ? pid : undefined;
      });
      expect(alive(fresh)).toBe(true);
      // New connections keep working, and the new worker takes its share of them.
      const more: Client[] = [];
      try {
        for (let i = 0; i < workers * 2; i++) more.push(await appClient(cluster, mux.port));
        for (const c of more) expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
        expect(more.some((c) => workerOf(c) === victim)).toBe(true);
      } finally {
        await Promise.all(more.map((c) => c.end()));
      }
    } finally {
      await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
      await mux.stop();
    }
  });

  /**
   * Catches: SIGHUP re-reading the config in the main process only (or in one worker): a
   * database added to the file would be unknown to the workers that missed it. And SIGTERM
   * leaving a worker behind.
   */
  it('SIGHUP to the main process reloads every worker; SIGTERM stops them all', async () => {
    const port = await freePort();
    const mux = await startPgmux(workersIni(cluster, port, workers), userlist(cluster));
    const pids = await allWorkersUp(mux, workers);
    try {
      const added = `added = host=127.0.0.1 port=${cluster.primary.port} dbname=app`;
      writeFileSync(join(mux.dir, 'pgmux.ini'), workersIni(cluster, port, workers, [], [added]));
      process.kill(mux.pid, 'SIGHUP');
      await waitFor('every worker reloaded', () => (mux.logs().match(/config reloaded/g)?.length ?? 0) === workers);
      const clients: Client[] = [];
      try {
        for (let i = 0; i < workers * 3; i++) clients.push(await appClient(cluster, port, 'added'));
        expect(new Set(clients.map(workerOf)).size).toBe(workers);
        for (const c of clients) expect((await c.query('SELECT current_database() AS db')).rows).toEqual([{ db: 'app' }]);
      } finally {
        await Promise.all(clients.map((c) => c.end()));
      }
    } finally {
      expect(await mux.stop('SIGTERM')).toBe(0);
    }
    for (const pid of pids.values()) expect(alive(pid)).toBe(false);
  });

  /**
   * Catches: a worker refusing to start because its sibling already holds the unix socket
   * (the single process's "in use" check run in each worker); the socket serving one worker
   * only; the file left behind after shutdown.
   */
  it('the unix socket is served by every worker and removed at shutdown', async () => {
    const sockets = makeTempDir('pgmux-workers-sock-');
    const port = await freePort();
    const file = join(sockets, `.s.PGSQL.${port}`);
    try {
      const mux = await startPgmux(workersIni(cluster, port, workers, [`unix_socket_dir = ${sockets}`]), userlist(cluster));
      const clients: Client[] = [];
      try {
        await allWorkersUp(mux, workers);
        for (let i = 0; i < workers * 3; i++) {
          const c = new Client({ host: sockets, port, user: 'app', password: cluster.password, database: 'app' });
          await c.connect();
          clients.push(c);
        }
        for (const c of clients) expect((await c.query('SELECT 6 * 7 AS n')).rows).toEqual([{ n: 42 }]);
        expect(new Set(clients.map(workerOf)).size).toBe(workers);
      } finally {
        await Promise.all(clients.map((c) => c.end()));
        expect(await mux.stop()).toBe(0);
      }
      expect(existsSync(file)).toBe(false);
    } finally {
      removeTempDir(sockets);
    }
  });
});
