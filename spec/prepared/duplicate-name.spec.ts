// Black-box spec: preparing a statement under a name the client already holds. PostgreSQL
// answers a Parse (or SQL PREPARE) of a taken name with ERROR 42P05 `prepared statement "x"
// already exists`, after analysing the new text (so a syntax error or 25P02 comes first), keeps
// the old statement, and in the extended protocol skips to Sync; the unnamed statement is simply
// replaced. pgmux (transaction mode, default_pool_size = 2) must answer the very same bytes with
// the very same frames.
//
// Every script runs twice: on a connection straight to PostgreSQL and on one through pgmux, and
// the two transcripts (frame types, SQLSTATE, message, position, rows, tags, transaction status)
// must be equal. Each test also pins the PostgreSQL transcript it expects, so that it cannot pass
// by both sides doing something else.

import { both, dataRow, fe, type Frame, RawClient, sideBySide, Swapper } from './support';

jest.setTimeout(30000);

const USER = 'app_md5';

const env = sideBySide(USER);

const pair = (): ReturnType<typeof env.pair> => env.pair(false);

const EXISTS = (name: string): string => `E ERROR 42P05 prepared statement "${name}" already exists`;

describe('Parse of a name the client already holds', () => {
  it('is refused with 42P05 and the old statement stays, until a Close frees the name (catches: pgmux silently replacing the client\'s statement)', async () => {
    const { pg, mux } = await pair();
    const got = await both(pg, mux, [
      [[fe.parse('x', "SELECT 'old' AS v"), fe.sync()], 1],
      [[fe.parse('x', "SELECT 'new' AS v"), fe.sync()], 1],
      [[fe.bind('x'), fe.execute(), fe.sync()], 1],
      [[fe.close('S', 'x'), fe.parse('x', "SELECT 'new' AS v"), fe.bind('x'), fe.execute(), fe.sync()], 1],
    ]);
    expect(got).toEqual(['1', 'Z I', EXISTS('x'), 'Z I', '2', 'D ["old"]', 'C SELECT 1', 'Z I', '3', '1', '2', 'D ["new"]', 'C SELECT 1', 'Z I']);
  });

  it('in a batch, the error comes after what ran before it and everything up to Sync is skipped (catches: a synthesized error out of order, or the server running the rest of the batch)', async () => {
    const { pg, mux } = await pair();
    const got = await both(pg, mux, [
      [[fe.parse('x', "SELECT 'one' AS v"), fe.bind('x'), fe.execute(), fe.parse('x', "SELECT 'two' AS v"), fe.bind('x'), fe.execute(), fe.sync(), fe.query("SELECT 'after' AS v")], 2],
      [[fe.bind('x'), fe.execute(), fe.sync()], 1],
    ]);
    expect(got).toEqual(['1', '2', 'D ["one"]', 'C SELECT 1', EXISTS('x'), 'Z I', 'T v', 'D ["after"]', 'C SELECT 1', 'Z I', '2', 'D ["one"]', 'C SELECT 1', 'Z I']);
  });

  it('pipelined across Syncs, each batch gets its own answer in order (catches: the duplicate checked against names of a batch not yet answered, or answers reordered)', async () => {
    const { pg, mux } = await pair();
    const got = await both(pg, mux, [
      [[fe.parse('p', 'SELECT 1 AS n'), fe.sync(), fe.parse('p', 'SELECT 2 AS n'), fe.bind('p'), fe.execute(), fe.sync(), fe.bind('p'), fe.execute(), fe.sync()], 3],
    ]);
    expect(got).toEqual(['1', 'Z I', EXISTS('p'), 'Z I', '2', 'D ["1"]', 'C SELECT 1', 'Z I']);
  });

  it('new text with its own error gets that error, not 42P05, as PostgreSQL analyses before it stores (catches: a duplicate check that hides the syntax error and its position)', async () => {
    const { pg, mux } = await pair();
    const got = await both(pg, mux, [
      [[fe.parse('s', 'SELECT 1'), fe.sync()], 1],
      [[fe.parse('s', 'SELEC 2'), fe.sync()], 1],
      [[fe.parse('s', 'SELECT * FROM no_such_table_dup'), fe.sync()], 1],
    ]);
    expect(got).toEqual([
      '1', 'Z I',
      'E ERROR 42601 syntax error at or near "SELEC" @1', 'Z I',
      'E ERROR 42P01 relation "no_such_table_dup" does not exist @15', 'Z I',
    ]);
  });

  it('inside a transaction block aborts it, and in an aborted one gets 25P02 (catches: a refusal that leaves the server\'s transaction running, or the wrong error in a failed transaction)', async () => {
    const { pg, mux } = await pair();
    const got = await both(pg, mux, [
      [[fe.query('BEGIN')], 1],
      [[fe.parse('t', 'SELECT 1'), fe.sync()], 1],
      [[fe.parse('t', 'SELECT 2'), fe.sync()], 1],
      [[fe.parse('t', 'SELECT 3'), fe.sync()], 1],
      [[fe.query('ROLLBACK')], 1],
      [[fe.bind('t'), fe.execute(), fe.sync()], 1],
    ]);
    expect(got).toEqual([
      'C BEGIN', 'Z T',
      '1', 'Z T',
      EXISTS('t'), 'Z E',
      'E ERROR 25P02 current transaction is aborted, commands ignored until end of transaction block', 'Z E',
      'C ROLLBACK', 'Z I',
      // Prepared statements outlive a rollback.
      '2', 'D ["1"]', 'C SELECT 1', 'Z I',
    ]);
  });

  it('the unnamed statement is simply replaced (catches: 42P05 for "", which every driver re-parses)', async () => {
    const { pg, mux } = await pair();
    const got = await both(pg, mux, [
      [[fe.parse('', 'SELECT 1 AS n'), fe.parse('', 'SELECT 2 AS n'), fe.bind(''), fe.execute(), fe.sync()], 1],
    ]);
    expect(got).toEqual(['1', '1', '2', 'D ["2"]', 'C SELECT 1', 'Z I']);
  });
});

describe('on a server that lacks the old statement (the client moved, pool_size 2)', () => {
  /** Through pgmux only: the backend PID the client's next statement runs on. */
  async function pidOf(c: RawClient): Promise<string> {
    const frames = await c.roundTrip(fe.query('SELECT pg_backend_pid()'));
    return String(dataRow((frames.find((f) => f.type === 'D') as Frame).body)[0]);
  }

  it('is still 42P05, and the old statement still runs there afterwards (catches: the duplicate Parse going through where the server lacks the name, or a 26000)', async () => {
    const { pg, mux } = await pair();
    const sw = env.keep(await Swapper.start(env.front, USER));
    await both(pg, mux, [[[fe.parse('m', "SELECT 'first' AS v"), fe.sync()], 1]]);
    const before = await pidOf(mux);
    await sw.swap();
    expect(await pidOf(mux)).not.toBe(before);
    const got = await both(pg, mux, [
      [[fe.parse('m', "SELECT 'second' AS v"), fe.bind('m'), fe.execute(), fe.sync()], 1],
      [[fe.bind('m'), fe.execute(), fe.sync()], 1],
    ]);
    expect(got).toEqual([EXISTS('m'), 'Z I', '2', 'D ["first"]', 'C SELECT 1', 'Z I']);
  });

  it('a name from SQL PREPARE with type names (which only SQL can prepare) is 42P05 too (catches: the stand-in path answering 26000)', async () => {
    const { pg, mux } = await pair();
    const sw = env.keep(await Swapper.start(env.front, USER));
    await both(pg, mux, [[[fe.query('PREPARE q (int) AS SELECT $1 + 1 AS n')], 1]]);
    await sw.swap();
    const got = await both(pg, mux, [
      [[fe.parse('q', 'SELECT 5 AS n'), fe.sync()], 1],
      [[fe.query('EXECUTE q(1)')], 1],
    ]);
    expect(got).toEqual([EXISTS('q'), 'Z I', 'T n', 'D ["2"]', 'C SELECT 1', 'Z I']);
  });
});

describe('SQL PREPARE of a taken name', () => {
  it('is refused with 42P05, after the body\'s own errors, and the old statement stays (catches: a silent replace, or 42P05 hiding the body\'s error and its position)', async () => {
    const { pg, mux } = await pair();
    const got = await both(pg, mux, [
      [[fe.query('PREPARE a AS SELECT 1 AS n')], 1],
      [[fe.query('PREPARE a AS SELECT 2 AS n')], 1],
      [[fe.query('PREPARE a AS SELECT * FROM no_such_table_dup')], 1],
      [[fe.query('EXECUTE a')], 1],
    ]);
    expect(got).toEqual([
      'C PREPARE', 'Z I',
      EXISTS('a'), 'Z I',
      'E ERROR 42P01 relation "no_such_table_dup" does not exist @28', 'Z I',
      'T n', 'D ["1"]', 'C SELECT 1', 'Z I',
    ]);
  });

  it('protocol and SQL names are one namespace: Parse then PREPARE, and PREPARE then Parse, are both 42P05 (catches: the two kinds of names tracked apart)', async () => {
    const { pg, mux } = await pair();
    const got = await both(pg, mux, [
      [[fe.parse('mixed_p', 'SELECT 1'), fe.sync()], 1],
      [[fe.query('PREPARE mixed_p AS SELECT 2')], 1],
      [[fe.query('PREPARE mixed_s AS SELECT 3')], 1],
      [[fe.parse('mixed_s', 'SELECT 4'), fe.sync()], 1],
    ]);
    expect(got).toEqual(['1', 'Z I', EXISTS('mixed_p'), 'Z I', 'C PREPARE', 'Z I', EXISTS('mixed_s'), 'Z I']);
  });

  it('in an aborted transaction gets 25P02 (catches: 42P05 answered without the server, hiding the failed transaction)', async () => {
    const { pg, mux } = await pair();
    const got = await both(pg, mux, [
      [[fe.query('PREPARE b AS SELECT 1')], 1],
      [[fe.query('BEGIN')], 1],
      [[fe.query('SELECT 1/0')], 1],
      [[fe.query('PREPARE b AS SELECT 2')], 1],
      [[fe.query('ROLLBACK')], 1],
    ]);
    expect(got).toEqual([
      'C PREPARE', 'Z I',
      'C BEGIN', 'Z T',
      'E ERROR 22012 division by zero', 'Z E',
      'E ERROR 25P02 current transaction is aborted, commands ignored until end of transaction block', 'Z E',
      'C ROLLBACK', 'Z I',
    ]);
  });
});
