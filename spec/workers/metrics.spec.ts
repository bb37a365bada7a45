// Black-box spec of /metrics with `workers = N` (issue 18): one exposition for the whole pgmux
// (worker 0 serves HTTP and gathers every worker's samples), valid for the Prometheus project's
// own parsers in both formats, with counters and connection gauges summed over the workers.

import type { Client } from 'pg';
import { scrape, value } from '../support/prometheus';
import { appClient, allWorkersUp, freePort, startCluster, startPgmux, userlist, workerOf, workersIni, type Cluster, type PgmuxProcess } from './helpers';

describe.each([2, 4])('workers = %i', (workers) => {
  let cluster: Cluster;
  let mux: PgmuxProcess;
  let http: number;
  const clients: Client[] = [];

  beforeAll(async () => {
    cluster = await startCluster();
    http = await freePort();
    mux = await startPgmux(workersIni(cluster, await freePort(), workers, [`http_listen_port = ${http}`]), userlist(cluster));
    await allWorkersUp(mux, workers);
    for (let i = 0; i < workers * 3; i++) clients.push(await appClient(cluster, mux.port));
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end()));
    await mux?.stop();
    await cluster?.stop();
  });

  /**
   * Catches: /metrics answering for the worker that serves HTTP only (its share of clients
   * and transactions); a merge the official parsers refuse (duplicate families or samples).
   */
  it('counts the clients and transactions of every worker, in both formats', async () => {
    expect(new Set(clients.map(workerOf)).size).toBe(workers);
    const before = await scrape(http);
    for (const c of clients) await c.query('SELECT 1');
    for (const c of clients) await c.query('SELECT 2');
    for (const format of ['text', 'openmetrics'] as const) {
      const after = await scrape(http, format);
      const pooled = 'pgbouncer_stats_totals_sql_transactions_pooled_total';
      expect(value(after.families, pooled, { database: 'app' }) - value(before.families, pooled, { database: 'app' })).toBe(2 * clients.length);
      expect(value(after.families, 'pgbouncer_pools_client_active_connections', { database: 'app', user: 'app' })).toBe(clients.length);
      expect(value(after.families, 'pgbouncer_up')).toBe(1);
    }
  });
});
