// Black-box spec: SQL-level PREPARE / EXECUTE / DEALLOCATE among other statements of one simple
// Query (issue 11, item 3), e.g. `PREPARE q(bigint) AS SELECT …; EXECUTE q(1); DEALLOCATE q`,
// which psql -c and most scripts send as one Query. PostgreSQL runs the statements in order in
// one implicit transaction and stops at the first error; prepared statements are not undone by
// its rollback; a syntax error anywhere runs nothing.
//
// Every script runs twice, straight to PostgreSQL and through pgmux (transaction mode,
// default_pool_size = 2), and the two transcripts (frames, tags, rows, errors with positions,
// transaction status) must be equal; each test also pins PostgreSQL's transcript. A Swapper moves
// the pgmux client between its steps, so statements are prepared again on the other server.

import { both, fe, sideBySide } from './support';

jest.setTimeout(30000);

const USER = 'app_md5';

const env = sideBySide(USER);

const pair = (): ReturnType<typeof env.pair> => env.pair();

const q = (sql: string): [Buffer[], number] => [[fe.query(sql)], 1];

describe('PREPARE, EXECUTE and DEALLOCATE among other statements of one Query', () => {
  it('PREPARE q(bigint) AS SELECT …; EXECUTE q(1); DEALLOCATE q answers as PostgreSQL does, and again on the other server (catches: 0A000 for a Query psql -c sends)', async () => {
    const { pg, mux, swap } = await pair();
    const script = q('PREPARE q(bigint) AS SELECT $1 + 1 AS v; EXECUTE q(1); DEALLOCATE q');
    const first = await both(pg, mux, [script]);
    await swap();
    const again = await both(pg, mux, [script, q('EXECUTE q(1)')]);
    const answer = ['C PREPARE', 'T v', 'D ["2"]', 'C SELECT 1', 'C DEALLOCATE', 'Z I'];
    expect([...first, ...again]).toEqual([...answer, ...answer, 'E ERROR 26000 prepared statement "q" does not exist', 'Z I']);
  });

  it('runs other statements in place, stops at the first error, and keeps what PREPARE created before it (catches: statements reordered, or a statement prepared before the error forgotten)', async () => {
    const { pg, mux, swap } = await pair();
    const got = await both(pg, mux, [
      q("SELECT 'a' AS x; PREPARE a AS SELECT 1 AS v; EXECUTE a; EXECUTE nosuch; SELECT 2"),
      q('SELECT 1/0; PREPARE e AS SELECT 5'),
    ]);
    await swap();
    const after = await both(pg, mux, [q('EXECUTE a; EXECUTE e')]);
    expect([...got, ...after]).toEqual([
      'T x', 'D ["a"]', 'C SELECT 1', 'C PREPARE', 'T v', 'D ["1"]', 'C SELECT 1', 'E ERROR 26000 prepared statement "nosuch" does not exist', 'Z I',
      'E ERROR 22012 division by zero', 'Z I',
      'T v', 'D ["1"]', 'C SELECT 1', 'E ERROR 26000 prepared statement "e" does not exist', 'Z I',
    ]);
  });

  it('reports errors with their positions in the client\'s text, and a syntax error anywhere runs nothing (catches: a caret under pgmux\'s text, or half a Query run)', async () => {
    const { pg, mux } = await pair();
    const got = await both(pg, mux, [
      q('SELECT 1 AS v; PREPARE b AS SELEC 1'),
      q('EXECUTE b'),
      q("PREPARE f(int) AS SELECT $1 AS v; SELECT 'x'; EXECUTE f('nope')"),
      q('PREPARE g AS SELECT * FROM nosuch; SELECT 1'),
      q('SELECT 1; PREPARE f AS SELECT 2; SELECT 3'),
    ]);
    expect(got).toEqual([
      'E ERROR 42601 syntax error at or near "SELEC" @29', 'Z I',
      'E ERROR 26000 prepared statement "b" does not exist', 'Z I',
      'C PREPARE', 'T ?column?', 'D ["x"]', 'C SELECT 1', 'E ERROR 22P02 invalid input syntax for type integer: "nope" @57', 'Z I',
      'E ERROR 42P01 relation "nosuch" does not exist @28', 'Z I',
      'T ?column?', 'D ["1"]', 'C SELECT 1', 'E ERROR 42P05 prepared statement "f" already exists', 'Z I',
    ]);
  });

  it('inside a transaction block, with COMMIT in the same Query, and DEALLOCATE ALL among others (catches: transaction status or names that differ from PostgreSQL)', async () => {
    const { pg, mux, swap } = await pair();
    const got = await both(pg, mux, [
      q('BEGIN; PREPARE c AS SELECT 3 AS v; EXECUTE c'),
      q('EXECUTE c; COMMIT; EXECUTE c'),
      q('DEALLOCATE ALL; PREPARE c AS SELECT 4 AS v; EXECUTE c'),
    ]);
    await swap();
    const after = await both(pg, mux, [q('EXECUTE c; DEALLOCATE c; EXECUTE c')]);
    expect([...got, ...after]).toEqual([
      'C BEGIN', 'C PREPARE', 'T v', 'D ["3"]', 'C SELECT 1', 'Z T',
      'T v', 'D ["3"]', 'C SELECT 1', 'C COMMIT', 'T v', 'D ["3"]', 'C SELECT 1', 'Z I',
      'C DEALLOCATE ALL', 'C PREPARE', 'T v', 'D ["4"]', 'C SELECT 1', 'Z I',
      'T v', 'D ["4"]', 'C SELECT 1', 'C DEALLOCATE', 'E ERROR 26000 prepared statement "c" does not exist', 'Z I',
    ]);
  });
});
