// Black-box spec of issue 4's stale plans: after DDL changes a table under one of pgmux's shared
// statements, a server answers its Bind or Describe with 0A000 "cached plan must not change
// result type". pgmux closes and prepares the statement again on that server and runs the batch
// again when that is invisible to the client but for the new columns (nothing of the batch ran,
// no transaction block, and the batch itself describes the statement or the Bind's portal);
// otherwise the error passes and the server's copy is marked stale, so the next try, or the
// driver's own re-prepare, gets a fresh one.
//
// pgmux runs with default_pool_size = 2 in transaction mode; a Swapper (support.ts) decides
// which server the client under test gets. What each server did is read from PostgreSQL's own
// log: every Parse of these roles is logged with its backend PID, and so is each error.

import postgres from 'postgres';
import { startCluster, type Cluster } from '../support/cluster';
import {
  createLoggedRoles,
  dataRow,
  errorFields,
  fe,
  logged,
  pidsOf,
  RawClient,
  serverEvents,
  startFront,
  Swapper,
  types,
  waitFor,
  type Frame,
  type Front,
  type LogEvent,
} from './support';

jest.setTimeout(30000);

const ROLES = ['r_np', 'r_pgjs', 'r_tx', 'r_pipe', 'r_desc', 'r_twice', 'r_sql', 'r_big'];
const TABLES = ['rp_np', 'rp_pgjs', 'rp_tx', 'rp_pipe', 'rp_desc', 'rp_two_a', 'rp_two_b', 'rp_sql', 'rp_big'];
const STALE = 'cached plan must not change result type';

let cluster: Cluster;
let main: Front;
const raws: RawClient[] = [];
const swappers: Swapper[] = [];

beforeAll(async () => {
  cluster = await startCluster();
  await createLoggedRoles(cluster, ROLES);
  await cluster.query(cluster.primary, TABLES.map((t) => `CREATE TABLE ${t} (id int, v text); INSERT INTO ${t} VALUES (1, 'a'); GRANT SELECT ON ${t} TO app;`).join('\n'));
  main = await startFront(cluster, ROLES);
});

afterEach(async () => {
  await Promise.all(raws.splice(0).map((r) => r.close().catch(() => undefined)));
  await Promise.all(swappers.splice(0).map((s) => s.stop()));
});

afterAll(async () => {
  await main?.stop();
  await cluster?.stop();
});

async function raw(user: string): Promise<RawClient> {
  const c = await RawClient.login(main.port, user);
  raws.push(c);
  return c;
}

async function swapper(user: string): Promise<Swapper> {
  const s = await Swapper.start(main, user);
  swappers.push(s);
  return s;
}

/** DDL through another connection (the table's owner, directly on PostgreSQL). */
async function alter(table: string, change: string): Promise<void> {
  await cluster.query(cluster.primary, `ALTER TABLE ${table} ${change}`);
}

/** Column names of the first RowDescription among frames. */
function columns(frames: readonly Frame[]): string[] {
  const t = frames.find((f) => f.type === 'T');
  if (t === undefined) throw new Error(`no RowDescription among ${types(frames)}`);
  const out: string[] = [];
  let pos = 2;
  for (let i = t.body.readInt16BE(0); i > 0; i--) {
    const nul = t.body.indexOf(0, pos);
    out.push(t.body.toString('utf8', pos, nul));
    pos = nul + 1 + 18;
  }
  return out;
}

/** Backend PID of the server the client is on now (a node-postgres client, or a raw one). */
async function pidOf(c: { query(sql: string): Promise<{ rows: { pid: number }[] }> } | RawClient): Promise<number> {
  if (c instanceof RawClient) return Number(rows(await c.roundTrip(fe.query('SELECT pg_backend_pid()')))[0][0]);
  return (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
}

function rows(frames: readonly Frame[]): (string | Buffer | null)[][] {
  return frames.filter((f) => f.type === 'D').map((f) => dataRow(f.body));
}

function errorOf(frames: readonly Frame[]): Record<string, string> {
  const e = frames.find((f) => f.type === 'E');
  if (e === undefined) throw new Error(`no ErrorResponse among ${types(frames)}`);
  return errorFields(e.body);
}

/**
 * What one backend did with the statements reading `table` since `mark`, in order: 'parse' for
 * each Parse of a pgmux_ name, 'stale' for each 0A000 "cached plan must not change result type".
 * Waits until the log holds `parses` such Parses (it is written asynchronously).
 */
async function history(mark: number, table: string, parses: number): Promise<{ byPid: Map<number, string[]>; names: Set<string> }> {
  await waitFor(`${parses} parses of ${table}`, () => {
    const n = serverEvents(cluster)
      .slice(mark)
      .filter((e) => e.kind === 'parse' && e.text.includes(table)).length;
    return n >= parses;
  });
  const byPid = new Map<number, string[]>();
  const names = new Set<string>();
  for (const e of serverEvents(cluster).slice(mark)) {
    const step = stepOf(e, table);
    if (step === null) continue;
    if (step === 'parse') names.add(e.name);
    byPid.set(e.pid, [...(byPid.get(e.pid) ?? []), step]);
  }
  return { byPid, names };
}

function stepOf(e: LogEvent, table: string): 'parse' | 'stale' | null {
  if (e.kind === 'parse' && e.text.includes(table) && e.name.startsWith('pgmux_')) return 'parse';
  if (e.kind === 'error' && e.text === STALE) return 'stale';
  return null;
}

describe('a stale plan under a shared statement', () => {
  it('node-postgres (Bind, Describe portal, Execute, Sync): after ADD COLUMN both servers answer 0A000 once, pgmux prepares again there and runs the batch, and the client gets the new column with no error (catches: the stale-plan error reaching a client that cannot re-prepare pgmux\'s statement)', async () => {
    const sw = await swapper('r_np');
    const c = await main.connect('r_np');
    const q = { name: 'q', text: 'SELECT * FROM rp_np ORDER BY id' };
    const mark = serverEvents(cluster).length;
    // Prepared on both servers with the old columns.
    for (let i = 0; i < 2; i++) {
      expect((await c.query(q)).rows).toEqual([{ id: 1, v: 'a' }]);
      await sw.swap();
    }
    await alter('rp_np', 'ADD COLUMN c int DEFAULT 7');
    for (let i = 0; i < 2; i++) {
      const r = await c.query(q);
      expect(r.fields.map((f) => f.name)).toEqual(['id', 'v', 'c']);
      expect(r.rows).toEqual([{ id: 1, v: 'a', c: 7 }]);
      await sw.swap();
    }
    // Each backend: prepared, answered the stale plan, prepared again (by pgmux, not the client).
    const { byPid, names } = await history(mark, 'rp_np', 4);
    expect(names.size).toBe(1);
    expect([...byPid.keys()].sort((a, b) => a - b)).toEqual([...sw.pids].sort((a, b) => a - b));
    for (const steps of byPid.values()) expect(steps).toEqual(['parse', 'stale', 'parse']);
  });

  it('postgres.js (Bind, Execute, Sync by cached columns): the error reaches the driver, which prepares again by itself, and pgmux makes that Parse real on each server, so the rows have the new column (catches: a batch run again silently while the driver decodes rows by the old columns, or a re-prepare answered from the stale copy)', async () => {
    const sw = await swapper('r_pgjs');
    const sql = postgres({ host: '127.0.0.1', port: main.port, user: 'r_pgjs', pass: cluster.password, database: 'app', max: 1, onnotice: () => undefined });
    const mark = serverEvents(cluster).length;
    try {
      for (let i = 0; i < 2; i++) {
        expect([...(await sql`SELECT * FROM rp_pgjs ORDER BY id`)]).toEqual([{ id: 1, v: 'a' }]);
        await sw.swap();
      }
      await alter('rp_pgjs', 'ADD COLUMN c int DEFAULT 7');
      for (let i = 0; i < 2; i++) {
        const r = await sql`SELECT * FROM rp_pgjs ORDER BY id`;
        expect(r.columns.map((col) => col.name)).toEqual(['id', 'v', 'c']);
        expect([...r]).toEqual([{ id: 1, v: 'a', c: 7 }]);
        await sw.swap();
      }
    } finally {
      await sql.end();
    }
    const { byPid, names } = await history(mark, 'rp_pgjs', 4);
    expect(names.size).toBe(1);
    expect(byPid.size).toBe(2);
    for (const steps of byPid.values()) expect(steps).toEqual(['parse', 'stale', 'parse']);
  });

  it('inside BEGIN the error passes with 0A000 and the transaction is aborted as PostgreSQL leaves it; after ROLLBACK the same named query gets the new column (catches: running again inside a user transaction the error aborted, or a copy left stale so the client fails forever)', async () => {
    await swapper('r_tx');
    const c = await main.connect('r_tx');
    const pid = await pidOf(c);
    const q = { name: 'q', text: 'SELECT * FROM rp_tx ORDER BY id' };
    const mark = serverEvents(cluster).length;
    expect((await c.query(q)).rows).toEqual([{ id: 1, v: 'a' }]);
    await alter('rp_tx', 'ADD COLUMN c int DEFAULT 7');
    await c.query('BEGIN');
    await expect(c.query(q)).rejects.toMatchObject({ code: '0A000', message: STALE });
    await expect(c.query('SELECT 1')).rejects.toMatchObject({ code: '25P02' });
    await c.query('ROLLBACK');
    const r = await c.query(q);
    expect(r.rows).toEqual([{ id: 1, v: 'a', c: 7 }]);
    const { byPid } = await history(mark, 'rp_tx', 2);
    expect([...byPid.entries()]).toEqual([[pid, ['parse', 'stale', 'parse']]]);
  });

  it('raw pipelines: the error passes when something of the batch ran before, when the batch does not describe what it binds, and when a later batch is already on the wire (which itself runs again); each next try gets the new columns (catches: running a batch twice, rows without their description, or answers out of order)', async () => {
    await swapper('r_pipe');
    const c = await raw('r_pipe');
    const bindRun = [fe.bind('q'), fe.describe('P', ''), fe.execute(), fe.sync()];
    let f = await c.roundTrip(fe.parse('q', 'SELECT * FROM rp_pipe ORDER BY id'), ...bindRun);
    expect([types(f), columns(f), rows(f)]).toEqual(['1 2 T D C Z', ['id', 'v'], [['1', 'a']]]);

    await alter('rp_pipe', 'ADD COLUMN c int DEFAULT 7');
    // An unnamed statement ran first in the same batch: running again would run it twice.
    f = await c.roundTrip(fe.parse('', "SELECT 'ran' AS x"), fe.bind(''), fe.execute(), ...bindRun);
    expect([types(f), rows(f), errorOf(f).C, errorOf(f).M]).toEqual(['1 2 D C E Z', [['ran']], '0A000', STALE]);
    f = await c.roundTrip(...bindRun);
    expect([types(f), columns(f), rows(f)]).toEqual(['2 T D C Z', ['id', 'v', 'c'], [['1', 'a', '7']]]);

    await alter('rp_pipe', 'ADD COLUMN d int DEFAULT 8');
    // No Describe: the client would decode the new rows by the columns it was told before.
    f = await c.roundTrip(fe.bind('q'), fe.execute(), fe.sync());
    expect([types(f), errorOf(f).C]).toEqual(['E Z', '0A000']);
    f = await c.roundTrip(...bindRun);
    expect([types(f), columns(f), rows(f)]).toEqual(['2 T D C Z', ['id', 'v', 'c', 'd'], [['1', 'a', '7', '8']]]);

    await alter('rp_pipe', 'ADD COLUMN e int DEFAULT 9');
    // Two batches in one write: the first cannot run again behind the second, which can.
    c.send(...bindRun, ...bindRun);
    const first = await c.until('Z');
    const second = await c.until('Z');
    expect([types(first), errorOf(first).C]).toEqual(['E Z', '0A000']);
    expect([types(second), columns(second), rows(second)]).toEqual(['2 T D C Z', ['id', 'v', 'c', 'd', 'e'], [['1', 'a', '7', '8', '9']]]);
  });

  it('Describe of a statement (pgJDBC-style Parse, Describe, Sync; postgres.js-style Parse, Describe, Flush): a Parse answered from the stale copy is healed, with exactly one ParameterDescription and the new RowDescription (catches: a fresh Parse failing with 0A000, a doubled ParameterDescription, or a Flush-ended batch left hanging)', async () => {
    await swapper('r_desc');
    const text = 'SELECT * FROM rp_desc ORDER BY id';
    const mark = serverEvents(cluster).length;
    const a = await raw('r_desc');
    const pid = await pidOf(a);
    let f = await a.roundTrip(fe.parse('a1', text), fe.describe('S', 'a1'), fe.sync());
    expect([types(f), columns(f)]).toEqual(['1 t T Z', ['id', 'v']]);

    await alter('rp_desc', 'ADD COLUMN c int DEFAULT 7');
    const b = await raw('r_desc');
    f = await b.roundTrip(fe.parse('b1', text), fe.describe('S', 'b1'), fe.sync());
    expect([types(f), columns(f)]).toEqual(['1 t T Z', ['id', 'v', 'c']]);
    f = await b.roundTrip(fe.bind('b1'), fe.execute(), fe.sync());
    expect([types(f), rows(f)]).toEqual(['2 D C Z', [['1', 'a', '7']]]);

    await alter('rp_desc', 'ADD COLUMN d int DEFAULT 8');
    const c = await raw('r_desc');
    c.send(fe.parse('c1', text), fe.describe('S', 'c1'), fe.flush());
    f = await c.until('T');
    expect([types(f), columns(f)]).toEqual(['1 t T', ['id', 'v', 'c', 'd']]);
    f = await c.roundTrip(fe.bind('c1'), fe.execute(), fe.sync());
    expect([types(f), rows(f)]).toEqual(['2 D C Z', [['1', 'a', '7', '8']]]);

    const { byPid } = await history(mark, 'rp_desc', 3);
    expect([...byPid.entries()]).toEqual([[pid, ['parse', 'stale', 'parse', 'stale', 'parse']]]);
  });

  it('a second stale plan in a batch that already ran again passes: a batch runs again at most once, never in a loop; the next try of the batch runs whole (catches: re-running without bound, or the second statement left stale)', async () => {
    await swapper('r_twice');
    const c = await raw('r_twice');
    const pid = await pidOf(c);
    const mark = serverEvents(cluster).length;
    let f = await c.roundTrip(fe.parse('s1', 'SELECT * FROM rp_two_a'), fe.parse('s2', 'SELECT * FROM rp_two_b'), fe.sync());
    expect(types(f)).toBe('1 1 Z');
    await alter('rp_two_a', 'ADD COLUMN c int DEFAULT 7');
    await alter('rp_two_b', 'ADD COLUMN c int DEFAULT 8');
    const batch = [
      fe.bind('s1', [], { portal: 'p1' }),
      fe.describe('P', 'p1'),
      fe.bind('s2', [], { portal: 'p2' }),
      fe.describe('P', 'p2'),
      fe.execute('p1'),
      fe.execute('p2'),
      fe.sync(),
    ];
    // s1 failed, was prepared again and bound; then s2 failed: that error is the client's.
    f = await c.roundTrip(...batch);
    expect([types(f), columns(f), errorOf(f).C]).toEqual(['2 T E Z', ['id', 'v', 'c'], '0A000']);
    f = await c.roundTrip(...batch);
    expect([types(f), rows(f)]).toEqual(['2 T 2 T D C D C Z', [['1', 'a', '7'], ['1', 'a', '8']]]);

    // Describes only, so nothing has run when the second fails: the one-re-run bound stops it.
    await alter('rp_two_a', 'ADD COLUMN d int DEFAULT 9');
    await alter('rp_two_b', 'ADD COLUMN d int DEFAULT 10');
    const describes = [fe.describe('S', 's1'), fe.describe('S', 's2'), fe.sync()];
    f = await c.roundTrip(...describes);
    expect([types(f), columns(f), errorOf(f).C]).toEqual(['t T t E Z', ['id', 'v', 'c', 'd'], '0A000']);
    f = await c.roundTrip(...describes);
    expect([types(f), columns(f.slice(2))]).toEqual(['t T t T Z', ['id', 'v', 'c', 'd']]);

    const a = await history(mark, 'rp_two_a', 3);
    const b = await history(mark, 'rp_two_b', 3);
    const stale = serverEvents(cluster)
      .slice(mark)
      .filter((e) => e.kind === 'error');
    expect(stale.map((e) => [e.pid, e.text])).toEqual(Array.from({ length: 4 }, () => [pid, STALE]));
    expect(a.byPid.get(pid)?.filter((s) => s === 'parse')).toHaveLength(3);
    expect(b.byPid.get(pid)?.filter((s) => s === 'parse')).toHaveLength(3);
  });

  it('SQL-level EXECUTE: after ADD COLUMN it runs again behind DEALLOCATE and PREPARE and returns the new column; inside BEGIN the error passes and after ROLLBACK the next EXECUTE works (catches: EXECUTE failing until the client re-PREPAREs a name it cannot)', async () => {
    await swapper('r_sql');
    const c = await main.connect('r_sql');
    const pid = await pidOf(c);
    const mark = serverEvents(cluster).length;
    await c.query('PREPARE sq AS SELECT * FROM rp_sql ORDER BY id');
    expect((await c.query('EXECUTE sq')).rows).toEqual([{ id: 1, v: 'a' }]);
    await alter('rp_sql', 'ADD COLUMN c int DEFAULT 7');
    const r = await c.query('EXECUTE sq');
    expect([r.command, r.rows]).toEqual(['SELECT', [{ id: 1, v: 'a', c: 7 }]]);

    await alter('rp_sql', 'ADD COLUMN d int DEFAULT 8');
    await c.query('BEGIN');
    await expect(c.query('EXECUTE sq')).rejects.toMatchObject({ code: '0A000', message: STALE });
    await c.query('ROLLBACK');
    expect((await c.query('EXECUTE sq')).rows).toEqual([{ id: 1, v: 'a', c: 7, d: 8 }]);

    // Simple Queries are logged by their first line: pgmux's re-prepares start with DEALLOCATE.
    const deallocs = await logged(cluster, 'DEALLOCATE pgmux_', 'statement', 2);
    expect(pidsOf(deallocs)).toEqual([pid]);
    const errors = serverEvents(cluster)
      .slice(mark)
      .filter((e) => e.kind === 'error');
    expect(errors.map((e) => [e.pid, e.text])).toEqual([
      [pid, STALE],
      [pid, STALE],
    ]);
  });

  it('a batch over 64 KiB is not kept: its error passes, and the next try works (catches: holding unbounded client bytes per batch)', async () => {
    await swapper('r_big');
    const c = await main.connect('r_big');
    const q = (pad: string) => ({ name: 'big', text: 'SELECT *, length($1::text) AS n FROM rp_big', values: [pad] });
    expect((await c.query(q('x'))).rows).toEqual([{ id: 1, v: 'a', n: 1 }]);
    await alter('rp_big', 'ADD COLUMN c int DEFAULT 7');
    const pad = 'x'.repeat(70 * 1024);
    await expect(c.query(q(pad))).rejects.toMatchObject({ code: '0A000' });
    expect((await c.query(q(pad))).rows).toEqual([{ id: 1, v: 'a', n: pad.length, c: 7 }]);
  });
});
