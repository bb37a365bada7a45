// Black-box spec: protocol-level Parse and SQL PREPARE name statements in one namespace (issue
// 11, item 1). In PostgreSQL `DEALLOCATE name`, `DEALLOCATE ALL`, `DISCARD ALL` and a protocol
// Close work on a statement whatever created it, and a PREPARE of a name a Parse created gets
// 42P05. Drivers send these both ways: psycopg 3 evicts from its statement cache with
// `DEALLOCATE _pg3_N` in an unnamed Parse + Bind + Execute (extended protocol), psql and most
// scripts send simple Queries.
//
// Every script runs twice, straight to PostgreSQL and through pgmux (transaction mode,
// default_pool_size = 2), and the two transcripts must be equal; each test also pins the
// PostgreSQL transcript it expects. Between steps a Swapper moves the pgmux client to the other
// server, so a name is dropped on a server other than the one that prepared it.

import { both, dataRow, fe, RawClient, sideBySide } from './support';

jest.setTimeout(30000);

const USER = 'app_md5';

const env = sideBySide(USER);

const pair = (): ReturnType<typeof env.pair> => env.pair();

/** SQL `text` as psycopg 3 sends it without parameters: an unnamed statement, then Sync. */
const extended = (text: string): Buffer[] => [fe.parse('', text), fe.bind(''), fe.describe('P', ''), fe.execute(), fe.sync()];

const run = (name: string): Buffer[] => [fe.bind(name), fe.execute(), fe.sync()];

const MISSING = (name: string): string => `E ERROR 26000 prepared statement "${name}" does not exist`;
const ABORTED = 'E ERROR 25P02 current transaction is aborted, commands ignored until end of transaction block';

/** pg_prepared_statements of the server the pgmux client is on, by the client's connection. */
async function serverStatements(c: RawClient): Promise<string[]> {
  const frames = await c.roundTrip(fe.query('SELECT name FROM pg_prepared_statements ORDER BY name'));
  return frames.filter((f) => f.type === 'D').map((f) => String(dataRow(f.body)[0]));
}

describe('DEALLOCATE of a name a Parse created', () => {
  it('through the extended protocol (psycopg 3) drops it, on whichever server, with DEALLOCATE\'s own tag; again it is 26000 (catches: 26000 for a name pgmux renamed)', async () => {
    const { pg, mux, swap } = await pair();
    const first = await both(pg, mux, [[[fe.parse('_pg3_0', 'SELECT 1 AS v'), fe.sync()], 1]]);
    await swap();
    const got = await both(pg, mux, [
      [extended('DEALLOCATE _pg3_0'), 1],
      [run('_pg3_0'), 1],
      [extended('DEALLOCATE _pg3_0'), 1],
      // The name is free again.
      [[fe.parse('_pg3_0', 'SELECT 2 AS v'), ...run('_pg3_0')], 1],
    ]);
    expect([...first, ...got]).toEqual([
      '1', 'Z I',
      '1', '2', 'n', 'C DEALLOCATE', 'Z I',
      MISSING('_pg3_0'), 'Z I',
      '1', '2', 'n', MISSING('_pg3_0'), 'Z I',
      '1', '2', 'D ["2"]', 'C SELECT 1', 'Z I',
    ]);
  });

  it('through the extended protocol keeps the server\'s copy for other clients: only the client\'s name goes (catches: DEALLOCATE reaching a statement the server shares)', async () => {
    const { mux } = await pair();
    const other = env.keep(await RawClient.login(env.front.port, USER, env.cluster.password));
    await mux.roundTrip(fe.parse('mine', "SELECT 'shared' AS v"), fe.sync());
    await other.roundTrip(fe.parse('theirs', "SELECT 'shared' AS v"), ...run('theirs'));
    const before = await serverStatements(mux);
    expect(before.some((n) => n.startsWith('pgmux_'))).toBe(true);
    const f = await mux.roundTrip(...extended('DEALLOCATE mine'));
    expect(f.map((x) => x.type).join(' ')).toBe('1 2 n C Z');
    expect(await serverStatements(mux)).toEqual(before);
    const rows = (await other.roundTrip(...run('theirs'))).filter((x) => x.type === 'D').map((x) => dataRow(x.body));
    expect(rows).toEqual([['shared']]);
  });

  it('through the extended protocol, pipelined in one batch with a Parse of the same name, frees it for that Parse (catches: the name dropped only when the answer comes back)', async () => {
    const { pg, mux } = await pair();
    const got = await both(pg, mux, [
      [[fe.parse('p', 'SELECT 1 AS v'), fe.sync()], 1],
      [[fe.parse('', 'DEALLOCATE p'), fe.bind(''), fe.execute(), fe.parse('p', 'SELECT 2 AS v'), fe.bind('p'), fe.execute(), fe.sync()], 1],
    ]);
    expect(got).toEqual(['1', 'Z I', '1', '2', 'C DEALLOCATE', '1', '2', 'D ["2"]', 'C SELECT 1', 'Z I']);
  });

  it('through the extended protocol in an aborted transaction gets 25P02 and the name stays (catches: the name dropped by a DEALLOCATE that never ran)', async () => {
    const { pg, mux, swap } = await pair();
    const got = await both(pg, mux, [
      [[fe.query('BEGIN')], 1],
      [[fe.parse('k', 'SELECT 7 AS v'), fe.sync()], 1],
      [[fe.query('SELECT 1/0')], 1],
      [extended('DEALLOCATE k'), 1],
      [[fe.query('ROLLBACK')], 1],
    ]);
    await swap();
    const after = await both(pg, mux, [[run('k'), 1]]);
    expect([...got, ...after]).toEqual([
      'C BEGIN', 'Z T',
      '1', 'Z T',
      'E ERROR 22012 division by zero', 'Z E',
      ABORTED, 'Z E',
      'C ROLLBACK', 'Z I',
      '2', 'D ["7"]', 'C SELECT 1', 'Z I',
    ]);
  });

  it('as a simple Query drops it too, and a SQL PREPARE of a Parse-created name is 42P05 (catches: the two kinds of names kept apart)', async () => {
    const { pg, mux, swap } = await pair();
    const got = await both(pg, mux, [
      [[fe.parse('a', 'SELECT 1 AS v'), fe.parse('b', 'SELECT 2 AS v'), fe.sync()], 1],
      [[fe.query('PREPARE a AS SELECT 3')], 1],
      [[fe.query('DEALLOCATE a')], 1],
    ]);
    await swap();
    const after = await both(pg, mux, [
      [run('a'), 1],
      [[fe.query('DEALLOCATE PREPARE b')], 1],
      [[fe.query('DEALLOCATE b')], 1],
    ]);
    expect([...got, ...after]).toEqual([
      '1', '1', 'Z I',
      'E ERROR 42P05 prepared statement "a" already exists', 'Z I',
      'C DEALLOCATE', 'Z I',
      MISSING('a'), 'Z I',
      'C DEALLOCATE', 'Z I',
      MISSING('b'), 'Z I',
    ]);
  });

  it('of a name nobody prepared, or of another client\'s server-side pgmux_N, is 26000 naming it (catches: a DEALLOCATE reaching a statement pgmux shares)', async () => {
    const { pg, mux } = await pair();
    const other = env.keep(await RawClient.login(env.front.port, USER, env.cluster.password));
    await other.roundTrip(fe.parse('o', "SELECT 'other' AS v"), ...run('o'));
    const held = (await serverStatements(other)).find((n) => n.startsWith('pgmux_')) as string;
    const got = await both(pg, mux, [[extended('DEALLOCATE nosuch'), 1], [extended(`DEALLOCATE ${held}`), 1]]);
    expect(got).toEqual(['1', '2', 'n', MISSING('nosuch'), 'Z I', '1', '2', 'n', MISSING(held), 'Z I']);
    const rows = (await other.roundTrip(...run('o'))).filter((x) => x.type === 'D').map((x) => dataRow(x.body));
    expect(rows).toEqual([['other']]);
  });
});

describe('a statement SQL PREPARE created', () => {
  it('is dropped by a protocol Close and by DEALLOCATE through the extended protocol (catches: SQL names unknown to the protocol side)', async () => {
    const { pg, mux, swap } = await pair();
    const got = await both(pg, mux, [
      [[fe.query('PREPARE s1 AS SELECT 1'), fe.query('PREPARE s2 AS SELECT 2')], 2],
      [[fe.close('S', 's1'), fe.sync()], 1],
    ]);
    await swap();
    const after = await both(pg, mux, [
      [[fe.query('EXECUTE s1')], 1],
      [extended('DEALLOCATE s2'), 1],
      [[fe.query('EXECUTE s2')], 1],
    ]);
    expect([...got, ...after]).toEqual([
      'C PREPARE', 'Z I', 'C PREPARE', 'Z I',
      '3', 'Z I',
      MISSING('s1'), 'Z I',
      '1', '2', 'n', 'C DEALLOCATE', 'Z I',
      MISSING('s2'), 'Z I',
    ]);
  });
});

describe('DEALLOCATE ALL and DISCARD ALL', () => {
  it('drop names of both kinds, whichever protocol sends them (catches: names of one kind surviving)', async () => {
    const { pg, mux, swap } = await pair();
    const got = await both(pg, mux, [
      [[fe.parse('p1', 'SELECT 1'), fe.sync(), fe.query('PREPARE s1 AS SELECT 1')], 2],
      [extended('DEALLOCATE ALL'), 1],
    ]);
    await swap();
    const after = await both(pg, mux, [
      [run('p1'), 1],
      [[fe.query('EXECUTE s1')], 1],
      [[fe.parse('p2', 'SELECT 2'), fe.sync(), fe.query('PREPARE s2 AS SELECT 2')], 2],
      [[fe.query('DISCARD ALL')], 1],
      [run('p2'), 1],
      [[fe.query('EXECUTE s2')], 1],
    ]);
    expect([...got, ...after]).toEqual([
      '1', 'Z I', 'C PREPARE', 'Z I',
      '1', '2', 'n', 'C DEALLOCATE ALL', 'Z I',
      MISSING('p1'), 'Z I',
      MISSING('s1'), 'Z I',
      '1', 'Z I', 'C PREPARE', 'Z I',
      'C DISCARD ALL', 'Z I',
      MISSING('p2'), 'Z I',
      MISSING('s2'), 'Z I',
    ]);
  });
});
