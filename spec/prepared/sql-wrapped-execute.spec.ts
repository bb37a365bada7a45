// Black-box spec: EXECUTE of a SQL-prepared statement wrapped in another statement,
// `EXPLAIN [ANALYZE] EXECUTE q(..)` and `CREATE TABLE .. AS EXECUTE q(..)`, in transaction
// mode. pgmux gives each client statement a server-side name (lib/prepared/sql-planner), so a
// client name reaching a server as it is never exists there: before this spec, EXPLAIN EXECUTE
// of a statement the client had just prepared failed with 26000 on every server (PgBouncer
// forwards it, and it works whenever the client lands where it prepared). Reading the plan of a
// prepared statement (generic or custom) is how users look at it, psql users above all.
//
// Every script runs straight to PostgreSQL and through pgmux (default_pool_size = 2), and the
// two transcripts must be equal; a Swapper moves the pgmux client to the other server between
// steps, so the wrapped EXECUTE also runs where the statement must be prepared first.

import { both, fe, sideBySide } from './support';

jest.setTimeout(30000);

const USER = 'app_md5';

const env = sideBySide(USER);

const q = (sql: string): [Buffer[], number] => [[fe.query(sql)], 1];

describe('EXECUTE inside EXPLAIN and CREATE TABLE AS', () => {
  it('EXPLAIN EXECUTE, EXPLAIN (options) EXECUTE and EXPLAIN ANALYZE EXECUTE run the client\'s statement, also on a server that must prepare it first (catches: 26000 "prepared statement does not exist" for a statement the client holds)', async () => {
    const { pg, mux, swap } = await env.pair();
    const first = await both(pg, mux, [
      q('PREPARE wx(int) AS SELECT $1 + 1 AS v'),
      q('EXPLAIN (COSTS OFF) EXECUTE wx(1)'),
    ]);
    await swap();
    const again = await both(pg, mux, [
      q('explain (costs off, analyze false) execute wx(2)'),
      q('EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE wx (3)'),
      q('EXPLAIN EXECUTE nosuch'),
    ]);
    expect(first).toEqual(['C PREPARE', 'Z I', 'T QUERY PLAN', 'D ["Result"]', 'C EXPLAIN', 'Z I']);
    expect(again).toEqual([
      'T QUERY PLAN', 'D ["Result"]', 'C EXPLAIN', 'Z I',
      'T QUERY PLAN', 'D ["Result (actual rows=1 loops=1)"]', 'C EXPLAIN', 'Z I',
      'E ERROR 26000 prepared statement "nosuch" does not exist', 'Z I',
    ]);
  });

  it('EXPLAIN EXECUTE among other statements of one Query, and after PREPARE in the same Query (catches: the wrapped EXECUTE renamed only when it is alone)', async () => {
    const { pg, mux, swap } = await env.pair();
    const first = await both(pg, mux, [q('PREPARE wy AS SELECT 7 AS v; EXPLAIN (COSTS OFF) EXECUTE wy; SELECT 1 AS one')]);
    await swap();
    const again = await both(pg, mux, [q('SELECT 2 AS two; EXPLAIN (COSTS OFF) EXECUTE wy')]);
    expect([...first, ...again]).toEqual([
      'C PREPARE', 'T QUERY PLAN', 'D ["Result"]', 'C EXPLAIN', 'T one', 'D ["1"]', 'C SELECT 1', 'Z I',
      'T two', 'D ["2"]', 'C SELECT 1', 'T QUERY PLAN', 'D ["Result"]', 'C EXPLAIN', 'Z I',
    ]);
  });

  it('CREATE TABLE .. AS EXECUTE fills the table from the client\'s statement (catches: 26000 for CREATE TABLE AS EXECUTE)', async () => {
    const { pg, mux, swap } = await env.pair();
    await both(pg, mux, [q('PREPARE wz(int) AS SELECT g AS n FROM generate_series(1, $1) g')]);
    await swap();
    // Each connection its own table: the two sessions share the database.
    const made = await both(pg, mux, [q('BEGIN'), q('CREATE TEMP TABLE wz_t ON COMMIT DROP AS EXECUTE wz(3)'), q('SELECT count(*) AS c FROM wz_t'), q('COMMIT')]);
    expect(made).toEqual(['C BEGIN', 'Z T', 'C SELECT 3', 'Z T', 'T c', 'D ["3"]', 'C SELECT 1', 'Z T', 'C COMMIT', 'Z I']);
  });

  it('an error in the wrapped EXECUTE names the client\'s statement and points into the client\'s text (catches: pgmux\'s server-side name or a caret under pgmux\'s text)', async () => {
    const { pg, mux, swap } = await env.pair();
    await both(pg, mux, [q('PREPARE we(int) AS SELECT $1 AS v')]);
    await swap();
    const got = await both(pg, mux, [q("EXPLAIN EXECUTE we('x')"), q('EXPLAIN EXECUTE we(1, 2)')]);
    expect(got).toEqual([
      'E ERROR 22P02 invalid input syntax for type integer: "x" @20', 'Z I',
      'E ERROR 42601 wrong number of parameters for prepared statement "we" D:Expected 1 parameters but got 2.', 'Z I',
    ]);
  });
});
