// Black-box spec: SQL-level PREPARE / EXECUTE sent through the extended protocol (an unnamed
// Parse of the SQL text, Bind, Execute, Sync), as pgJDBC sends every Statement.execute() and psql's
// \gdesc describes a query. pgmux rewrote them only in a simple Query, so before this spec an
// extended-protocol `EXECUTE q` reached the server with the client's name: 26000 on every server
// for a statement the client had PREPAREd (pgJDBC: `PREPARE q AS ..` then `EXECUTE q` failed every
// time), \gdesc answered NoData, and an extended-protocol PREPARE left the client's own name on a
// shared server, where another client's PREPARE of that name then failed with 42P05.
//
// Each script runs straight to PostgreSQL and through pgmux (default_pool_size = 2) and the two
// transcripts must be equal; a Swapper moves the pgmux client to the other server between steps,
// so the statement must be prepared again where the EXECUTE lands.

import { both, fe, sideBySide, transcript } from './support';

jest.setTimeout(30000);

const USER = 'app_md5';

const env = sideBySide(USER);

const q = (sql: string): [Buffer[], number] => [[fe.query(sql)], 1];
/** What pgJDBC sends for Statement.execute(sql): unnamed Parse, Bind, Describe portal, Execute, Sync. */
const ext = (sql: string): [Buffer[], number] => [[fe.parse('', sql), fe.bind(''), fe.describe('P', ''), fe.execute(), fe.sync()], 1];
/** What psql's \gdesc sends: unnamed Parse, Describe statement, Sync. */
const gdesc = (sql: string): [Buffer[], number] => [[fe.parse('', sql), fe.describe('S', ''), fe.sync()], 1];

describe('SQL PREPARE and EXECUTE through the extended protocol', () => {
  it('EXECUTE of a statement PREPAREd in a simple Query runs it, described and executed, also on the other server (catches: 26000 for the client\'s own statement)', async () => {
    const { pg, mux, swap } = await env.pair();
    const first = await both(pg, mux, [q('PREPARE xa AS SELECT 6 AS six'), ext('EXECUTE xa')]);
    await swap();
    const again = await both(pg, mux, [ext('EXECUTE xa'), gdesc('EXECUTE xa'), ext('EXPLAIN (COSTS OFF) EXECUTE xa'), ext('EXECUTE nosuch')]);
    expect(first).toEqual(['C PREPARE', 'Z I', '1', '2', 'T six', 'D ["6"]', 'C SELECT 1', 'Z I']);
    expect(again).toEqual([
      '1', '2', 'T six', 'D ["6"]', 'C SELECT 1', 'Z I',
      '1', 't', 'T six', 'Z I',
      '1', '2', 'T QUERY PLAN', 'D ["Result"]', 'C EXPLAIN', 'Z I',
      '1', '2', 'n', 'E ERROR 26000 prepared statement "nosuch" does not exist', 'Z I',
    ]);
  });

  it('PREPARE through the extended protocol is the client\'s, seen by both protocols on any server, and DEALLOCATE drops it (catches: the client\'s name left on one shared server)', async () => {
    const { pg, mux, swap } = await env.pair();
    const first = await both(pg, mux, [ext('PREPARE xb AS SELECT $1::int * 10 AS v'), ext('EXECUTE xb(1)')]);
    await swap();
    const again = await both(pg, mux, [ext('EXECUTE xb(2)'), q('EXECUTE xb(3)'), ext('PREPARE xb AS SELECT 1'), ext('DEALLOCATE xb'), ext('EXECUTE xb(4)')]);
    expect(first).toEqual(['1', '2', 'n', 'C PREPARE', 'Z I', '1', '2', 'T v', 'D ["10"]', 'C SELECT 1', 'Z I']);
    expect(again).toEqual([
      '1', '2', 'T v', 'D ["20"]', 'C SELECT 1', 'Z I',
      'T v', 'D ["30"]', 'C SELECT 1', 'Z I',
      '1', '2', 'n', 'E ERROR 42P05 prepared statement "xb" already exists', 'Z I',
      '1', '2', 'n', 'C DEALLOCATE', 'Z I',
      '1', '2', 'n', 'E ERROR 26000 prepared statement "xb" does not exist', 'Z I',
    ]);
    // No server holds the client's name: another client may PREPARE xb wherever it lands.
    const other = await env.pair(false);
    await both(other.pg, other.mux, [ext('PREPARE xb AS SELECT 2 AS two'), ext('EXECUTE xb')]);
  });

  it('an error of the EXECUTE names the client\'s statement (catches: pgmux\'s server-side name in the message)', async () => {
    const { pg, mux, swap } = await env.pair();
    await both(pg, mux, [q('PREPARE xc AS SELECT $1::int AS v')]);
    await swap();
    const got = await both(pg, mux, [ext('EXECUTE xc(1, 2)'), ext("EXECUTE xc('nope')")]);
    expect(got).toEqual([
      '1', '2', 'T v', 'E ERROR 42601 wrong number of parameters for prepared statement "xc" D:Expected 1 parameters but got 2.', 'Z I',
      '1', '2', 'T v', 'E ERROR 22P02 invalid input syntax for type integer: "nope" @12', 'Z I',
    ]);
  });

  it('a statement PREPAREd with a type list runs where the server holds it, and elsewhere gets a clear 0A000 instead of a wrong "does not exist" (catches: a client name sent raw)', async () => {
    const { pg, mux, swap } = await env.pair();
    const here = await both(pg, mux, [ext('PREPARE xd (int) AS SELECT $1 * 2 AS v'), ext('EXECUTE xd(4)')]);
    expect(here).toEqual(['1', '2', 'n', 'C PREPARE', 'Z I', '1', '2', 'T v', 'D ["8"]', 'C SELECT 1', 'Z I']);
    await swap();
    const [frames, syncs] = ext('EXECUTE xd(5)');
    const there = await transcript(mux, frames, syncs);
    expect(there).toEqual(['1', '2', 'n', expect.stringMatching(/^E ERROR 0A000 prepared statement "xd" has a type list/), 'Z I']);
    // In a simple Query pgmux prepares it again anywhere.
    expect(await transcript(mux, [fe.query('EXECUTE xd(5)')], 1)).toEqual(['T v', 'D ["10"]', 'C SELECT 1', 'Z I']);
  });
});
