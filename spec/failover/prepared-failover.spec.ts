// Named prepared statements through a failover: pgbench -M prepared (10 clients, default -j)
// runs while the primary gets a fast stop and the standby is promoted; node-postgres and
// psycopg 3 clients prepared their statements on the old primary before. After the promotion
// every one of them runs its statements on the new primary (pgmux prepares them there: the
// clients send only Bind/Execute) with no 26000 "prepared statement does not exist"; statements
// first named while pgmux holds requests (no primary) run there once it is promoted; and
// pgbench loses no client beyond those whose transaction was on the primary when it stopped
// (at most default_pool_size: the servers that were linked then).

import type { Client } from 'pg';
import type { Cluster, PgNode } from '../support/cluster';
import type { PgmuxProcess } from '../support/pgmux';
import { until } from '../routing/support';
import { AppClients } from './single-host-pgmux';
import { hostRow, hostRows, startPair, startTwoHosts } from './two-host-pgmux';
import { initializePgbench, startPgbench, type PgbenchLoad } from './pgbench-load';
import { psycopgSession, type LineSession } from './line-sessions';

jest.setTimeout(240000);

const POOL_SIZE = 4;
const PGBENCH_CLIENTS = 10;
const PGBENCH_SECONDS = 30;

let cluster: Cluster;
let pgmux: PgmuxProcess;
let primary: PgNode;
let standby: PgNode;
let load: PgbenchLoad | null = null;
const sessions: LineSession[] = [];
const clients = new AppClients(() => cluster);
const hosts = (): Promise<Record<string, unknown>[]> => hostRows(pgmux, cluster.password);

/** A write by a named statement: node-postgres sends Parse once per connection, then Bind/Execute only. */
const INSERT_NAMED = { name: 'pf_insert', text: 'INSERT INTO pf VALUES ($1) RETURNING inet_server_port() AS p' };
const psycopgInsert = (who: string): string => `INSERT INTO pf VALUES ('${who}') RETURNING inet_server_port()`;

async function namedInsert(c: Client, who: string): Promise<number> {
  return Number((await c.query({ ...INSERT_NAMED, values: [who] })).rows[0]?.p);
}

beforeAll(async () => {
  const pair = await startPair('CREATE TABLE pf (who text NOT NULL); GRANT ALL ON pf TO app');
  ({ cluster, primary, standby } = pair);
  await initializePgbench({ port: primary.port, user: 'app', password: cluster.password, database: 'app' }, 1);
  await cluster.waitForReplay();
  pgmux = await startTwoHosts(pair, `default_pool_size = ${POOL_SIZE}\nfailover_timeout = 60\nquery_wait_timeout = 120\n`);
}, 180000);

afterAll(async () => {
  await load?.kill().catch(() => undefined);
  for (const s of sessions) await s.stop().catch(() => undefined);
  await clients.endAll();
  await pgmux?.stop();
  await cluster?.stop();
});

describe('named prepared statements through a failover', () => {
  it('run on the new primary after a fast stop and promotion, with no 26000 and no pgbench client lost beyond the transactions in flight', async () => {
    await until('the primary found', async () => hostRow(await hosts(), primary).state === 'primary');
    const target = { port: pgmux.port, user: 'app', password: cluster.password, database: 'app' };

    // Prepared on the old primary before the failover.
    const pg = await clients.connect(pgmux.port);
    expect(await namedInsert(pg, 'pg-before')).toBe(primary.port);
    expect(await namedInsert(pg, 'pg-before')).toBe(primary.port);
    const always = await psycopgSession(target, 'always');
    const byThreshold = await psycopgSession(target);
    sessions.push(always, byThreshold);
    expect(Number(await always.ask(psycopgInsert('psy-always-before')))).toBe(primary.port);
    // psycopg prepares a statement from its 5th execution on (prepare_threshold).
    for (let i = 0; i < 7; i++) expect(Number(await byThreshold.ask(psycopgInsert('psy-threshold-before')))).toBe(primary.port);

    load = await startPgbench(target, { clients: PGBENCH_CLIENTS, rate: 100, seconds: PGBENCH_SECONDS, mode: 'prepared' });
    await load.running(60000);
    const stopAt = Date.now();
    await cluster.stopNode(primary, 'fast');
    await until('pgmux to search', async () => hostRow(await hosts(), standby).primary_state === 'searching');
    // Sent while there is no primary, so held: a statement the client names for the first time
    // (Parse, Bind, Execute), from a connection that has one prepared already and from a new one.
    const fresh = await clients.connect(pgmux.port);
    const held = Promise.all([
      pg.query({ name: 'pf_held', text: 'INSERT INTO pf VALUES ($1) RETURNING inet_server_port() AS p', values: ['pg-held'] }),
      fresh.query({ name: 'pf_fresh', text: 'INSERT INTO pf VALUES ($1) RETURNING inet_server_port() AS p', values: ['pg-fresh'] }),
    ]);
    await cluster.promote(standby);
    const promotedAt = Date.now();
    expect((await held).map((r) => Number(r.rows[0]?.p))).toEqual([standby.port, standby.port]);
    expect(await namedInsert(fresh, 'pg-fresh-after')).toBe(standby.port);

    // The statements the clients hold, only Bound now, run on the new primary.
    expect(await namedInsert(pg, 'pg-after')).toBe(standby.port);
    expect(Number(await always.ask(psycopgInsert('psy-always-after')))).toBe(standby.port);
    for (let i = 0; i < 3; i++) expect(Number(await byThreshold.ask(psycopgInsert('psy-threshold-after')))).toBe(standby.port);

    const result = await load.finish(60000);
    load = null;
    const summary = result.output.split('\n').filter((l) => /aborted|failed|processed|error/i.test(l));
    console.log(`pgbench -M prepared -c ${PGBENCH_CLIENTS}: stop at +0, promoted at +${promotedAt - stopAt} ms; ${result.commits.filter((t) => t > promotedAt).length} commits after the promotion\n${summary.join('\n')}`);
    expect(result.finished).toBe(true);
    expect(result.output).not.toMatch(/26000|prepared statement .* does not exist/);
    expect(result.aborts.length).toBeLessThanOrEqual(POOL_SIZE);
    expect(result.commits.filter((t) => t > promotedAt).length).toBeGreaterThan(0);

    const rows = await cluster.query(standby, "SELECT who, count(*)::int AS n FROM pf GROUP BY who ORDER BY who");
    expect(Object.fromEntries(rows.rows.map((r) => [r.who, r.n]))).toEqual({
      'pg-after': 1,
      'pg-before': 2,
      'pg-fresh': 1,
      'pg-fresh-after': 1,
      'pg-held': 1,
      'psy-always-after': 1,
      'psy-always-before': 1,
      'psy-threshold-after': 3,
      'psy-threshold-before': 7,
    });
  });
});
