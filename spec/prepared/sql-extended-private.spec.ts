// Black-box spec: a client's SQL-level prepared statement names stay its own when they come
// through the extended protocol. With default_pool_size = 1 two clients share one server; client
// A prepares `x` with an extended-protocol Parse whose text is `PREPARE x AS ..` (named, unnamed,
// with parameter types, or wrapped further than pgmux recognises), and client B, which never
// prepared `x`, sends `EXECUTE x` (alone, or inside EXPLAIN / CREATE TABLE AS). B must get exactly
// what PostgreSQL gives a session without `x` (26000 and its text), and A's `EXECUTE x` must still
// run its statement. Straight-to-PostgreSQL transcripts are the reference.

import { startCluster, type Cluster } from '../support/cluster';
import { fe, RawClient, startFront, transcript, type Front } from './support';

jest.setTimeout(30000);

const USER = 'app_md5';

let cluster: Cluster;
let front: Front;
const open: RawClient[] = [];

beforeAll(async () => {
  cluster = await startCluster();
  front = await startFront(cluster, [USER], { default_pool_size: 1 });
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close().catch(() => undefined)));
});

afterAll(async () => {
  await front?.stop();
  await cluster?.stop();
});

async function login(port: number): Promise<RawClient> {
  const c = await RawClient.login(port, USER, cluster.password);
  open.push(c);
  return c;
}

type Step = [Buffer[], number];
const q = (sql: string): Step => [[fe.query(sql)], 1];
/** pgJDBC's Statement.execute: unnamed Parse, Bind, Describe portal, Execute, Sync. */
const ext = (sql: string): Step => [[fe.parse('', sql), fe.bind(''), fe.describe('P', ''), fe.execute(), fe.sync()], 1];
/** A named Parse of the SQL text, then Bind of it, Execute, Sync. */
const named = (name: string, sql: string): Step => [[fe.parse(name, sql), fe.bind(name), fe.execute(), fe.sync()], 1];
/** An unnamed Parse declaring a parameter type (the statement's own, unused by a PREPARE), and a Describe of it. */
const typed = (sql: string): Step => [[fe.parse('', sql, [23]), fe.describe('S', ''), fe.sync()], 1];

async function run(c: RawClient, steps: Step[]): Promise<string[]> {
  const out: string[] = [];
  for (const [bytes, syncs] of steps) out.push(...(await transcript(c, bytes, syncs)));
  return out;
}

/** Runs A's steps then B's, on two fresh sessions straight to PostgreSQL and two through pgmux; returns [A, B] transcripts after checking they match. */
async function pairs(a: Step[], b: Step[]): Promise<[string[], string[]]> {
  const pgA = await login(cluster.primary.port);
  const pgB = await login(cluster.primary.port);
  const muxA = await login(front.port);
  const muxB = await login(front.port);
  const directA = await run(pgA, a);
  const directB = await run(pgB, b);
  const pooledA = await run(muxA, a);
  const pooledB = await run(muxB, b);
  expect({ a: pooledA, b: pooledB }).toEqual({ a: directA, b: directB });
  return [directA, directB];
}

const MISSING = (name: string): string[] => ['1', '2', 'n', `E ERROR 26000 prepared statement "${name}" does not exist`, 'Z I'];

describe('SQL prepared statement names are private to a client over the extended protocol', () => {
  it('B\'s extended EXECUTE of a name A PREPAREd in an unnamed Parse gets 26000, EXPLAIN described as PostgreSQL does; A\'s still runs (catches: B running A\'s statement)', async () => {
    const [a, b] = await pairs(
      [ext('PREPARE pa AS SELECT 1 AS one'), ext('EXECUTE pa')],
      [ext('EXECUTE pa'), q('EXECUTE pa'), ext('EXPLAIN (COSTS OFF) EXECUTE pa')],
    );
    expect(a).toEqual(['1', '2', 'n', 'C PREPARE', 'Z I', '1', '2', 'T one', 'D ["1"]', 'C SELECT 1', 'Z I']);
    expect(b).toEqual([...MISSING('pa'), 'E ERROR 26000 prepared statement "pa" does not exist', 'Z I', '1', '2', 'T QUERY PLAN', 'E ERROR 26000 prepared statement "pa" does not exist', 'Z I']);
  });

  it('a named Parse of PREPARE or EXECUTE is refused with 0A000 and leaves no name on the server; B still gets 26000 (catches: the PREPARE sent to the shared server as it was)', async () => {
    const a = await login(front.port);
    const b = await login(front.port);
    const refused = await run(a, [named('s1', 'PREPARE pb AS SELECT 2 AS two'), named('s2', 'EXPLAIN (COSTS OFF) EXECUTE pb')]);
    expect(refused).toEqual([
      expect.stringMatching(/^E ERROR 0A000 prepared statement "s1" would run SQL PREPARE/), 'Z I',
      expect.stringMatching(/^E ERROR 0A000 prepared statement "s2" would run SQL PREPARE/), 'Z I',
    ]);
    // The refused statement was never created, as after a failed Parse in PostgreSQL.
    expect(await run(a, [[[fe.bind('s1'), fe.execute(), fe.sync()], 1]])).toEqual(['E ERROR 26000 prepared statement "s1" does not exist', 'Z I']);
    expect(await run(b, [ext('EXECUTE pb'), q('EXECUTE pb'), named('s3', 'EXECUTE pb')])).toEqual([
      ...MISSING('pb'), 'E ERROR 26000 prepared statement "pb" does not exist', 'Z I',
      expect.stringMatching(/^E ERROR 0A000 prepared statement "s3" would run SQL PREPARE/), 'Z I',
    ]);
    // The unnamed form works for A, through both protocols.
    expect(await run(a, [ext('PREPARE pb AS SELECT 2 AS two'), ext('EXECUTE pb'), q('EXECUTE pb')])).toEqual([
      '1', '2', 'n', 'C PREPARE', 'Z I', '1', '2', 'T two', 'D ["2"]', 'C SELECT 1', 'Z I', 'T two', 'D ["2"]', 'C SELECT 1', 'Z I',
    ]);
  });

  it('B\'s EXECUTE of a name A PREPAREd in an unnamed Parse with parameter types gets 26000 (catches: a typed Parse sent as it was)', async () => {
    const [a, b] = await pairs(
      [typed('PREPARE pc AS SELECT 3 AS three'), [[fe.bind('', ['1']), fe.execute(), fe.sync()], 1], ext('EXECUTE pc')],
      [ext('EXECUTE pc'), q('EXECUTE pc'), ext('EXPLAIN (COSTS OFF) CREATE TEMP TABLE tc AS EXECUTE pc')],
    );
    expect(a).toEqual(['1', 't', 'n', 'Z I', '2', 'C PREPARE', 'Z I', '1', '2', 'T three', 'D ["3"]', 'C SELECT 1', 'Z I']);
    expect(b).toEqual([...MISSING('pc'), 'E ERROR 26000 prepared statement "pc" does not exist', 'Z I', '1', '2', 'T QUERY PLAN', 'E ERROR 26000 prepared statement "pc" does not exist', 'Z I']);
  });

  it('EXPLAIN of CREATE TABLE AS EXECUTE runs A\'s statement for A and gets 26000 for B (catches: a nesting pgmux does not recognise sent as it was)', async () => {
    const [a, b] = await pairs(
      [ext('PREPARE pd AS SELECT 4 AS four'), ext('EXPLAIN (COSTS OFF) CREATE TEMP TABLE td AS EXECUTE pd')],
      [ext('EXPLAIN (COSTS OFF) CREATE TEMP TABLE td AS EXECUTE pd'), q('EXPLAIN (COSTS OFF) CREATE TEMP TABLE td AS EXECUTE pd')],
    );
    expect(a.slice(5)).toEqual(['1', '2', 'T QUERY PLAN', 'D ["Result"]', 'C EXPLAIN', 'Z I']);
    expect(b).toEqual(['1', '2', 'T QUERY PLAN', 'E ERROR 26000 prepared statement "pd" does not exist', 'Z I', 'E ERROR 26000 prepared statement "pd" does not exist', 'Z I']);
  });

  it('no server keeps a client-chosen SQL name, also after the client leaves (catches: a raw name left for the next client)', async () => {
    const a = await login(front.port);
    await run(a, [ext('PREPARE pe AS SELECT 5'), named('s2', 'PREPARE pf AS SELECT 6'), typed('PREPARE pg AS SELECT 7'), [[fe.bind('', ['1']), fe.execute(), fe.sync()], 1], q('PREPARE ph AS SELECT 8')]);
    const b = await login(front.port);
    const held = await run(b, [q("SELECT count(*) FROM pg_prepared_statements WHERE name IN ('pe', 'pf', 'pg', 'ph')")]);
    expect(held).toEqual(['T count', 'D ["0"]', 'C SELECT 1', 'Z I']);
    await a.close();
    const after = await run(b, [q("SELECT count(*) FROM pg_prepared_statements WHERE name IN ('pe', 'pf', 'pg', 'ph')")]);
    expect(after).toEqual(['T count', 'D ["0"]', 'C SELECT 1', 'Z I']);
  });
});
