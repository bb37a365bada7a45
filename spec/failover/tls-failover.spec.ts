// Failover drill over server TLS: a primary and its standby with ssl = on (the TLS specs' CA and
// server certificate), pgmux with server_tls_sslmode = require. The primary stops (fast), the
// standby is promoted a moment later; the writes held meanwhile run once on the new primary over
// TLS, and every connection pgmux has there (pooled servers and the health probe, all dialed
// through the host's one dialer) is TLS. pg_stat_ssl on the server is the witness.

import type { Client } from 'pg';
import type { Cluster, PgNode } from '../support/cluster';
import type { PgmuxProcess } from '../support/pgmux';
import { until } from '../routing/support';
import { makePki, type Pki } from '../tls/support/pki';
import { AppClients } from './single-host-pgmux';
import { hostRow, hostRows, startPair, startTwoHosts } from './two-host-pgmux';
import { MONITOR_APPLICATION_NAME } from '../../lib/routing/monitor';

jest.setTimeout(120000);

let pki: Pki;
let cluster: Cluster;
let pgmux: PgmuxProcess;
let primary: PgNode;
let standby: PgNode;
const clients = new AppClients(() => cluster);
const connect = (): Promise<Client> => clients.connect(pgmux.port);
const hosts = (): Promise<Record<string, unknown>[]> => hostRows(pgmux, cluster.password);

/** Where a statement ran, and whether its server connection is TLS. */
const WHERE_TLS = `inet_server_port() AS p, (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS ssl`;

/** pgmux's connections to `node` as the server sees them: application_name and TLS. */
async function pgmuxConnections(node: PgNode): Promise<{ app: string; ssl: boolean }[]> {
  const r = await cluster.query(node, "SELECT a.application_name AS app, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.usename = 'app' ORDER BY 1");
  return r.rows.map((row) => ({ app: String(row.app), ssl: row.ssl === true }));
}

beforeAll(async () => {
  pki = await makePki();
  const pair = await startPair('CREATE TABLE tlsfo (who text NOT NULL); GRANT ALL ON tlsfo TO app', {
    settings: { ssl: 'on', ssl_cert_file: pki.cert('server'), ssl_key_file: pki.key('server'), ssl_ca_file: pki.cert('ca') },
  });
  ({ cluster, primary, standby } = pair);
  pgmux = await startTwoHosts(pair, 'failover_timeout = 20\nquery_wait_timeout = 60\nserver_tls_sslmode = require\n');
}, 120000);

afterAll(async () => {
  await clients.endAll();
  await pgmux?.stop();
  await cluster?.stop();
  pki?.remove();
});

it('holds writes while the primary is gone and runs them once over TLS on the promoted standby', async () => {
  await until('the primary found', async () => hostRow(await hosts(), primary).state === 'primary');
  const writers = await Promise.all([connect(), connect(), connect(), connect()]);
  expect((await writers[0]!.query(`INSERT INTO tlsfo VALUES ('before') RETURNING ${WHERE_TLS}`)).rows[0]).toEqual({ p: primary.port, ssl: true });
  await cluster.stopNode(primary, 'fast');
  const stoppedAt = Date.now();
  await until('pgmux to hold', async () => hostRow(await hosts(), standby).primary_state === 'searching');
  const doneAt: number[] = [];
  const writes = writers.map((c, i) =>
    c.query(`INSERT INTO tlsfo VALUES ('held-${i}') RETURNING ${WHERE_TLS}`).then((r) => {
      doneAt.push(Date.now());
      return r.rows[0];
    }),
  );
  await until('the writes held', async () => Number(hostRow(await hosts(), standby).held) >= writers.length);
  const promotingAt = Date.now();
  await cluster.promote(standby);
  expect(await Promise.all(writes)).toEqual(writers.map(() => ({ p: standby.port, ssl: true })));
  const last = Math.max(...doneAt);
  process.stdout.write(`tls failover: ${writers.length} writes held ${last - stoppedAt} ms after the stop, released ${last - promotingAt} ms after pg_ctl promote began\n`);
  expect(last - promotingAt).toBeLessThan(1000);
  const rows = (await cluster.query(standby, 'SELECT who, count(*)::int AS n FROM tlsfo GROUP BY who ORDER BY who')).rows;
  expect(rows).toEqual([{ who: 'before', n: 1 }, ...writers.map((_, i) => ({ who: `held-${i}`, n: 1 }))]);
  // Every connection pgmux has on the new primary is TLS: the pooled servers and the probe.
  const conns = await pgmuxConnections(standby);
  expect(conns.length).toBeGreaterThanOrEqual(writers.length);
  expect(conns.filter((c) => !c.ssl)).toEqual([]);
  expect(conns.some((c) => c.app === MONITOR_APPLICATION_NAME)).toBe(true);
});
