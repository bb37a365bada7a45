// Black-box spec of the traffic counters behind SHOW STATS / STATS_TOTALS / STATS_AVERAGES /
// TOTALS and SHOW POOLS' maxwait: each counter is checked against what the spec itself sent and
// received (a raw client counts its bytes), with PgBouncer 1.18's definitions (parity.spec.ts
// compares the same counters with the real binary): a query runs from a client's first message
// until the ReadyForQuery answering its last owed Sync; a transaction ends at ReadyForQuery 'I'.

import { serialize } from 'pg-protocol';
import type { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { createRoles, elapse, runPgmux, track, waitFor, type Running } from '../pool/support';
import { RawConsole } from './support';

jest.setTimeout(30000);

let cluster: Cluster;
let run: Running;
let admin: RawConsole;

beforeAll(async () => {
  cluster = await startCluster();
  await createRoles(cluster, ['s_app']);
  run = await runPgmux(cluster, {
    roles: ['s_app', 'admin'],
    databases: { other: 'dbname=app' },
    settings: { admin_users: 'admin', default_pool_size: 1, stats_period: 1 },
  });
  admin = await RawConsole.open(run.port, 'admin', '');
});

afterAll(async () => {
  admin?.close();
  await run?.stop();
  await cluster?.stop();
});

type Totals = Record<'xact_count' | 'query_count' | 'bytes_received' | 'bytes_sent' | 'xact_time' | 'query_time' | 'wait_time', number>;

async function totals(db = 'app'): Promise<Totals> {
  const row = RawConsole.objects(await admin.query('SHOW STATS_TOTALS')).find((r) => r.database === db);
  const n = (k: string) => Number(row?.[k] ?? 0);
  return {
    xact_count: n('xact_count'),
    query_count: n('query_count'),
    bytes_received: n('bytes_received'),
    bytes_sent: n('bytes_sent'),
    xact_time: n('xact_time'),
    query_time: n('query_time'),
    wait_time: n('wait_time'),
  };
}

function delta(a: Totals, b: Totals): Totals {
  const out = { ...b };
  for (const k of Object.keys(out) as (keyof Totals)[]) out[k] = b[k] - a[k];
  return out;
}

async function pools(db = 'app'): Promise<Record<string, string | null>> {
  const row = RawConsole.objects(await admin.query('SHOW POOLS')).find((r) => r.database === db);
  if (row === undefined) throw new Error(`no pool for ${db}`);
  return row;
}

describe('query, transaction and byte counters', () => {
  /** Would catch counting per message instead of per request, or missing/extra bytes either way. */
  it('count what a client sent and received, exactly', async () => {
    const c = await RawConsole.open(run.port, 's_app', '', 'app');
    await c.query('SELECT 1'); // the pool's server is open and warm from here on
    const before = await totals();
    c.wire.bytesSent = 0;
    c.wire.bytesReceived = 0;
    await c.query('SELECT 1');
    await c.query('BEGIN');
    await c.query("SELECT repeat('x', 10000)");
    await c.query('COMMIT');
    await c.query('SELECT 1; SELECT 2');
    const failed = await c.query('SELECT 1/0');
    expect(failed.error?.code).toBe('22012');
    const d = delta(before, await totals());
    expect({ queries: d.query_count, xacts: d.xact_count }).toEqual({ queries: 6, xacts: 4 });
    expect({ received: d.bytes_received, sent: d.bytes_sent }).toEqual({ received: c.wire.bytesSent, sent: c.wire.bytesReceived });
    c.close();
  });

  /** A pipeline is one query to PgBouncer (it times until the last owed Sync); so must it be to pgmux. */
  it('count an extended-protocol pipeline of two Syncs as one query and one transaction', async () => {
    const c = await RawConsole.open(run.port, 's_app', '', 'app');
    await c.query('SELECT 1');
    const before = await totals();
    c.wire.bytesSent = 0;
    c.wire.bytesReceived = 0;
    const step = (v: string) => [serialize.parse({ text: 'SELECT $1::int' }), serialize.bind({ values: [v] }), serialize.execute({}), serialize.sync()];
    c.send(Buffer.concat([...step('1'), ...step('2')]));
    await c.readUntilReady(2);
    const d = delta(before, await totals());
    expect({ queries: d.query_count, xacts: d.xact_count }).toEqual({ queries: 1, xacts: 1 });
    expect({ received: d.bytes_received, sent: d.bytes_sent }).toEqual({ received: c.wire.bytesSent, sent: c.wire.bytesReceived });
    c.close();
  });

  /** Would catch SHOW STATS summing databases together, or per-user pools into the wrong row. */
  it('keeps one row per database', async () => {
    const app = await totals('app');
    const other = await totals('other');
    const c = await run.connect('s_app', { database: 'other' });
    for (let i = 0; i < 3; i++) await c.query('SELECT 1');
    await c.end();
    expect(delta(other, await totals('other')).query_count).toBe(3);
    expect(delta(app, await totals('app')).query_count).toBe(0);
    const names = RawConsole.objects(await admin.query('SHOW STATS')).map((r) => r.database);
    expect(names).toEqual(['app', 'other', 'pgbouncer']);
  });
});

describe('times', () => {
  /** Would catch wait time charged when nobody waited (per-request overhead counted as waiting). */
  it('charge no wait time when a server is free', async () => {
    const c = await run.connect('s_app');
    await c.query('SELECT 1');
    const before = await totals();
    for (let i = 0; i < 20; i++) await c.query('SELECT 1');
    expect(delta(before, await totals()).wait_time).toBe(0);
    await c.end();
  });

  /** Would catch waits, transactions or queries timed wrongly (ms for µs, or not at all). */
  it('measure the wait for a busy pool, the transaction holding it and the queued query, in microseconds', async () => {
    const holder: Client = await run.connect('s_app');
    const waiter: Client = await run.connect('s_app');
    await holder.query('SELECT 1');
    await waiter.query('SELECT 1');
    const before = await totals();
    await holder.query('BEGIN');
    const started = Date.now();
    const queued = track(waiter.query('SELECT 2'));
    await waitFor('the waiter to queue', async () => (await pools()).cl_waiting === '1');
    await elapse(300);
    const p = await pools();
    expect(Number(p.maxwait) * 1e6 + Number(p.maxwait_us)).toBeGreaterThanOrEqual(250_000);
    const waitingRow = RawConsole.objects(await admin.query('SHOW CLIENTS')).find((r) => r.state === 'waiting');
    expect(Number(waitingRow?.wait) * 1e6 + Number(waitingRow?.wait_us)).toBeGreaterThanOrEqual(250_000);
    await holder.query('COMMIT');
    await queued.promise;
    const elapsed = (Date.now() - started) * 1000;
    const d = delta(before, await totals());
    expect(d.wait_time).toBeGreaterThanOrEqual(250_000);
    expect(d.wait_time).toBeLessThanOrEqual(elapsed + 50_000);
    // The transaction held its server for the whole wait; the queued query's time includes its wait.
    expect(d.xact_time).toBeGreaterThanOrEqual(250_000);
    expect(d.query_time).toBeGreaterThanOrEqual(d.wait_time);
    expect((await pools()).maxwait_us).toBe('0');
    await holder.end();
    await waiter.end();
  });
});

describe('averages and the stats_period log line', () => {
  /** Would catch averages that never move, or a log line missing or in another shape. */
  it('reports per-second rates over the last period and logs them like PgBouncer', async () => {
    const c = await run.connect('s_app');
    const lineWithQueries = () =>
      run.pgmux
        .logs()
        .split('\n')
        .map((l) => /LOG stats: (\d+) xacts\/s, (\d+) queries\/s, in \d+ B\/s, out \d+ B\/s, xact \d+ us, query \d+ us, wait \d+ us$/.exec(l))
        .find((m) => m !== null && Number(m[2]) > 0);
    // Traffic until a stats_period boundary has seen it (stats_period = 1).
    await waitFor('a stats line with queries', async () => {
      await c.query('SELECT 1');
      return lineWithQueries();
    });
    const avg = RawConsole.objects(await admin.query('SHOW STATS_AVERAGES')).find((r) => r.database === 'app');
    expect(Number(avg?.query_count)).toBeGreaterThan(0);
    const totalsView = RawConsole.objects(await admin.query('SHOW TOTALS'));
    expect(totalsView.map((r) => r.name)).toContain('avg_query_count');
    expect(Number(totalsView.find((r) => r.name === 'total_query_count')?.value)).toBeGreaterThan(0);
    await c.end();
  });
});
