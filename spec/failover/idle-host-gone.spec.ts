// A single-host database whose host has answered (the start-up probe) and then goes away while
// pgmux holds no connection to it and no client comes: stopped, or frozen (SIGSTOP of the
// postmaster and every backend, as a hung host or a partition looks). Before the ping
// (lib/failover/ping.ts) nothing probed such a host: SHOW HOSTS said `up` and /readyz stayed 200
// for as long as no client came. Now a ping (a GSSENCRequest, no login, nothing in
// pg_stat_activity) notices within a ping interval, the probe confirms, the database searches
// (SHOW HOSTS), /readyz turns 503 after failover_timeout, and both turn back when the host answers.
// A client's request in flight on the frozen host fails with 08006 at failover_timeout instead of
// hanging. With workers = 2 only the probing worker pings, and every worker's view follows.

import { startCluster, type Cluster } from '../support/cluster';
import { makePki } from '../tls/support/pki';
import type { PgmuxProcess } from '../support/pgmux';
import { freePort } from '../support/ports';
import { consoleRows } from '../support/console';
import { until } from '../routing/support';
import { AppClients, startSingleHost } from './single-host-pgmux';
import { MONITOR_APPLICATION_NAME } from '../../lib/routing/monitor';
import { Freezer } from './freeze';

jest.setTimeout(90000);

let cluster: Cluster;
let pgmux: PgmuxProcess;
let httpPort: number;
/** Every process this spec stops with SIGSTOP: afterAll continues each (by PID). */
const freezer = new Freezer();
const clients = new AppClients(() => cluster);

async function readyz(): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
  return { status: res.status, body: await res.text() };
}

async function primaryState(): Promise<unknown> {
  const rows = await consoleRows(pgmux.port, 'app', cluster.password, 'SHOW HOSTS');
  return rows.find((r) => r.database === 'app')?.primary_state;
}

async function probes(): Promise<number> {
  const r = await cluster.query(cluster.primary, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = '${MONITOR_APPLICATION_NAME}'`);
  return Number(r.rows[0]?.n);
}

beforeAll(async () => {
  // ssl = on: a ping must leave nothing in the server's log (an SSLRequest would, at every ping).
  const pki = await makePki();
  cluster = await startCluster({ settings: { ssl: 'on', ssl_cert_file: pki.cert('server'), ssl_key_file: pki.key('server'), ssl_ca_file: pki.cert('ca') } });
}, 90000);

afterAll(async () => {
  freezer.thaw();
  await cluster?.stop();
});

describe.each([1, 2])('workers = %i: a single host that goes away while no client uses it', (workers) => {
  beforeAll(async () => {
    httpPort = await freePort();
    pgmux = await startSingleHost(
      cluster,
      `workers = ${workers}\nreplica_lag_poll_interval = 0.05\nfailover_timeout = 2\nserver_connect_timeout = 1\nhttp_listen_port = ${httpPort}\n`,
    );
    // The start-up probe answered and closed: the host has been seen working, and nothing probes it now.
    await until('the start-up probe to close', async () => (await probes()) === 0 && (await readyz()).status === 200, 30000);
  }, 60000);

  afterAll(async () => {
    freezer.thaw();
    await clients.endAll();
    await pgmux?.stop();
  });

  it('pings the host without a trace in its log or pg_stat_activity', async () => {
    const logged = cluster.logs(cluster.primary).length;
    // Two ping intervals (2 s each here) and more.
    await new Promise((r) => setTimeout(r, 5000));
    expect(cluster.logs(cluster.primary).slice(logged)).toBe('');
    expect(await probes()).toBe(0);
    expect(await primaryState()).toBe('up');
  });

  it('is found lost without a client, /readyz turns 503 after failover_timeout, and back once it restarts', async () => {
    expect(await primaryState()).toBe('up');
    await cluster.stopNode(cluster.primary, 'fast');
    await pgmux.waitForLog(/primary 127\.0\.0\.1:\d+ lost/, 15000);
    await until('/readyz to say database app has no primary', async () => {
      const r = await readyz();
      return r.status === 503 && r.body.includes('database app has no primary');
    }, 15000);
    expect(await primaryState()).toBe('unavailable');

    await cluster.startNode(cluster.primary);
    await until('/readyz to be 200 again', async () => (await readyz()).status === 200, 15000);
    expect(await primaryState()).toBe('up');
    // Once it answers, the probe that looked for it goes: back to pings only.
    await until('the probe connection to close', async () => (await probes()) === 0);
  });

  it('is found lost when frozen (SIGSTOP), and back when it continues', async () => {
    const since = pgmux.logs().length;
    freezer.freeze(cluster.primary.pid);
    await until('pgmux to log the primary lost', async () => /primary 127\.0\.0\.1:\d+ lost/.test(pgmux.logs().slice(since)), 20000);
    await until('/readyz to be 503', async () => (await readyz()).status === 503, 15000);
    freezer.thaw();
    await until('/readyz to be 200 again', async () => (await readyz()).status === 200, 15000);
    expect(await primaryState()).toBe('up');
  });

  it('fails a request in flight on the frozen host with 08006 at failover_timeout, and serves again once it continues', async () => {
    const c = await clients.connect(pgmux.port);
    await c.query('SELECT 1');
    freezer.freeze(cluster.primary.pid);
    const since = Date.now();
    const err = await c.query('SELECT 2').then(
      () => null,
      (e: Error & { code?: string; detail?: string }) => e,
    );
    expect(err).toMatchObject({ code: '08006', detail: expect.stringMatching(/has not answered a probe for failover_timeout/) });
    expect(Date.now() - since).toBeLessThan(15000);
    freezer.thaw();
    await until('/readyz to be 200 again', async () => (await readyz()).status === 200, 15000);
    // With workers = 2, /readyz can say 200 a moment before the other worker has heard the probe
    // that found the host back (seen once: a client there got 'no primary' right after): every
    // worker must serve within 2 s.
    await until('a new client to be served', async () => {
      const again = await clients.connect(pgmux.port);
      return again.query('SELECT 3 AS n').then(
        (r) => r.rows[0]?.n === 3,
        () => false,
      );
    }, 2000);
  });
});
