// Logins during a failover. With auth_query, a user missing from auth_file is looked up on a
// server, and while the primary is gone that lookup must not go to the dead host (every new
// login refused until the promotion). It reads pg_shadow, which a standby has too: the login
// succeeds, its reads are served by the standby at once, and its writes wait for the new primary
// as every other held request does. A user whose pool never logged in to the primary (its first
// login since pgmux started) must not wait for the promotion for its welcome either.

import { Client } from 'pg';
import type { Cluster, PgNode } from '../support/cluster';
import { startPair, startTwoHosts } from './two-host-pgmux';
import type { PgmuxProcess } from '../support/pgmux';
import { consoleRows } from '../support/console';
import { until } from '../routing/support';

jest.setTimeout(120000);

let cluster: Cluster;
let pgmux: PgmuxProcess;
let primary: PgNode;
let standby: PgNode;
const clients: Client[] = [];

/** app_md5 is not in auth_file: pgmux looks its secret up with auth_query as auth_user postgres. */
async function connectQueried(): Promise<Client> {
  const c = new Client({ host: '127.0.0.1', port: pgmux.port, user: 'app_md5', password: cluster.password, database: 'app' });
  c.on('error', () => undefined);
  clients.push(c);
  await c.connect();
  return c;
}

function admin(sql: string): Promise<Record<string, unknown>[]> {
  return consoleRows(pgmux.port, 'app', cluster.password, sql);
}

async function standbyRow(): Promise<Record<string, unknown>> {
  const row = (await admin('SHOW HOSTS')).find((r) => r.database === 'app' && Number(r.port) === standby.port);
  if (row === undefined) throw new Error('no SHOW HOSTS row for the standby');
  return row;
}

beforeAll(async () => {
  const pair = await startPair('CREATE TABLE aq (who text NOT NULL); GRANT ALL ON aq TO app');
  ({ cluster, primary, standby } = pair);
  pgmux = await startTwoHosts(pair, 'auth_user = postgres\nfailover_timeout = 60\nquery_wait_timeout = 120\n', {
    auth: 'md5',
    userlist: `"app" "${cluster.password}"\n"app_plain" "${cluster.password}"\n"postgres" "${cluster.password}"\n`,
  });
  await until('both hosts probed', async () => (await standbyRow()).state === 'up');
}, 120000);

afterAll(async () => {
  for (const c of clients) await c.end().catch(() => undefined);
  await pgmux?.stop();
  await cluster?.stop();
});

describe('a login that needs auth_query while the primary is gone', () => {
  it('is looked up on the standby: the login succeeds, reads are served, writes wait for the promotion; a new user is welcomed too', async () => {
    const first = await connectQueried();
    expect((await first.query("INSERT INTO aq (who) VALUES ('before') RETURNING inet_server_port() AS p")).rows[0].p).toBe(primary.port);

    await cluster.stopNode(primary, 'fast');
    await until('pgmux to hold', async () => (await standbyRow()).primary_state === 'searching');
    // RELOAD drops auth_query's short cache (an operator may well RELOAD during a failover): the next login looks the user up again.
    await admin('RELOAD');

    const t0 = Date.now();
    const during = await connectQueried().catch((e: Error & { code?: string }) => {
      throw new Error(`login during the failover refused: ${e.code} ${e.message}\n${pgmux.logs().split('\n').slice(-20).join('\n')}`);
    });
    const read = (await during.query('SELECT count(*)::int AS n, inet_server_port() AS p FROM aq')).rows[0];
    const loginAndReadMs = Date.now() - t0;
    expect(read).toEqual({ n: 1, p: standby.port });
    expect(loginAndReadMs).toBeLessThan(3000);
    expect((await standbyRow()).primary_state).toBe('searching');

    // app_plain (in auth_file) never logged in: its pool has no parameters from the primary. Its
    // welcome uses those another pool of the database learned, and it reads at once.
    const t1 = Date.now();
    // node-postgres' own connect timeout: a login that waits for the promotion (which this test
    // starts only later) fails here instead of hanging until jest's timeout.
    const fresh = new Client({ host: '127.0.0.1', port: pgmux.port, user: 'app_plain', password: cluster.password, database: 'app', connectionTimeoutMillis: 10000 });
    fresh.on('error', () => undefined);
    clients.push(fresh);
    await fresh.connect().catch((e: Error) => {
      throw new Error(`no welcome for app_plain during the failover (the login waits for the promotion): ${e.message}`);
    });
    const freshRead = await fresh.query('SELECT count(*)::int AS n, inet_server_port() AS p FROM aq');
    expect(freshRead.rows[0]).toEqual({ n: 1, p: standby.port });
    expect(Date.now() - t1).toBeLessThan(3000);

    const write = during.query("INSERT INTO aq (who) VALUES ('during') RETURNING inet_server_port() AS p");
    await until('the write to be held', async () => Number((await standbyRow()).held) === 1);
    await cluster.promote(standby);
    expect((await write).rows[0].p).toBe(standby.port);
    // And a login after the promotion is looked up on the new primary as before.
    await admin('RELOAD');
    const after = await connectQueried();
    expect((await after.query("INSERT INTO aq (who) VALUES ('after') RETURNING inet_server_port() AS p")).rows[0].p).toBe(standby.port);
  });
});
