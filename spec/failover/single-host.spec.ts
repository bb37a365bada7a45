// A database line with one host, as every PgBouncer config has: no health probe while the primary
// serves (no extra connection), a restart in place that idle clients never notice (their next
// request waits for the server instead of failing), a write cut by an immediate shutdown that is
// never sent again (it may have committed), a query an operator terminated that is not run again,
// and a host that turns out to be read-only (demoted) taking no more requests.

import { startCluster, type Cluster } from '../support/cluster';
import type { PgmuxProcess } from '../support/pgmux';
import { AppClients, startSingleHost } from './single-host-pgmux';
import { until } from '../routing/support';
import { MONITOR_APPLICATION_NAME } from '../../lib/routing/monitor';

jest.setTimeout(60000);

let cluster: Cluster;
let pgmux: PgmuxProcess;
const clients = new AppClients(() => cluster);
const connect = () => clients.connect(pgmux.port);

async function probes(): Promise<number> {
  const r = await cluster.query(cluster.primary, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = '${MONITOR_APPLICATION_NAME}'`);
  return Number(r.rows[0]?.n);
}

async function rows(who: string): Promise<number> {
  const r = await cluster.query(cluster.primary, `SELECT count(*)::int AS n FROM sh WHERE who = '${who}'`);
  return Number(r.rows[0]?.n);
}

beforeAll(async () => {
  cluster = await startCluster();
  await cluster.query(cluster.primary, 'CREATE TABLE sh (who text); GRANT ALL ON sh TO app');
  pgmux = await startSingleHost(cluster, 'default_pool_size = 4\nreplica_lag_poll_interval = 0.05\nfailover_timeout = 20\n');
}, 60000);

afterAll(async () => {
  await clients.endAll();
  await pgmux?.stop();
  await cluster?.stop();
});

describe('one host', () => {
  /** PgBouncer opens nothing but pooled connections; neither does pgmux while the primary serves. */
  it('opens no probe connection while the primary serves', async () => {
    const c = await connect();
    for (let i = 0; i < 20; i++) await c.query("INSERT INTO sh VALUES ('steady')");
    expect(await probes()).toBe(0);
  });

  /** The server restarts in place: an idle client's next write waits for it, then runs once, with no error. */
  it('holds an idle client\'s request through a restart in place', async () => {
    const c = await connect();
    await c.query("INSERT INTO sh VALUES ('before')");
    await cluster.stopNode(cluster.primary, 'fast');
    const write = c.query("INSERT INTO sh VALUES ('during') RETURNING 1 AS ok");
    await pgmux.waitForLog(/primary 127\.0\.0\.1:\d+ lost/);
    await cluster.startNode(cluster.primary);
    const upAt = Date.now();
    expect((await write).rows).toEqual([{ ok: 1 }]);
    // Writes are back within a second of the server accepting connections (not after server_login_retry).
    expect(Date.now() - upAt).toBeLessThan(1000);
    expect(await rows('during')).toBe(1);
    expect(pgmux.logs()).toMatch(/primary 127\.0\.0\.1:\d+ back, timeline 1/);
    // Once the host answers again, the probe that was looking for it goes.
    await until('the probe connection to close', async () => (await probes()) === 0);
  });

  /** An immediate shutdown in the middle of a write: it may have committed, so it is not sent again; the client gets the error. */
  it('never sends again a write cut by an immediate shutdown', async () => {
    const c = await connect();
    const write = c.query("INSERT INTO sh SELECT 'cut' FROM pg_sleep(1)").then(
      () => null,
      (e: Error & { code?: string }) => e,
    );
    await until('the write to run', async () => {
      const r = await cluster.query(cluster.primary, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'INSERT INTO sh SELECT%'");
      return r.rows[0]?.n === 1;
    });
    await cluster.stopNode(cluster.primary, 'immediate');
    const err = await write;
    expect(err).not.toBeNull();
    expect(['08006', '57P01']).toContain(err?.code);
    await cluster.startNode(cluster.primary);
    const next = await connect();
    expect((await next.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
    expect(await rows('cut')).toBe(0);
  });

  /**
   * pg_terminate_backend also says 57P01, like a shutdown; a query an operator killed must not
   * come back. The host answers its probe, so the client gets the termination.
   */
  it('does not run again a query an operator terminated', async () => {
    const c = await connect();
    const sleeping = c.query("SELECT 'killed' FROM pg_sleep(30)").then(
      () => null,
      (e: Error & { code?: string }) => e,
    );
    let pid = 0;
    await until('the query to run', async () => {
      const r = await cluster.query(cluster.primary, "SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT ''killed''%'");
      pid = Number(r.rows[0]?.pid ?? 0);
      return pid > 0;
    });
    await cluster.query(cluster.primary, `SELECT pg_terminate_backend(${pid})`);
    const err = await sleeping;
    expect(err?.code).toBe('57P01');
    expect(err?.message).toBe('terminating connection due to administrator command');
    const again = await cluster.query(cluster.primary, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'SELECT ''killed''%'");
    expect(again.rows[0]?.n).toBe(0);
  });
});
