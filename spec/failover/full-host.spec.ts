// A host that refuses a connection with 53300 (too many connections) is up, only full: its probe
// being refused so must not count it down, start a search for a primary or hold requests until
// failover_timeout (then 08006 "no primary", which misleads). As through PgBouncer, a request
// waits for a server until a slot frees (or query_wait_timeout).

import { startCluster, type Cluster } from '../support/cluster';
import type { PgmuxProcess } from '../support/pgmux';
import { AppClients, startSingleHost } from './single-host-pgmux';
import { consoleRows } from '../support/console';

jest.setTimeout(60000);

let cluster: Cluster;
let pgmux: PgmuxProcess;
const clients = new AppClients(() => cluster);
const connect = (port: number) => clients.connect(port);

beforeAll(async () => {
  cluster = await startCluster();
  pgmux = await startSingleHost(cluster, 'default_pool_size = 1\nreplica_lag_poll_interval = 0.05\nfailover_timeout = 20\nserver_login_retry = 0.1\n');
}, 60000);

afterAll(async () => {
  await clients.endAll();
  await pgmux?.stop();
  await cluster?.stop();
});

async function host(): Promise<Record<string, unknown>> {
  const rows = await consoleRows(pgmux.port, 'app', cluster.password, 'SHOW HOSTS');
  return rows.find((r) => r.database === 'app') ?? {};
}

describe('a host that is full (53300)', () => {
  it('is not taken for down: no search begins, the breaker stays closed, and the waiting request runs once a slot frees', async () => {
    const c = await connect(pgmux.port);
    const serverPid = Number((await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
    // Another application holds the role's one remaining connection.
    const other = await connect(cluster.primary.port);
    await cluster.query(cluster.primary, 'ALTER ROLE app CONNECTION LIMIT 1');
    let request: Promise<unknown> | undefined;
    try {
      // The pooled server goes (an operator, a server-side timeout): pgmux probes the host, which
      // refuses the probe with 53300, and so are the pool's new servers.
      await cluster.query(cluster.primary, `SELECT pg_terminate_backend(${serverPid})`);
      request = c.query('SELECT 1 AS ok').then((r) => r.rows[0], (e: Error & { code?: string }) => e);
      await pgmux.waitForLog(/server login failed: too many connections for role "app"/);
      await pgmux.waitForLog(/server login failed: too many connections for role "app"[^]*server login failed: too many connections for role "app"[^]*server login failed: too many connections for role "app"/);
      // (before: the probe's refusal counted the host down: primary lost, requests held, 08006 at failover_timeout)
      const h = await host();
      expect(h.primary_state).toBe('up');
      expect(h.breaker).toBe('closed');
      expect(pgmux.logs()).not.toMatch(/primary 127\.0\.0\.1:\d+ lost/);
    } finally {
      await cluster.query(cluster.primary, 'ALTER ROLE app CONNECTION LIMIT -1');
      await other.end();
    }
    // A slot is free: the request that waited runs (as through PgBouncer, it waits, up to query_wait_timeout).
    expect(await request).toEqual({ ok: 1 });
    expect(pgmux.logs()).not.toMatch(/primary 127\.0\.0\.1:\d+ lost/);
  });
});
