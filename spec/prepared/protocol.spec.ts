// Black-box spec of prepared statements in transaction mode (issue 4, "What must work"):
// node-postgres named queries, postgres.js's default prepared statements, hand-built protocol
// bytes for what drivers will not do on demand, and SQL-level PREPARE / EXECUTE / DEALLOCATE,
// through pgmux with default_pool_size=2.
//
// Which server a request lands on is forced by a Swapper (support.ts): a holder client sits in
// BEGIN on one of the two servers, so the client under test can only get the other; a swap
// moves it. What each server did is read from PostgreSQL's own log (each role here logs every
// Parse/Bind/Execute/Query with its backend PID) and from pg_prepared_statements, never from
// pgmux's words.

import postgres from 'postgres';
import { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import {
  createLoggedRoles,
  dataRow,
  errorFields,
  eventsWith,
  fe,
  logged,
  pidsOf,
  RawClient,
  serverEvents,
  startFront,
  Swapper,
  types,
  type Frame,
  type Front,
  waitFor,
  type LogEvent,
} from './support';

jest.setTimeout(30000);

const ROLES = [
  'p_np', 'p_close', 'p_parsefail', 'p_unknown', 'p_pipe', 'p_pgjs', 'p_describe', 'p_portal', 'p_binary',
  'p_evict', 'p_evict_err', 'p_evict_sql', 'p_off', 'p_session', 'p_discard', 'p_dealloc_all', 'p_dealloc_ext', 'p_reset',
  'p_sql_two', 'p_sql_same', 'p_sql_mixed', 'p_sql_multi',
];

let cluster: Cluster;
/** pgmux with prepared statements tracked (default max_prepared_statements). */
let main: Front;
const started: Front[] = [];
const raws: RawClient[] = [];
const swappers: Swapper[] = [];

beforeAll(async () => {
  cluster = await startCluster();
  await createLoggedRoles(cluster, ROLES);
  main = await startFront(cluster, ROLES);
  started.push(main);
});

afterEach(async () => {
  await Promise.all(raws.splice(0).map((r) => r.close().catch(() => undefined)));
  await Promise.all(swappers.splice(0).map((s) => s.stop()));
});

afterAll(async () => {
  for (const f of started) await f.stop();
  await cluster?.stop();
});

async function raw(front: Front, user: string): Promise<RawClient> {
  const c = await RawClient.login(front.port, user);
  raws.push(c);
  return c;
}

async function swapper(front: Front, user: string): Promise<Swapper> {
  const s = await Swapper.start(front, user);
  swappers.push(s);
  return s;
}

async function front(settings: Record<string, string | number>): Promise<Front> {
  const f = await startFront(cluster, ROLES, settings);
  started.push(f);
  return f;
}

/** Text values of the DataRows among frames. */
function rows(frames: readonly Frame[]): (string | Buffer | null)[][] {
  return frames.filter((f) => f.type === 'D').map((f) => dataRow(f.body));
}

function errorOf(frames: readonly Frame[]): Record<string, string> {
  const e = frames.find((f) => f.type === 'E');
  if (e === undefined) throw new Error(`no ErrorResponse among ${types(frames)}`);
  return errorFields(e.body);
}

function tagOf(frames: readonly Frame[]): string {
  const c = frames.filter((f) => f.type === 'C').pop();
  return c === undefined ? '' : c.body.toString('utf8', 0, c.body.length - 1);
}

/** Server log events since `mark` (an index into serverEvents()). */
function since(mark: number): LogEvent[] {
  return serverEvents(cluster).slice(mark);
}

/** Backend PID of the server the client is on, asked over the same connection (simple Query). */
async function pidVia(c: RawClient): Promise<number> {
  return Number(rows(await c.roundTrip(fe.query('SELECT pg_backend_pid()')))[0][0]);
}

/** pgmux's statements on the server the client is on. */
async function preparedOn(c: RawClient): Promise<string[]> {
  return rows(await c.roundTrip(fe.query('SELECT name FROM pg_prepared_statements ORDER BY name'))).map((r) => String(r[0]));
}

describe('protocol-level named statements moving between servers', () => {
  it('node-postgres: two clients naming different SQL "q" each get their own rows on both servers, each statement prepared again on the second by pgmux alone (catches: Bind reaching a server that lacks the statement, or another client\'s "q")', async () => {
    const tag = 'np_two';
    const sw = await swapper(main, 'p_np');
    const a = await main.connect('p_np');
    const b = await main.connect('p_np');
    const mark = serverEvents(cluster).length;
    const seen: number[] = [];
    for (let round = 0; round < 3; round++) {
      const ra = await a.query({ name: 'q', text: `SELECT '${tag}-a' AS v, pg_backend_pid() AS pid, $1::int AS n`, values: [round] });
      const rb = await b.query({ name: 'q', text: `SELECT '${tag}-b' AS v, pg_backend_pid() AS pid, $1::int * 10 AS n`, values: [round] });
      expect(ra.rows).toEqual([{ v: `${tag}-a`, pid: ra.rows[0].pid, n: round }]);
      expect(rb.rows).toEqual([{ v: `${tag}-b`, pid: ra.rows[0].pid, n: round * 10 }]);
      seen.push(ra.rows[0].pid);
      await sw.swap();
    }
    const [held, other] = sw.pids;
    expect(seen).toEqual([other, held, other]);
    for (const who of ['a', 'b']) {
      const parses = await logged(cluster, `'${tag}-${who}'`, 'parse', 2);
      expect(pidsOf(parses)).toEqual([held, other].sort((x, y) => x - y));
      expect(parses.every((e) => e.name.startsWith('pgmux_'))).toBe(true);
    }
    // Two statements, two server-side names; and no Bind ever hit a server without its statement.
    expect(new Set(eventsWith(cluster, tag).filter((e) => e.kind === 'parse').map((e) => e.name)).size).toBe(2);
    expect(since(mark).filter((e) => e.kind === 'error')).toEqual([]);
  });

  it('postgres.js (prepare: true, one connection, 10 queries at once, so pipelined) gets every row on both servers with no server error (catches: the queue losing its place in a pipeline with injected Parses)', async () => {
    const tag = 'pgjs_pipe';
    const sw = await swapper(main, 'p_pgjs');
    const sql = postgres({ host: '127.0.0.1', port: main.port, user: 'p_pgjs', pass: cluster.password, database: 'app', max: 1, onnotice: () => undefined });
    const mark = serverEvents(cluster).length;
    try {
      const pids: number[] = [];
      for (let round = 0; round < 3; round++) {
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) => sql.unsafe(`SELECT '${tag}-${i}' AS v, pg_backend_pid() AS pid, $1::int + ${i} AS n`, [round], { prepare: true })),
        );
        results.forEach((r, i) => expect([...r]).toEqual([{ v: `${tag}-${i}`, pid: results[0][0].pid, n: round + i }]));
        pids.push(results[0][0].pid as number);
        await sw.swap();
      }
      const [held, other] = sw.pids;
      expect(pids).toEqual([other, held, other]);
      const parses = await logged(cluster, tag, 'parse', 20);
      for (let i = 0; i < 10; i++) expect(pidsOf(parses.filter((e) => e.text.includes(`'${tag}-${i}'`)))).toHaveLength(2);
      // postgres.js would re-prepare after a 26000 by itself: there must have been none.
      expect(since(mark).filter((e) => e.kind === 'error')).toEqual([]);
    } finally {
      await sql.end();
    }
  });

  it('a name re-used after Close runs its new SQL, here and on the other server, and a Bind right after Close fails (catches: the old mapping surviving Close)', async () => {
    const tag = 'close_reuse';
    const sw = await swapper(main, 'p_close');
    const c = await raw(main, 'p_close');
    let f = await c.roundTrip(fe.parse('s1', `SELECT '${tag}-1' AS v`), fe.bind('s1'), fe.execute(), fe.sync());
    expect([types(f), rows(f)]).toEqual(['1 2 D C Z', [[`${tag}-1`]]]);
    f = await c.roundTrip(fe.close('S', 's1'), fe.bind('s1'), fe.execute(), fe.sync());
    expect(types(f)).toBe('3 E Z');
    expect(errorOf(f)).toMatchObject({ C: '26000', M: 'prepared statement "s1" does not exist' });
    f = await c.roundTrip(fe.parse('s1', `SELECT '${tag}-2' AS v`), fe.bind('s1'), fe.execute(), fe.sync());
    expect([types(f), rows(f)]).toEqual(['1 2 D C Z', [[`${tag}-2`]]]);
    await sw.swap();
    f = await c.roundTrip(fe.bind('s1'), fe.execute(), fe.sync());
    expect([types(f), rows(f)]).toEqual(['2 D C Z', [[`${tag}-2`]]]);
  });

  it('a Parse the server rejects reaches the client as PostgreSQL\'s error and leaves no mapping: Bind gets 26000 until a valid Parse of the name (catches: a stale name pointing at a statement no server has)', async () => {
    const tag = 'parse_fail';
    const sw = await swapper(main, 'p_parsefail');
    const c = await raw(main, 'p_parsefail');
    let f = await c.roundTrip(fe.parse('bad', 'SELEC 1'), fe.sync());
    expect(types(f)).toBe('E Z');
    expect(errorOf(f)).toMatchObject({ S: 'ERROR', C: '42601', M: 'syntax error at or near "SELEC"', P: '1' });
    f = await c.roundTrip(fe.bind('bad'), fe.execute(), fe.sync());
    expect(errorOf(f)).toMatchObject({ C: '26000', M: 'prepared statement "bad" does not exist' });
    f = await c.roundTrip(fe.parse('bad', `SELECT '${tag}' AS v`), fe.bind('bad'), fe.execute(), fe.sync());
    expect([types(f), rows(f)]).toEqual(['1 2 D C Z', [[tag]]]);
    await sw.swap();
    f = await c.roundTrip(fe.bind('bad'), fe.execute(), fe.sync());
    expect([types(f), rows(f)]).toEqual(['2 D C Z', [[tag]]]);
    // In a pipeline the server skips to Sync after the error: g1 was prepared, g2 never was.
    f = await c.roundTrip(fe.parse('g1', `SELECT '${tag}-g1' AS v`), fe.parse('bad2', 'SELEC 2'), fe.parse('g2', `SELECT '${tag}-g2' AS v`), fe.sync());
    expect(types(f)).toBe('1 E Z');
    f = await c.roundTrip(fe.bind('g1'), fe.execute(), fe.sync());
    expect(rows(f)).toEqual([[`${tag}-g1`]]);
    f = await c.roundTrip(fe.bind('g2'), fe.execute(), fe.sync());
    expect(errorOf(f)).toMatchObject({ C: '26000', M: 'prepared statement "g2" does not exist' });
  });

  it('a Bind to a name never prepared gets 26000, also when the name is another client\'s server-side pgmux_N, which stays on the server (catches: one client running or dropping another\'s statement)', async () => {
    const tag = 'unknown_names';
    await swapper(main, 'p_unknown');
    const owner = await raw(main, 'p_unknown');
    const c = await raw(main, 'p_unknown');
    let f = await c.roundTrip(fe.bind('never'), fe.execute(), fe.sync());
    expect([types(f), errorOf(f).C, errorOf(f).M]).toEqual(['E Z', '26000', 'prepared statement "never" does not exist']);
    f = await owner.roundTrip(fe.parse('mine', `SELECT '${tag}' AS secret`), fe.bind('mine'), fe.execute(), fe.sync());
    expect(rows(f)).toEqual([[tag]]);
    const name = (await logged(cluster, tag, 'parse', 1))[0].name;
    expect(name).toMatch(/^pgmux_/);
    // Only one server is free: c is on the server that holds `name`.
    for (const attempt of [
      [fe.bind(name), fe.execute(), fe.sync()],
      [fe.describe('S', name), fe.sync()],
      [fe.query(`EXECUTE ${name}`)],
      [fe.query(`DEALLOCATE ${name}`)],
    ]) {
      f = await c.roundTrip(...attempt);
      expect(rows(f)).toEqual([]);
      expect(errorOf(f)).toMatchObject({ C: '26000', M: `prepared statement "${name}" does not exist` });
    }
    expect(await preparedOn(c)).toContain(name);
  });

  it('a pipeline of Parses, Binds and Executes before one Sync gets its responses in order, with injected Parses swallowed and known ones acknowledged in place (catches: responses out of order or lost)', async () => {
    const tag = 'pipe';
    const sw = await swapper(main, 'p_pipe');
    const c = await raw(main, 'p_pipe');
    const text = (i: number) => `SELECT '${tag}-${i}' AS v, $1::int AS n`;
    let f = await c.roundTrip(
      fe.parse('a', text(1)), fe.parse('b', text(2)),
      fe.bind('a', ['1']), fe.execute(), fe.bind('b', ['2']), fe.execute(), fe.bind('a', ['3']), fe.execute(), fe.sync(),
    );
    expect(types(f)).toBe('1 1 2 D C 2 D C 2 D C Z');
    expect(rows(f)).toEqual([[`${tag}-1`, '1'], [`${tag}-2`, '2'], [`${tag}-1`, '3']]);
    await sw.swap();
    f = await c.roundTrip(fe.bind('b', ['4']), fe.execute(), fe.bind('a', ['5']), fe.execute(), fe.parse('c', text(3)), fe.bind('c', ['6']), fe.execute(), fe.sync());
    expect(types(f)).toBe('2 D C 2 D C 1 2 D C Z');
    expect(rows(f)).toEqual([[`${tag}-2`, '4'], [`${tag}-1`, '5'], [`${tag}-3`, '6']]);
    await sw.swap();
    // Back on the first server: "d" is a's SQL, which it has (ParseComplete from pgmux), "c" it lacks.
    f = await c.roundTrip(fe.parse('d', text(1)), fe.bind('d', ['7']), fe.execute(), fe.bind('c', ['8']), fe.execute(), fe.sync());
    expect(types(f)).toBe('1 2 D C 2 D C Z');
    expect(rows(f)).toEqual([[`${tag}-1`, '7'], [`${tag}-3`, '8']]);
    const [held, other] = sw.pids;
    const parses = (n: number) => eventsWith(cluster, `'${tag}-${n}'`).filter((e) => e.kind === 'parse').map((e) => e.pid);
    await logged(cluster, `'${tag}-3'`, 'parse', 2);
    expect([parses(1), parses(2), parses(3)]).toEqual([[other, held], [other, held], [held, other]]);
  });

  it('a Describe of a statement the server lacks gets ParameterDescription and RowDescription as on the first server (catches: Describe S not injected, pgJDBC metadata failing)', async () => {
    const tag = 'describe_only';
    const sw = await swapper(main, 'p_describe');
    const c = await raw(main, 'p_describe');
    const first = await c.roundTrip(fe.parse('s', `SELECT $1::int4 AS n, '${tag}'::text AS t`), fe.describe('S', 's'), fe.sync());
    expect(types(first)).toBe('1 t T Z');
    await sw.swap();
    const second = await c.roundTrip(fe.describe('S', 's'), fe.sync());
    expect(types(second)).toBe('t T Z');
    expect(second.slice(0, 2)).toEqual(first.slice(1, 3));
    const paramTypes = second[0].body;
    expect([paramTypes.readInt16BE(0), paramTypes.readInt32BE(2)]).toEqual([1, 23]);
    const events = await logged(cluster, tag, 'parse', 2);
    expect(pidsOf(events)).toHaveLength(2);
  });

  it('a portal with a row limit (Execute maxRows, then Flush) is suspended and resumed on a server where pgmux injected the statement (catches: PortalSuspended breaking the queue, or release mid-portal)', async () => {
    const tag = 'portal_rows';
    const sw = await swapper(main, 'p_portal');
    const c = await raw(main, 'p_portal');
    const text = `SELECT g, '${tag}' AS t FROM generate_series(1, 5) g`;
    expect(types(await c.roundTrip(fe.parse('s', text), fe.sync()))).toBe('1 Z');
    await sw.swap();
    c.send(fe.bind('s'), fe.execute('', 2), fe.flush());
    const part1 = await c.until('s');
    c.send(fe.execute('', 2), fe.flush());
    const part2 = await c.until('s');
    const part3 = await c.roundTrip(fe.execute('', 2), fe.sync());
    expect([types(part1), types(part2), types(part3)]).toEqual(['2 D D s', 'D D s', 'D C Z']);
    expect([...rows(part1), ...rows(part2), ...rows(part3)].map((r) => r[0])).toEqual(['1', '2', '3', '4', '5']);
    // A named portal, row limit and Sync.
    const named = await c.roundTrip(fe.bind('s', [], { portal: 'p1' }), fe.execute('p1', 3), fe.sync());
    expect(types(named)).toBe('2 D D D s Z');
    expect(pidsOf(await logged(cluster, tag, 'parse', 2))).toHaveLength(2);
  });

  it('binary parameters and binary results pass through the rewritten Bind unchanged, on both servers (catches: a Bind rebuilt with its formats or values shifted)', async () => {
    const tag = 'binary';
    const sw = await swapper(main, 'p_binary');
    const c = await raw(main, 'p_binary');
    const int4 = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeInt32BE(n);
      return b;
    };
    const bytes = Buffer.from([0, 1, 2, 255]);
    const text = `SELECT $1::int4 + 1 AS v, $2::bytea AS b, '${tag}'::text AS t`;
    let f = await c.roundTrip(fe.parse('s', text, [23, 17]), fe.bind('s', [int4(41), bytes], { binaryParams: true, binaryResults: true }), fe.execute(), fe.sync());
    expect(types(f)).toBe('1 2 D C Z');
    let row = dataRow(f[2].body, true) as Buffer[];
    expect([row[0].readInt32BE(0), row[1], row[2].toString()]).toEqual([42, bytes, tag]);
    await sw.swap();
    f = await c.roundTrip(fe.bind('s', [int4(99), bytes], { binaryParams: true, binaryResults: true }), fe.execute(), fe.sync());
    expect(types(f)).toBe('2 D C Z');
    row = dataRow(f[1].body, true) as Buffer[];
    expect([row[0].readInt32BE(0), row[1]]).toEqual([100, bytes]);
    expect(pidsOf(await logged(cluster, tag, 'parse', 2))).toHaveLength(2);
  });
});

describe('max_prepared_statements=2', () => {
  let small: Front;
  beforeAll(async () => {
    small = await front({ max_prepared_statements: 2 });
  });

  it('a client cycling through 4 statements keeps at most 2 on its server, evicted ones closed and prepared again (catches: an unbounded server cache, or eviction without Close)', async () => {
    const tag = 'evict';
    await swapper(small, 'p_evict');
    const c = await raw(small, 'p_evict');
    const pid = await pidVia(c);
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 1; i <= 4; i++) {
        const f = await c.roundTrip(...(pass === 0 ? [fe.parse(`s${i}`, `SELECT '${tag}-${i}' AS v`)] : []), fe.bind(`s${i}`), fe.execute(), fe.sync());
        expect(rows(f)).toEqual([[`${tag}-${i}`]]);
        expect((await preparedOn(c)).length).toBeLessThanOrEqual(2);
      }
    }
    expect(await preparedOn(c)).toHaveLength(2);
    // s1 was evicted by s3 and prepared again on the same backend: a second Parse there.
    const again = await logged(cluster, `'${tag}-1'`, 'parse', 2);
    expect(again.map((e) => e.pid)).toEqual([pid, pid]);
  });

  it('an eviction the server skipped (after an error earlier in the pipeline) leaves the evicted statement known to be there (catches: a cache that forgets it, then a 42P05 when it is prepared again)', async () => {
    const tag = 'evict_err';
    await swapper(small, 'p_evict_err');
    const c = await raw(small, 'p_evict_err');
    for (const n of ['a', 'b']) expect(rows(await c.roundTrip(fe.parse(n, `SELECT '${tag}-${n}' AS v`), fe.bind(n), fe.execute(), fe.sync()))).toEqual([[`${tag}-${n}`]]);
    // Parse c would evict a (Close a goes first), but the failing Bind makes the server skip both.
    let f = await c.roundTrip(fe.bind('nosuch'), fe.execute(), fe.parse('c', `SELECT '${tag}-c' AS v`), fe.sync());
    expect(types(f)).toBe('E Z');
    expect(errorOf(f)).toMatchObject({ C: '26000', M: 'prepared statement "nosuch" does not exist' });
    f = await c.roundTrip(fe.bind('a'), fe.execute(), fe.sync());
    expect([types(f), rows(f)]).toEqual(['2 D C Z', [[`${tag}-a`]]]);
    f = await c.roundTrip(fe.bind('c'), fe.execute(), fe.sync());
    expect(errorOf(f)).toMatchObject({ C: '26000', M: 'prepared statement "c" does not exist' });
    expect(await preparedOn(c)).toHaveLength(2);
  });

  it('SQL-level EXECUTE evicts with DEALLOCATE and still runs each statement (catches: SQL statements escaping the bound)', async () => {
    const tag = 'evict_sql';
    await swapper(small, 'p_evict_sql');
    const c = await raw(small, 'p_evict_sql');
    const mark = serverEvents(cluster).length;
    for (const n of ['a', 'b', 'c']) expect(tagOf(await c.roundTrip(fe.query(`PREPARE ${n} AS SELECT '${tag}-${n}' AS v`)))).toBe('PREPARE');
    for (const n of ['a', 'b', 'c', 'a']) {
      const f = await c.roundTrip(fe.query(`EXECUTE ${n}`));
      expect([types(f), rows(f), tagOf(f)]).toEqual(['T D C Z', [[`${tag}-${n}`]], 'SELECT 1']);
      expect((await preparedOn(c)).length).toBeLessThanOrEqual(2);
    }
    // PREPARE c evicted a; then each EXECUTE found its statement evicted and evicted the oldest.
    const deallocates = await waitFor('5 evictions in the server log', () => {
      const d = since(mark).filter((e) => e.kind === 'statement' && e.text.startsWith('DEALLOCATE pgmux_'));
      return d.length >= 5 ? d : undefined;
    });
    expect(deallocates).toHaveLength(5);
  });
});

describe('max_prepared_statements=0 (pass-through)', () => {
  it('a named statement breaks when it moves to the other server, as with PgBouncer 1.18: proof that tracking is what fixes it (catches: a spec that passes without the feature)', async () => {
    const off = await front({ max_prepared_statements: 0 });
    const tag = 'off';
    const sw = await swapper(off, 'p_off');
    const c = await off.connect('p_off');
    const q = { name: 'q', text: `SELECT '${tag}' AS v` };
    expect((await c.query(q)).rows).toEqual([{ v: tag }]);
    await sw.swap();
    await expect(c.query(q)).rejects.toMatchObject({ code: '26000', message: 'prepared statement "q" does not exist' });
    // The server saw the client's own name.
    expect((await logged(cluster, tag, 'parse', 1))[0].name).toBe('q');
  });
});

describe('session mode', () => {
  it('statements pass through under the client\'s own names (catches: rewriting where the server is the client\'s alone)', async () => {
    const sess = await front({ pool_mode: 'session' });
    const tag = 'session';
    const c = await sess.connect('p_session');
    for (let i = 0; i < 3; i++) expect((await c.query({ name: 'q', text: `SELECT '${tag}' AS v` })).rows).toEqual([{ v: tag }]);
    await c.query(`PREPARE foo AS SELECT '${tag}-sql' AS v`);
    expect((await c.query('EXECUTE foo')).rows).toEqual([{ v: `${tag}-sql` }]);
    expect((await c.query('SELECT name FROM pg_prepared_statements ORDER BY name')).rows).toEqual([{ name: 'foo' }, { name: 'q' }]);
    expect((await logged(cluster, tag, 'parse', 1)).map((e) => e.name)).toEqual(['q']);
  });
});

describe('DISCARD ALL and DEALLOCATE ALL', () => {
  it('DISCARD ALL from a client drops its names, and the server\'s statements are known to be gone: another client\'s is prepared again (catches: a Bind of a statement DISCARD ALL dropped)', async () => {
    const tag = 'discard';
    await swapper(main, 'p_discard');
    const a = await main.connect('p_discard');
    const b = await main.connect('p_discard');
    const qa = { name: 'qa', text: `SELECT '${tag}-a' AS v` };
    const qb = { name: 'qb', text: `SELECT '${tag}-b' AS v` };
    await a.query(qa);
    await b.query(qb);
    await a.query('DISCARD ALL');
    // As in PostgreSQL: the client's statements are gone (node-postgres only sends a Bind).
    await expect(a.query(qa)).rejects.toMatchObject({ code: '26000', message: 'prepared statement "qa" does not exist' });
    expect((await b.query(qb)).rows).toEqual([{ v: `${tag}-b` }]);
    const parses = await logged(cluster, `'${tag}-b'`, 'parse', 2);
    expect(new Set(parses.map((e) => e.pid)).size).toBe(1);
  });

  it('DEALLOCATE ALL drops the client\'s names only: the server keeps its statements for other clients (catches: DEALLOCATE ALL forwarded, or names kept)', async () => {
    const tag = 'dealloc_all';
    await swapper(main, 'p_dealloc_all');
    const a = await raw(main, 'p_dealloc_all');
    const b = await main.connect('p_dealloc_all');
    const qb = { name: 'qb', text: `SELECT '${tag}-b' AS v` };
    await b.query(qb);
    expect(tagOf(await a.roundTrip(fe.query(`PREPARE foo AS SELECT '${tag}-sql' AS v`)))).toBe('PREPARE');
    expect(types(await a.roundTrip(fe.parse('qa', `SELECT '${tag}-a' AS v`), fe.sync()))).toBe('1 Z');
    const before = await preparedOn(a);
    expect(before).toHaveLength(3);
    const f = await a.roundTrip(fe.query('DEALLOCATE ALL'));
    expect([types(f), tagOf(f)]).toEqual(['C Z', 'DEALLOCATE ALL']);
    expect(errorOf(await a.roundTrip(fe.query('EXECUTE foo')))).toMatchObject({ C: '26000', M: 'prepared statement "foo" does not exist' });
    expect(errorOf(await a.roundTrip(fe.bind('qa'), fe.execute(), fe.sync()))).toMatchObject({ C: '26000', M: 'prepared statement "qa" does not exist' });
    expect(await preparedOn(a)).toEqual(before);
    expect((await b.query(qb)).rows).toEqual([{ v: `${tag}-b` }]);
    expect(eventsWith(cluster, `'${tag}-b'`).filter((e) => e.kind === 'parse')).toHaveLength(1);
  });

  it('DEALLOCATE ALL run through the extended protocol (unnamed statement) reaches the server, and pgmux knows its statements are gone (catches: a Bind of a statement the server dropped)', async () => {
    const tag = 'dealloc_ext';
    await swapper(main, 'p_dealloc_ext');
    const a = await raw(main, 'p_dealloc_ext');
    const b = await main.connect('p_dealloc_ext');
    const qb = { name: 'qb', text: `SELECT '${tag}-b' AS v` };
    await b.query(qb);
    const f = await a.roundTrip(fe.parse('', 'DEALLOCATE ALL'), fe.bind(''), fe.execute(), fe.sync());
    expect([types(f), tagOf(f)]).toEqual(['1 2 C Z', 'DEALLOCATE ALL']);
    expect(await preparedOn(a)).toEqual([]);
    expect((await b.query(qb)).rows).toEqual([{ v: `${tag}-b` }]);
    const parses = await logged(cluster, `'${tag}-b'`, 'parse', 2);
    expect(new Set(parses.map((e) => e.pid)).size).toBe(1);
  });

  it('with server_reset_query_always=1 each transaction\'s server ran DISCARD ALL, so pgmux prepares the statement again every time (catches: the pool not clearing a reset server\'s cache)', async () => {
    const reset = await front({ server_reset_query_always: 1 });
    const tag = 'reset_always';
    const c = await reset.connect('p_reset');
    for (let i = 0; i < 3; i++) expect((await c.query({ name: 'q', text: `SELECT '${tag}' AS v` })).rows).toEqual([{ v: tag }]);
    const parses = await logged(cluster, tag, 'parse', 3);
    expect(parses).toHaveLength(3);
    expect(eventsWith(cluster, tag).filter((e) => e.kind === 'error')).toEqual([]);
  });
});

describe('SQL-level PREPARE / EXECUTE / DEALLOCATE', () => {
  it('two clients PREPAREing different SQL as "foo" each EXECUTE their own on both servers, prepared there by pgmux (catches: PREPARE forwarded raw, as PgBouncer does)', async () => {
    const tag = 'sql_two';
    const sw = await swapper(main, 'p_sql_two');
    const a = await main.connect('p_sql_two');
    const b = await main.connect('p_sql_two');
    await a.query(`PREPARE foo AS SELECT '${tag}-a' AS v, pg_backend_pid() AS pid`);
    await b.query(`PREPARE foo (int) AS SELECT '${tag}-b' AS v, pg_backend_pid() AS pid, $1 AS n`);
    const pids: number[] = [];
    for (let round = 0; round < 3; round++) {
      const ra = await a.query('EXECUTE foo');
      const rb = await b.query(`EXECUTE foo(${round})`);
      expect(ra.rows).toEqual([{ v: `${tag}-a`, pid: ra.rows[0].pid }]);
      expect(rb.rows).toEqual([{ v: `${tag}-b`, pid: ra.rows[0].pid, n: round }]);
      pids.push(ra.rows[0].pid);
      await sw.swap();
    }
    const [held, other] = sw.pids;
    expect(pids).toEqual([other, held, other]);
    for (const who of ['a', 'b']) {
      const prepares = (await logged(cluster, `'${tag}-${who}'`, 'statement', 2)).filter((e) => /^PREPARE pgmux_/.test(e.text));
      expect(pidsOf(prepares)).toEqual([held, other].sort((x, y) => x - y));
    }
  });

  it('answers like PostgreSQL itself, statement by statement, errors with their codes, messages and positions included (catches: responses or transaction states that differ from PostgreSQL)', async () => {
    const script = [
      'PREPARE p1 AS SELEC 1',
      'EXECUTE p1',
      'PREPARE p1 (int) AS SELECT $1 + 1 AS v',
      'PREPARE p1 AS SELECT 2',
      'EXECUTE p1(41)',
      'EXECUTE p1(1, 2)',
      "EXECUTE p1('x')",
      'EXECUTE p1 (1',
      'DEALLOCATE p1',
      'EXECUTE p1(1)',
      'DEALLOCATE PREPARE p1',
      'BEGIN',
      'PREPARE p2 AS SELECT 3 AS v',
      'SELECT 1/0',
      'EXECUTE p2',
      'DEALLOCATE p2',
      'PREPARE p3 AS SELECT 4',
      'ROLLBACK',
      'EXECUTE p2',
      'EXECUTE p3',
      'PREPARE p4 AS SELECT * FROM nosuch',
      '/* lead */ prepare "Mixed" as select 5 as v -- trail',
      'execute "Mixed"',
      'EXECUTE mixed',
      'BEGIN',
      'EXECUTE p2',
      'DEALLOCATE ALL',
      'COMMIT',
      'EXECUTE p2',
      'DEALLOCATE ALL',
      "PREPARE TRANSACTION 'nothing'",
    ];
    // The same role straight to PostgreSQL: one session, so no statement ever moves there.
    const pg = new Client({ host: cluster.primary.host, port: cluster.primary.port, user: 'p_sql_same', password: cluster.password, database: 'app' });
    await pg.connect();
    const through = await main.connect('p_sql_same');
    try {
      const expected = await outcomes(pg, script);
      const actual = await outcomes(through, script);
      expect(actual).toEqual(expected);
      // The script did exercise errors and successes.
      expect(expected.filter((o) => 'code' in o).length).toBeGreaterThan(10);
    } finally {
      await pg.end();
    }
  });

  it('statements prepared at either level are usable at the other: SQL PREPARE then Bind, Parse then SQL EXECUTE; a typed SQL PREPARE cannot be Bound (catches: two registries, or a silent wrong answer)', async () => {
    const tag = 'sql_mixed';
    const sw = await swapper(main, 'p_sql_mixed');
    const c = await raw(main, 'p_sql_mixed');
    expect(tagOf(await c.roundTrip(fe.query(`PREPARE m AS SELECT $1::int + 1 AS v, '${tag}-m' AS t`)))).toBe('PREPARE');
    expect(types(await c.roundTrip(fe.parse('n', `SELECT $1::int * 2 AS v, '${tag}-n' AS t`), fe.sync()))).toBe('1 Z');
    expect(tagOf(await c.roundTrip(fe.query(`PREPARE t (int) AS SELECT $1 AS v, '${tag}-t' AS t`)))).toBe('PREPARE');
    for (let round = 0; round < 2; round++) {
      expect(rows(await c.roundTrip(fe.bind('m', ['41']), fe.execute(), fe.sync()))).toEqual([['42', `${tag}-m`]]);
      expect(rows(await c.roundTrip(fe.query('EXECUTE n(21)')))).toEqual([['42', `${tag}-n`]]);
      expect(rows(await c.roundTrip(fe.query('EXECUTE t(42)')))).toEqual([['42', `${tag}-t`]]);
      const f = await c.roundTrip(fe.bind('t', ['1']), fe.execute(), fe.sync());
      expect(errorOf(f)).toMatchObject({ C: '0A000' });
      expect(errorOf(f).M).toContain('prepared statement "t" was prepared by SQL PREPARE with parameter types');
      await sw.swap();
    }
  });

  it('PREPARE together with other statements in one query runs them all, and the client\'s name never reaches the server (catches: a client-named statement left on a shared server)', async () => {
    const c = await raw(main, 'p_sql_multi');
    const f = await c.roundTrip(fe.query('SELECT 1; PREPARE x AS SELECT 2; SELECT 3; EXECUTE x'));
    expect(types(f)).toBe('T D C C T D C T D C Z');
    expect(rows(f)).toEqual([['1'], ['3'], ['2']]);
    const held = await preparedOn(c);
    expect(held).not.toContain('x');
    expect(held.some((n) => n.startsWith('pgmux_'))).toBe(true);
  });
});

type Outcome = { command: string | null; rows: unknown[] } | { code: string; message: string; position?: string; detail?: string };

/** What each statement of `script` gets, run one by one as simple Queries. */
async function outcomes(client: Client, script: readonly string[]): Promise<Outcome[]> {
  const out: Outcome[] = [];
  for (const sql of script) {
    try {
      const r = await client.query(sql);
      out.push({ command: r.command, rows: r.rows });
    } catch (e) {
      const err = e as { code: string; message: string; position?: string; detail?: string };
      out.push({ code: err.code, message: err.message, position: err.position, detail: err.detail });
    }
  }
  return out;
}
