// Failover drill with two standbys: a primary and two streaming standbys (A and B), all three
// hosts of database app. The primary stops (fast), A is promoted a moment later; B is left
// following the dead primary, then re-pointed at A as a failover manager would. Writes held
// while there is no primary run once on A; reads go on, on the standbys, with no error; SHOW
// HOSTS shows the roles as they are; and the old primary, back on its old timeline, gets
// nothing (no write, no pooled connection). While B still follows the dead primary it serves reads
// only until it is max_replica_lag behind the new primary's writes. Every step waits on what
// PostgreSQL or pgmux reports.

import type { Client } from 'pg';
import type { Cluster, PgNode } from '../support/cluster';
import type { PgmuxProcess } from '../support/pgmux';
import { until } from '../routing/support';
import { MONITOR_APPLICATION_NAME } from '../../lib/routing/monitor';
import { AppClients } from './single-host-pgmux';
import { hostRow, hostRows, startPair, startTwoHosts, WHERE } from './two-host-pgmux';

jest.setTimeout(120000);

/** max_replica_lag's time part: how long B may serve reads while it replays nothing of A's. */
const MAX_LAG_S = 5;

let cluster: Cluster;
let pgmux: PgmuxProcess;
let primary: PgNode;
let a: PgNode;
let b: PgNode;
const clients = new AppClients(() => cluster);
const connect = (): Promise<Client> => clients.connect(pgmux.port);
const hosts = (): Promise<Record<string, unknown>[]> => hostRows(pgmux, cluster.password);

/** A client that only reads (no write of its own to wait for), in a loop until stopped: where each read ran, or its error. */
class Reader {
  readonly reads: { at: number; port: number | null; error: string | null }[] = [];
  private stopped = false;
  private done: Promise<void> | null = null;

  constructor(private readonly c: Client) {}

  start(): void {
    this.done = (async () => {
      while (!this.stopped) {
        const at = Date.now();
        try {
          const r = await this.c.query(`SELECT ${WHERE}, (SELECT count(*)::int FROM two) AS n`);
          this.reads.push({ at, port: Number(r.rows[0].p), error: null });
        } catch (e) {
          this.reads.push({ at, port: null, error: `${(e as { code?: string }).code}: ${(e as Error).message}` });
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

beforeAll(async () => {
  const pair = await startPair("CREATE TABLE two (who text NOT NULL); INSERT INTO two VALUES ('setup'); GRANT ALL ON two TO app", { standbys: 2 });
  ({ cluster, primary } = pair);
  a = pair.standby;
  b = pair.more[0]!;
  pgmux = await startTwoHosts(pair, `failover_timeout = 20\nquery_wait_timeout = 60\nmax_replica_lag = 64MB,${MAX_LAG_S}s\n`);
}, 180000);

afterAll(async () => {
  await clients.endAll();
  await pgmux?.stop();
  await cluster?.stop();
});

describe('a primary and two standbys', () => {
  it('finds the primary and both standbys, and spreads reads over the standbys', async () => {
    await until('all three hosts probed', async () => (await hosts()).every((r) => r.role !== 'unknown'));
    const rows = await hosts();
    expect(hostRow(rows, primary)).toMatchObject({ role: 'primary', state: 'primary', primary_state: 'up' });
    expect(hostRow(rows, a)).toMatchObject({ role: 'standby', state: 'up' });
    expect(hostRow(rows, b)).toMatchObject({ role: 'standby', state: 'up' });
    const c = await connect();
    const ports = new Set<number>();
    for (let i = 0; i < 10; i++) ports.add(Number((await c.query(`SELECT ${WHERE}`)).rows[0].p));
    expect([...ports].sort()).toEqual([a.port, b.port].sort());
  });

  it('holds a write while the primary is gone and runs it once on the promoted standby; reads go on on the standbys with no error', async () => {
    const writer = await connect();
    const reader = new Reader(await connect());
    reader.start();
    await cluster.stopNode(primary, 'fast');
    const stoppedAt = Date.now();
    await until('pgmux to hold', async () => hostRow(await hosts(), a).primary_state === 'searching');
    const sentAt = Date.now();
    let doneAt = 0;
    const write = writer.query(`INSERT INTO two VALUES ('held') RETURNING ${WHERE}`).then((r) => {
      doneAt = Date.now();
      return r;
    });
    await until('the write held', async () => Number(hostRow(await hosts(), a).held) >= 1);
    // The promotion comes a while after the stop, as a failover manager's does.
    const promotingAt = Date.now();
    await cluster.promote(a);
    expect((await write).rows[0]).toEqual({ hs: 'off', p: a.port });
    for (let i = 0; i < 5; i++) expect((await writer.query(`INSERT INTO two VALUES ('after') RETURNING ${WHERE}`)).rows[0]).toEqual({ hs: 'off', p: a.port });
    // Reads after the promotion: B, still a standby, takes them (A is the primary now).
    await until('reads on B after the promotion', async () => reader.reads.some((r) => r.at > doneAt && r.port === b.port));
    await reader.stop();
    process.stdout.write(
      `two standbys: write held ${doneAt - sentAt} ms (primary stopped ${sentAt - stoppedAt} ms before it was sent), ` +
        `released ${doneAt - promotingAt} ms after pg_ctl promote began; ${reader.reads.length} reads during the drill\n`,
    );
    expect(doneAt - promotingAt).toBeLessThan(1000);
    expect(reader.reads.filter((r) => r.error !== null)).toEqual([]);
    expect(reader.reads.filter((r) => r.port === primary.port)).toEqual([]);
    const after = reader.reads.filter((r) => r.at > doneAt);
    expect(after.filter((r) => r.port !== b.port)).toEqual([]);
    const rows = await hosts();
    expect(hostRow(rows, a)).toMatchObject({ role: 'primary', state: 'primary', primary_state: 'up', held: 0 });
    expect(Number(hostRow(rows, a).timeline)).toBe(2);
    expect(hostRow(rows, b)).toMatchObject({ role: 'standby', state: 'up' });
    expect(hostRow(rows, primary).role).not.toBe('primary');
    const onA = await cluster.query(a, "SELECT who, count(*)::int AS n FROM two GROUP BY who ORDER BY who");
    expect(onA.rows).toEqual([
      { who: 'after', n: 5 },
      { who: 'held', n: 1 },
      { who: 'setup', n: 1 },
    ]);
  });

  it(`B, still following the dead primary, leaves rotation once it is ${MAX_LAG_S} s behind the new primary's writes; reads go on with no error`, async () => {
    const writer = await connect();
    const reader = new Reader(await connect());
    reader.start();
    const since = Date.now();
    // A keeps writing; B replays none of it.
    await until('B out of rotation', async () => {
      await writer.query("INSERT INTO two VALUES ('tick')");
      return hostRow(await hosts(), b).state !== 'up';
    }, 30000);
    const outAt = Date.now();
    await until('reads on A once B is out', async () => reader.reads.some((r) => r.at > outAt && r.port === a.port));
    await reader.stop();
    process.stdout.write(`two standbys: B (following nothing) out of rotation ${outAt - since} ms after the drill's first write; state ${String(hostRow(await hosts(), b).state)}\n`);
    expect(reader.reads.filter((r) => r.error !== null)).toEqual([]);
    expect(reader.reads.filter((r) => r.at > outAt && r.port === b.port)).toEqual([]);
    await writer.query("DELETE FROM two WHERE who = 'tick'");
  });

  it('B, re-pointed at the new primary, streams its timeline and serves reads that see the new writes', async () => {
    await cluster.stopNode(b, 'fast');
    await cluster.startAsStandby(b, a);
    await until('B back in rotation', async () => hostRow(await hosts(), b).state === 'up');
    const c = await connect();
    // Streaming from A, B replays timeline 2: the rows written on A after the promotion reach it.
    await until('a read on B to see the writes made on A', async () => {
      const r = (await c.query(`SELECT ${WHERE}, (SELECT count(*)::int FROM two) AS n`)).rows[0];
      return r.p === b.port && r.n === 7;
    });
  });

  it('the old primary back on its old timeline is fenced: no write and no pooled connection goes to it', async () => {
    await cluster.startNode(primary);
    await until('the old primary probed again', async () => hostRow(await hosts(), primary).role === 'primary');
    expect(hostRow(await hosts(), primary)).toMatchObject({ role: 'primary', state: 'wrong-role', timeline: 1 });
    const c = await connect();
    for (let i = 0; i < 5; i++) {
      expect((await c.query(`INSERT INTO two VALUES ('fenced') RETURNING ${WHERE}`)).rows[0]).toEqual({ hs: 'off', p: a.port });
      expect(Number((await c.query(`SELECT ${WHERE}`)).rows[0].p)).not.toBe(primary.port);
    }
    expect((await cluster.query(primary, 'SELECT who FROM two')).rows).toEqual([{ who: 'setup' }]);
    const pooled = await cluster.query(primary, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = 'app' AND application_name <> '${MONITOR_APPLICATION_NAME}'`);
    expect(pooled.rows[0]?.n).toBe(0);
  });
});
