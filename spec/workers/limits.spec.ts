// Black-box spec of pool limits with `workers = N` (issue 18): default_pool_size,
// max_db_connections and max_client_conn hold for the whole pgmux, not per worker, under 200
// clients (server connections counted by PostgreSQL itself in pg_stat_activity).

import type { Client } from 'pg';
import { appClient, allWorkersUp, freePort, serverBackends, startCluster, startPgmux, userlist, workersIni, type Cluster, type PgmuxProcess } from './helpers';

/** Runs `clients` loops of short queries for `ms`, sampling the server connections; returns the largest count seen. */
async function busiest(cluster: Cluster, clients: Client[], ms: number): Promise<number> {
  let running = true;
  let most = 0;
  const loops = clients.map(async (c) => {
    while (running) await c.query('SELECT pg_sleep(0.01)');
  });
  const until = Date.now() + ms;
  while (Date.now() < until) most = Math.max(most, await serverBackends(cluster));
  running = false;
  await Promise.all(loops);
  return most;
}

describe.each([2, 4])('workers = %i', (workers) => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({ settings: { max_connections: '100' } });
  });
  afterAll(() => cluster?.stop());

  async function withClients(extra: string[], n: number, body: (clients: Client[], mux: PgmuxProcess) => Promise<void>): Promise<void> {
    const mux = await startPgmux(workersIni(cluster, await freePort(), workers, ['max_client_conn = 400', ...extra]), userlist(cluster));
    const clients: Client[] = [];
    try {
      await allWorkersUp(mux, workers);
      for (let i = 0; i < n; i++) clients.push(await appClient(cluster, mux.port));
      await body(clients, mux);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
      await mux.stop();
    }
  }

  /** Catches: each worker opening default_pool_size servers (workers times the limit). */
  it('default_pool_size = 10 holds for the whole pgmux under 200 clients', async () => {
    await withClients(['default_pool_size = 10'], 200, async (clients) => {
      const most = await busiest(cluster, clients, 1500);
      expect(most).toBeLessThanOrEqual(10);
      expect(most).toBeGreaterThanOrEqual(workers);
    });
  });

  /** Catches: max_db_connections applying per worker. */
  it('max_db_connections = 6 holds for the whole pgmux under 200 clients', async () => {
    await withClients(['default_pool_size = 50', 'max_db_connections = 6'], 200, async (clients) => {
      const most = await busiest(cluster, clients, 1500);
      expect(most).toBeLessThanOrEqual(6);
    });
  });

  /** Catches: max_client_conn counting per worker (each would take max_client_conn clients). */
  it('max_client_conn = 20 turns away clients past 20 in all, whichever worker they reach', async () => {
    const mux = await startPgmux(workersIni(cluster, await freePort(), workers, ['max_client_conn = 20']), userlist(cluster));
    const clients: Client[] = [];
    let refused = 0;
    try {
      await allWorkersUp(mux, workers);
      for (let i = 0; i < 30; i++) {
        await appClient(cluster, mux.port).then(
          (c) => clients.push(c),
          (err: Error & { code?: string }) => {
            expect(err.code).toBe('53300');
            refused++;
          },
        );
      }
      expect(clients.length).toBeLessThanOrEqual(20);
      expect(clients.length + refused).toBe(30);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
      await mux.stop();
    }
  });
});
