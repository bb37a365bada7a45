// Readiness of single-host databases whose host has never answered: pgmux starts while the
// PostgreSQL it points at is stopped (a pod that comes up before its database), and another
// database names a loopback port where nothing listens. An orchestrator must not route traffic to
// a pooler that cannot reach any primary: GET /readyz is 503 naming both databases and why, SHOW
// HOSTS and /metrics say the hosts failed (not "primary"), and once the server starts /readyz
// stops naming it with no client having come (the dead port keeps it 503). A single-host
// database on a standby (read-only, as for reports) is ready and serves its reads: finding out
// that a host answers is not judging its role.

import { Client } from 'pg';
import { startCluster, type Cluster, type PgNode } from '../support/cluster';
import { startPgmux, type PgmuxProcess } from '../support/pgmux';
import { freePort } from '../support/ports';
import { consoleRows } from '../support/console';
import { until } from '../routing/support';
import { AppClients } from './single-host-pgmux';
import { samples, scrape } from '../support/prometheus';

jest.setTimeout(90000);

let cluster: Cluster;
let pgmux: PgmuxProcess;
let httpPort: number;
let deadPort: number;
let replica: PgNode;
const clients = new AppClients(() => cluster);

async function readyz(): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
  return { status: res.status, body: await res.text() };
}

async function metric(name: string, labels: Record<string, string>): Promise<number | null> {
  const found = samples((await scrape(httpPort)).families, name, labels);
  return found.length === 0 ? null : found[0]!.value;
}

/** A query through pgmux to database `db`: its rows, or the error it raised. */
async function through(db: string, sql: string): Promise<{ rows?: Record<string, unknown>[]; code?: string; message?: string }> {
  const c = new Client({ host: '127.0.0.1', port: pgmux.port, user: 'app', password: cluster.password, database: db });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return { rows: (await c.query(sql)).rows };
  } catch (err) {
    const e = err as Error & { code?: string };
    return { code: e.code, message: e.message };
  } finally {
    await c.end().catch(() => undefined);
  }
}

const hosts = (): Promise<Record<string, unknown>[]> => consoleRows(pgmux.port, 'app', cluster.password, 'SHOW HOSTS');

function ini(port: number): string {
  return (
    '[databases]\n' +
    `app = host=127.0.0.1 port=${cluster.primary.port} dbname=app\n` +
    `gone = host=127.0.0.1 port=${deadPort} dbname=app\n` +
    `ro = host=127.0.0.1 port=${replica.port} dbname=app\n` +
    '[pgbouncer]\n' +
    `listen_addr = 127.0.0.1\nlisten_port = ${port}\nunix_socket_dir =\n` +
    'auth_type = scram-sha-256\nauth_file = userlist.txt\nadmin_users = app\n' +
    `pool_mode = transaction\nreplica_lag_poll_interval = 0.1\nfailover_timeout = 30\nhttp_listen_port = ${httpPort}\n`
  );
}

beforeAll(async () => {
  cluster = await startCluster({ replica: true });
  if (cluster.replica === undefined) throw new Error('no replica');
  replica = cluster.replica;
  await cluster.stopNode(cluster.primary, 'fast');
  httpPort = await freePort();
  deadPort = await freePort();
  const port = await freePort();
  pgmux = await startPgmux(ini(port), { 'userlist.txt': `"app" "${cluster.password}"\n` });
}, 90000);

afterAll(async () => {
  await clients.endAll();
  await pgmux?.stop();
  await cluster?.stop();
});

describe('a single host that has never answered', () => {
  it('is not ready, naming each database and why, and SHOW HOSTS and /metrics say the host failed', async () => {
    await until('/readyz to name both databases', async () => {
      const r = await readyz();
      return r.status === 503 && r.body.includes('database app ') && r.body.includes('database gone ');
    }, 30000);
    const { body } = await readyz();
    expect(body).toMatch(new RegExp(`database app has no reachable primary: 127\\.0\\.0\\.1:${cluster.primary.port} has never answered \\(.+\\)`));
    expect(body).toMatch(new RegExp(`database gone has no reachable primary: 127\\.0\\.0\\.1:${deadPort} has never answered \\(.+\\)`));

    const rows = await hosts();
    for (const port of [cluster.primary.port, deadPort]) {
      const row = rows.find((r) => Number(r.port) === port);
      expect(row).toBeDefined();
      expect(row?.role).toBe('unknown');
      expect(Number(row?.failures)).toBeGreaterThan(0);
      expect(String(row?.reason)).not.toMatch(/^primary on timeline/);
    }
    expect(body).not.toContain('database ro ');
    expect(await metric('pgmux_backend_probe_failures', { host: `127.0.0.1:${deadPort}` })).toBeGreaterThan(0);
    expect(await metric('pgmux_backend_failures', { host: `127.0.0.1:${cluster.primary.port}`, kind: 'network' })).toBeGreaterThan(0);
    expect(await metric('pgmux_database_ready', { database: 'app' })).toBe(0);
    expect(await metric('pgmux_database_ready', { database: 'gone' })).toBe(0);
    expect(await metric('pgmux_database_ready', { database: 'ro' })).toBe(1);
  });

  it('serves reads of a single-host database on a standby at once, and keeps it ready', async () => {
    expect(await through('ro', 'SELECT pg_is_in_recovery() AS r')).toEqual({ rows: [{ r: true }] });
    expect((await readyz()).body).not.toContain('database ro ');
    const row = (await hosts()).find((h) => h.database === 'ro');
    expect(row?.primary_state).toBe('up');
  });

  it("refuses a client at once with the probe's reason once the host's breaker is open, instead of leaving it waiting", async () => {
    await until('the breaker of the dead port to open', async () => (await hosts()).some((h) => Number(h.port) === deadPort && h.breaker === 'open'), 30000);
    const since = Date.now();
    const r = await through('gone', 'SELECT 1');
    expect(r.code).toBe('08006');
    expect(r.message).toMatch(/connection refused|ECONNREFUSED/);
    expect(Date.now() - since).toBeLessThan(2000);
  });

  it('turns ready for a database once its server starts, with no client having come', async () => {
    await cluster.startNode(cluster.primary);
    await until('/readyz to stop naming database app', async () => !(await readyz()).body.includes('database app '), 30000);
    const r = await readyz();
    expect(r.status).toBe(503);
    expect(r.body).toContain('database gone ');
    expect(await metric('pgmux_database_ready', { database: 'app' })).toBe(1);
    const row = (await hosts()).find((h) => Number(h.port) === cluster.primary.port);
    expect(Number(row?.failures)).toBe(0);
    // Clients are served as ever.
    const c = await clients.connect(pgmux.port);
    expect((await c.query('SELECT 1 AS one')).rows[0]?.one).toBe(1);
  });

});
