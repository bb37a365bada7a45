// The operator's failover with a PgBouncer-style config (one host per database): the primary
// dies, requests are held as for a restart, the operator promotes the standby, points the
// database line at it and sends SIGHUP. The held requests must go to the new host at once (not
// wait for another client's request to wake the pool, nor out failover_timeout), and the console
// must answer throughout.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { startCluster, type Cluster, type PgNode } from '../support/cluster';
import { startPgmux, type PgmuxProcess } from '../support/pgmux';
import { AppClients } from './single-host-pgmux';
import { freePort } from '../support/ports';
import { consoleRows } from '../support/console';
import { until } from '../routing/support';

jest.setTimeout(120000);

let cluster: Cluster;
let pgmux: PgmuxProcess;
let primary: PgNode;
let standby: PgNode;
let iniFor: (host: PgNode) => string;
const clients = new AppClients(() => cluster);

function connect(): Promise<Client> {
  return clients.connect(pgmux.port);
}

function admin(sql: string): Promise<Record<string, unknown>[]> {
  return consoleRows(pgmux.port, 'app', cluster.password, sql);
}

async function hostRow(): Promise<Record<string, unknown>> {
  const row = (await admin('SHOW HOSTS')).find((r) => r.database === 'app');
  if (row === undefined) throw new Error('no SHOW HOSTS row for app');
  return row;
}

beforeAll(async () => {
  // Synchronous: the write acknowledged before the immediate stop is on the promoted standby.
  cluster = await startCluster({ replica: true, synchronous: true });
  primary = cluster.primary;
  if (cluster.replica === undefined) throw new Error('no replica');
  standby = cluster.replica;
  await cluster.query(primary, 'CREATE TABLE rn (who text NOT NULL); GRANT ALL ON rn TO app');
  await cluster.waitForReplay();
  const port = await freePort();
  iniFor = (host) =>
    '[databases]\n' +
    `app = host=127.0.0.1 port=${host.port} dbname=app\n` +
    '[pgbouncer]\n' +
    `listen_addr = 127.0.0.1\nlisten_port = ${port}\nunix_socket_dir =\n` +
    'auth_type = scram-sha-256\nauth_file = userlist.txt\nadmin_users = app\n' +
    'pool_mode = transaction\ndefault_pool_size = 4\nfailover_timeout = 60\nquery_wait_timeout = 120\n';
  pgmux = await startPgmux(iniFor(primary), { 'userlist.txt': `"app" "${cluster.password}"\n` });
}, 120000);

afterAll(async () => {
  await clients.endAll();
  await pgmux?.stop();
  await cluster?.stop();
});

describe('SIGHUP pointing a single-host database at the promoted standby', () => {
  it('sends the held requests there at once', async () => {
    const a = await connect();
    const b = await connect();
    expect((await a.query("INSERT INTO rn (who) VALUES ('before') RETURNING inet_server_port() AS p")).rows[0].p).toBe(primary.port);

    await cluster.stopNode(primary, 'immediate');
    const held = [
      a.query("INSERT INTO rn (who) VALUES ('a') RETURNING inet_server_port() AS p"),
      b.query("INSERT INTO rn (who) VALUES ('b') RETURNING inet_server_port() AS p"),
    ];
    await until('both requests held', async () => Number((await hostRow()).held) === 2);

    await cluster.promote(standby);
    writeFileSync(join(pgmux.dir, 'pgmux.ini'), iniFor(standby));
    const reloadedAt = Date.now();
    process.kill(pgmux.pid, 'SIGHUP');
    const done = await Promise.all(held.map((q) => q.then((r) => ({ p: r.rows[0].p as number, ms: Date.now() - reloadedAt }))));
    for (const d of done) {
      expect(d.p).toBe(standby.port);
      expect(d.ms).toBeLessThan(3000);
    }
    expect(await hostRow()).toMatchObject({ port: standby.port, primary_state: 'up', held: 0 });
    const rows = (await cluster.query(standby, 'SELECT who FROM rn ORDER BY who')).rows.map((r) => r.who);
    expect(rows).toEqual(['a', 'b', 'before']);
  });
});
