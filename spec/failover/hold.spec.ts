// Failover on a real primary and streaming replica, through pgmux with both as candidate hosts
// (`host=P,S port=p,s`): roles found by asking, requests held (not failed) while the primary is
// gone and released to the promoted standby, requests the old primary refused at shutdown sent
// again exactly once, an old primary that comes back fenced by its timeline, failover_timeout,
// and a restart in place. Each step waits on what PostgreSQL or pgmux reports, never a fixed time.

import { Client } from 'pg';
import type { Cluster, PgNode } from '../support/cluster';
import { startPair, startTwoHosts, WHERE } from './two-host-pgmux';
import type { PgmuxProcess } from '../support/pgmux';
import { consoleRows } from '../support/console';
import { run } from '../support/child';
import { findPgBin } from '../support/pgbin';
import { runAsPostgres, serverEnv } from '../support/osuser';
import { until } from '../routing/support';

jest.setTimeout(90000);

const FAILOVER_TIMEOUT_S = 4;

let cluster: Cluster;
let pgmux: PgmuxProcess;
let primary: PgNode;
let standby: PgNode;
const clients: Client[] = [];

async function connect(db = 'app'): Promise<Client> {
  const c = new Client({ host: '127.0.0.1', port: pgmux.port, user: 'app', password: cluster.password, database: db });
  // A refusal is FATAL and ends the connection: the client's 'error' event must not go unheard.
  c.on('error', () => undefined);
  await c.connect();
  clients.push(c);
  return c;
}

function admin(sql: string): Promise<Record<string, unknown>[]> {
  return consoleRows(pgmux.port, 'app', cluster.password, sql);
}

async function hosts(db = 'app'): Promise<Record<string, unknown>[]> {
  return (await admin('SHOW HOSTS')).filter((r) => r.database === db);
}

function hostRow(rows: Record<string, unknown>[], node: PgNode): Record<string, unknown> {
  const row = rows.find((r) => Number(r.port) === node.port);
  if (row === undefined) throw new Error(`no SHOW HOSTS row for port ${node.port}: ${JSON.stringify(rows)}`);
  return row;
}

/** pg_ctl promote, as an operator or a failover manager does; resolves once it accepts writes. */
async function promote(node: PgNode): Promise<void> {
  const r = await run(findPgBin('pg_ctl'), ['promote', '-w', '-D', node.dataDir], { cwd: cluster.dir, env: serverEnv(cluster.dir), ...runAsPostgres() });
  if (r.code !== 0) throw new Error(`pg_ctl promote failed: ${r.stderr}${r.stdout}`);
  node.role = 'primary';
}

beforeAll(async () => {
  const pair = await startPair('CREATE TABLE fo (who text NOT NULL, at timestamptz DEFAULT clock_timestamp()); GRANT ALL ON fo TO app');
  ({ cluster, primary, standby } = pair);
  pgmux = await startTwoHosts(pair, `failover_timeout = ${FAILOVER_TIMEOUT_S}\nquery_wait_timeout = 60\n`);
}, 120000);

afterAll(async () => {
  for (const c of clients) await c.end().catch(() => undefined);
  await pgmux?.stop();
  await cluster?.stop();
});

describe('a database with two candidate hosts', () => {
  /** Roles come from asking each host, not from the order of host=: writes on the primary, reads on the standby. */
  it('finds the primary and the standby by asking them, and splits reads and writes between them', async () => {
    const rows = await hosts();
    expect(hostRow(rows, primary)).toMatchObject({ role: 'primary', state: 'primary', primary_state: 'up', breaker: 'closed' });
    expect(hostRow(rows, standby)).toMatchObject({ role: 'standby', state: 'up', breaker: 'closed' });
    expect(Number(hostRow(rows, primary).timeline)).toBe(1);
    const c = await connect();
    const w = (await c.query(`INSERT INTO fo (who) VALUES ('setup') RETURNING ${WHERE}`)).rows[0];
    expect(w).toEqual({ hs: 'off', p: primary.port });
    await cluster.waitForReplay();
    const r = (await c.query(`SELECT ${WHERE}`)).rows[0];
    expect(r).toEqual({ hs: 'on', p: standby.port });
  });

  /**
   * A read running on the standby when it shuts down is refused there with FATAL 57P01 before any
   * of its answer: pgmux sends it to another server, and the client never sees the standby go.
   */
  it('sends a read again when its replica shuts down before answering', async () => {
    const c = await connect();
    const reading = c.query(`SELECT pg_sleep(1), ${WHERE}`);
    await until('the read to run on the standby', async () => {
      const r = await cluster.query(standby, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(1)%'");
      return r.rows[0]?.n === 1;
    });
    await cluster.stopNode(standby, 'fast');
    const row = (await reading.catch((e) => { console.log(pgmux.logs()); throw e; })).rows[0];
    expect(row).toMatchObject({ hs: 'off', p: primary.port });
    expect(pgmux.logs()).toMatch(/server connection lost before it answered .*sending the request again/);
    await cluster.startNode(standby);
    await until('the standby to take reads again', async () => hostRow(await hosts(), standby).state === 'up');
  });

  /**
   * An immediate shutdown warns and drops the connection; a write would have to fail (it may have
   * committed), but a read outside a transaction simply runs again elsewhere.
   */
  it('sends a read again when its replica stops at once (immediate shutdown)', async () => {
    const c = await connect();
    const reading = c.query(`SELECT pg_sleep(1), ${WHERE}`);
    await until('the read to run on the standby', async () => {
      const r = await cluster.query(standby, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(1)%'");
      return r.rows[0]?.n === 1;
    });
    await cluster.stopNode(standby, 'immediate');
    expect((await reading).rows[0]).toMatchObject({ hs: 'off', p: primary.port });
    await cluster.startNode(standby);
    await until('the standby to take reads again', async () => hostRow(await hosts(), standby).state === 'up');
  });

  /**
   * The switchover: the primary stops (fast), the standby is promoted a moment later. A write in
   * flight at the stop is refused by the old primary before it commits and runs once on the new
   * one; a write an idle client sends meanwhile waits instead of failing; both finish promptly
   * after the promotion; SHOW HOSTS shows the hold.
   */
  it('holds writes while the primary is gone and releases them to the promoted standby, with none lost or doubled', async () => {
    const idle = await connect();
    const busy = await connect();
    const inFlight = busy.query(`INSERT INTO fo (who) SELECT 'in-flight' FROM pg_sleep(1) RETURNING ${WHERE}`);
    await until('the write to run on the primary', async () => {
      const r = await cluster.query(primary, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'INSERT INTO fo (who) SELECT%'");
      return r.rows[0]?.n === 1;
    });
    await cluster.stopNode(primary, 'fast');
    await until('pgmux to notice and hold', async () => hostRow(await hosts(), standby).primary_state === 'searching');
    let idleDoneAt = 0;
    const idleWrite = idle.query(`INSERT INTO fo (who) VALUES ('idle') RETURNING ${WHERE}`).then((r) => {
      idleDoneAt = Date.now();
      return r;
    });
    await until('both writes held', async () => Number(hostRow(await hosts(), standby).held) >= 2);
    await promote(standby);
    const promotedAt = Date.now();
    const [a, b] = await Promise.all([inFlight, idleWrite]);
    // The in-flight write sleeps a second again on the new primary; the idle one is quick.
    const releasedAfter = idleDoneAt - promotedAt;
    expect(a.rows[0]).toEqual({ hs: 'off', p: standby.port });
    expect(b.rows[0]).toEqual({ hs: 'off', p: standby.port });
    // Within a second of the promotion (the probes run every 50 ms here).
    expect(releasedAfter).toBeLessThan(1000);
    const rows = (await cluster.query(standby, "SELECT who, count(*)::int AS n FROM fo WHERE who <> 'setup' GROUP BY who ORDER BY who")).rows;
    expect(rows).toEqual([
      { who: 'idle', n: 1 },
      { who: 'in-flight', n: 1 },
    ]);
    const after = await hosts();
    expect(hostRow(after, standby)).toMatchObject({ role: 'primary', state: 'primary', primary_state: 'up', held: 0 });
    expect(Number(hostRow(after, standby).timeline)).toBe(2);
    expect(pgmux.logs()).toMatch(/primary 127\.0\.0\.1:\d+ promoted \(was 127\.0\.0\.1:\d+\), timeline 2/);
  });

  /** The old primary comes back still thinking it is the primary: its timeline is older, so it takes no writes. */
  it('fences an old primary that comes back on an older timeline', async () => {
    await cluster.startNode(primary);
    await until('the old primary to be probed again', async () => hostRow(await hosts(), primary).role === 'primary');
    const rows = await hosts();
    expect(hostRow(rows, primary)).toMatchObject({ role: 'primary', state: 'wrong-role', timeline: 1 });
    expect(hostRow(rows, standby)).toMatchObject({ state: 'primary', timeline: 2 });
    expect(pgmux.logs()).toMatch(/answers as a primary on timeline 1, not newer than the last primary's 2: fenced/);
    const c = await connect();
    for (let i = 0; i < 5; i++) expect((await c.query(`INSERT INTO fo (who) VALUES ('after') RETURNING ${WHERE}`)).rows[0]).toEqual({ hs: 'off', p: standby.port });
    const onOld = await cluster.query(primary, "SELECT count(*)::int AS n FROM fo WHERE who = 'after'");
    expect(onOld.rows[0]?.n).toBe(0);
  });

  /** No primary for failover_timeout: what waited fails naming the database and the hosts, then requests fail at once. */
  it('fails held requests after failover_timeout, naming the hosts tried, and serves again when the primary is back', async () => {
    const c = await connect();
    await cluster.stopNode(standby, 'immediate');
    await until('pgmux to notice', async () => hostRow(await hosts(), standby).primary_state !== 'up');
    const started = Date.now();
    const err = await c.query("INSERT INTO fo (who) VALUES ('never')").then(
      () => null,
      (e: Error & { code?: string }) => e,
    );
    expect(err?.code).toBe('08006');
    expect(err?.message).toBe(
      `no primary for database "app" after ${FAILOVER_TIMEOUT_S} s (failover_timeout): tried 127.0.0.1:${primary.port}, 127.0.0.1:${standby.port}; none accepted writes on a timeline at least as new as the last primary's`,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual((FAILOVER_TIMEOUT_S - 1) * 1000);
    expect(hostRow(await hosts(), standby).primary_state).toBe('unavailable');
    // While unavailable, a request fails at once instead of waiting again.
    const fast = await connect().then(
      async (d) => {
        const t0 = Date.now();
        const e = await d.query('SELECT 1 FROM fo').then(() => null, (x: Error & { code?: string }) => x);
        return { e, ms: Date.now() - t0 };
      },
      (e: Error & { code?: string }) => ({ e, ms: 0 }),
    );
    expect(fast.e?.code).toBe('08006');
    expect(fast.ms).toBeLessThan(1000);
    // The promoted primary restarts in place (same host, same timeline): writes work again.
    await cluster.startNode(standby);
    await until('the primary to be back', async () => hostRow(await hosts(), standby).primary_state === 'up');
    const again = await connect();
    expect((await again.query(`INSERT INTO fo (who) VALUES ('back') RETURNING ${WHERE}`)).rows[0]).toEqual({ hs: 'off', p: standby.port });
  });
});
