// Specs for the result cache (issue 15) on a real PostgreSQL: answers byte-identical to the
// server's for the simple and extended protocols, a key that keeps clients with different
// session parameters apart, invalidation by a committed write through pgmux (another client's,
// and the client's own read_your_writes scope), TTL, answers pgmux must never keep (time
// functions, too large, inside a transaction). A write made directly on PostgreSQL, past pgmux,
// is how a spec tells a cached answer from a fresh one: only the cache can still show the old row.

import { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { startPgmux, type PgmuxProcess } from '../support/pgmux';
import { freePort } from '../support/ports';
import { cstr, frame, i16, i32 } from '../support/bytes';
import { RawClient, msg, rowsOf, type Frame } from '../support/wire';
import { until } from '../routing/support';
import { admin, rulesIni, userlist, type RulesSetup } from './support';

let cluster: Cluster;
let pgmux: PgmuxProcess;
let setup: RulesSetup;
const clients: Client[] = [];
const raws: RawClient[] = [];

const RULES =
  "hot = regex='FROM items' cache_ttl=60s\n" +
  "short = regex='FROM ttl_items' cache_ttl=1s\n" +
  "big = regex='FROM big' cache_ttl=60s\n" +
  "clock = regex='now\\(\\)|random\\(\\)|current_date' cache_ttl=60s\n";

async function connect(): Promise<Client> {
  const c = new Client({ host: '127.0.0.1', port: setup.port, user: 'app', password: cluster.password, database: 'plain' });
  await c.connect();
  clients.push(c);
  return c;
}

async function raw(params: Record<string, string> = {}): Promise<RawClient> {
  const c = await RawClient.open(setup.port);
  await c.login(msg.startup({ user: 'app', database: 'plain', ...params }), 'app', cluster.password);
  raws.push(c);
  return c;
}

/** A write past pgmux (on a connection straight to PostgreSQL): only a cached answer still shows what it changed. */
let direct: Client;
function behindPgmux(sql: string): Promise<unknown> {
  return direct.query(sql);
}

async function cacheRow(): Promise<Record<string, number>> {
  const row = (await admin(pgmux, setup, 'SHOW CACHE')).find((r) => r.database === 'plain') ?? {};
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v)]));
}

const bytesOf = (frames: readonly Frame[]): Buffer => Buffer.concat(frames.map((f) => f.bytes));

/** Parse (unnamed), Bind with one text parameter, Describe portal, Execute, Sync. */
function extended(sql: string, param: string): Buffer {
  const value = Buffer.from(param);
  return Buffer.concat([
    msg.parse(sql),
    frame('B', cstr(''), cstr(''), i16(0), i16(1), i32(value.length), value, i16(0)),
    msg.describePortal(),
    msg.execute(),
    msg.sync(),
  ]);
}

beforeAll(async () => {
  cluster = await startCluster();
  await cluster.query(
    cluster.primary,
    "CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 20) g; " +
      "CREATE TABLE ttl_items (id int, v text); INSERT INTO ttl_items VALUES (1, 'old'); " +
      'CREATE TABLE big (id int); INSERT INTO big SELECT generate_series(1, 5000); ' +
      'CREATE TABLE other (id int); ' +
      "CREATE FUNCTION touch_items() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN UPDATE items SET v = 'by trigger' WHERE id = 9; RETURN NEW; END$$; " +
      'CREATE TRIGGER other_touches AFTER INSERT ON other FOR EACH ROW EXECUTE FUNCTION touch_items(); ' +
      'GRANT ALL ON items, ttl_items, big, other TO app',
  );
  direct = new Client({ host: cluster.primary.host, port: cluster.primary.port, user: 'postgres', password: cluster.password, database: 'app' });
  await direct.connect();
  setup = { cluster, port: await freePort(), settings: 'result_cache_size = 1048576\nresult_cache_max_answer = 20000\n' };
  pgmux = await startPgmux(rulesIni(setup, RULES), userlist(cluster));
  // The catalog facts are fetched when the first cacheable statement asks: until they arrive nothing is kept.
  const c = await connect();
  await until('the first cached answer', async () => {
    await c.query('SELECT v FROM items WHERE id = 20');
    return ((await cacheRow()).stores ?? 0) > 0;
  });
}, 60000);

afterAll(async () => {
  for (const c of clients) await c.end().catch(() => undefined);
  for (const c of raws) c.destroy();
  await direct?.end().catch(() => undefined);
  await pgmux?.stop();
  await cluster?.stop();
});

describe('result cache', () => {
  /** A cached answer must be the server's bytes exactly (RowDescription, DataRows, CommandComplete, ReadyForQuery). */
  it('answers the simple protocol with the bytes the server sent', async () => {
    const c = await raw();
    const sql = 'SELECT id, v FROM items WHERE id = 1';
    const first = await c.roundTrip(msg.query(sql));
    await behindPgmux("UPDATE items SET v = 'changed behind pgmux' WHERE id = 1");
    const before = await cacheRow();
    const second = await c.roundTrip(msg.query(sql));
    expect(bytesOf(second).equals(bytesOf(first))).toBe(true);
    expect(rowsOf(second)).toEqual([['1', 'v1']]);
    expect((await cacheRow()).hits).toBe(before.hits + 1);
  });

  /** The same for Parse/Bind/Describe/Execute/Sync, keyed by the parameters: another value is another answer. */
  it('answers the extended protocol byte for byte, per parameter value', async () => {
    const c = await raw();
    const sql = 'SELECT id, v FROM items WHERE id = $1::int';
    const first = await c.roundTrip(extended(sql, '2'));
    await behindPgmux("UPDATE items SET v = 'changed behind pgmux' WHERE id IN (2, 3)");
    const second = await c.roundTrip(extended(sql, '2'));
    expect(bytesOf(second).equals(bytesOf(first))).toBe(true);
    expect(rowsOf(second)).toEqual([['2', 'v2']]);
    expect(rowsOf(await c.roundTrip(extended(sql, '3')))).toEqual([['3', 'changed behind pgmux']]);
  });

  /**
   * node-postgres's named prepared statements run as Bind/Execute of a name pgmux tracks: cached
   * from the second execution (the first one's Parse prepares the name, and is never answered
   * from the cache, or the client's next Bind would find nothing on the server).
   */
  it('caches a named prepared statement executed again', async () => {
    const c = await connect();
    const q = { name: 'item', text: 'SELECT v FROM items WHERE id = $1', values: [4] };
    expect((await c.query(q)).rows).toEqual([{ v: 'v4' }]);
    expect((await c.query(q)).rows).toEqual([{ v: 'v4' }]);
    await behindPgmux("UPDATE items SET v = 'changed behind pgmux' WHERE id = 4");
    expect((await c.query(q)).rows).toEqual([{ v: 'v4' }]);
  });

  /** Another client's committed write through pgmux must drop the answers that read its table. */
  it("drops an answer when another client's write to a table it read commits", async () => {
    const reader = await connect();
    const writer = await connect();
    const sql = 'SELECT v FROM items WHERE id = 5';
    expect((await reader.query(sql)).rows).toEqual([{ v: 'v5' }]);
    expect((await reader.query(sql)).rows).toEqual([{ v: 'v5' }]);
    const before = await cacheRow();
    await writer.query("UPDATE items SET v = 'written through pgmux' WHERE id = 5");
    expect((await cacheRow()).invalidations).toBeGreaterThan(before.invalidations);
    expect((await reader.query(sql)).rows).toEqual([{ v: 'written through pgmux' }]);
    // In an explicit transaction the write counts once it commits.
    await writer.query('BEGIN');
    await writer.query("UPDATE items SET v = 'in a transaction' WHERE id = 5");
    await writer.query('COMMIT');
    expect((await reader.query(sql)).rows).toEqual([{ v: 'in a transaction' }]);
  });

  /**
   * A write pgmux cannot attribute to the table (a trigger on another table changes it) must
   * still never hide the writer's own change from the writer: its read_your_writes scope has a
   * newer write than the cached answer (which other clients may be served until its TTL).
   */
  it("never serves a client an answer older than its own write", async () => {
    const writer = await connect();
    const bystander = await connect();
    const sql = 'SELECT v FROM items WHERE id = 9';
    expect((await writer.query(sql)).rows).toEqual([{ v: 'v9' }]);
    expect((await bystander.query(sql)).rows).toEqual([{ v: 'v9' }]);
    await writer.query('INSERT INTO other VALUES (1)');
    expect((await writer.query(sql)).rows).toEqual([{ v: 'by trigger' }]);
  });

  /** TimeZone changes the text of a timestamptz: clients with different values must not share an answer. */
  it('keys answers by the session parameters that change them', async () => {
    const sql = "SELECT id, '2020-01-01 00:00:00+00'::timestamptz::text AS t FROM items WHERE id = 6";
    const utc = await raw({ TimeZone: 'UTC' });
    const tokyo = await raw({ TimeZone: 'Asia/Tokyo' });
    expect(rowsOf(await utc.roundTrip(msg.query(sql)))).toEqual([['6', '2020-01-01 00:00:00+00']]);
    expect(rowsOf(await utc.roundTrip(msg.query(sql)))).toEqual([['6', '2020-01-01 00:00:00+00']]);
    expect(rowsOf(await tokyo.roundTrip(msg.query(sql)))).toEqual([['6', '2020-01-01 09:00:00+09']]);
  });

  /** After cache_ttl (1 s here) the answer is read again. */
  it('drops an answer at its TTL', async () => {
    const c = await connect();
    const sql = 'SELECT v FROM ttl_items WHERE id = 1';
    const stored = Date.now();
    expect((await c.query(sql)).rows).toEqual([{ v: 'old' }]);
    await behindPgmux("UPDATE ttl_items SET v = 'new'");
    expect((await c.query(sql)).rows).toEqual([{ v: 'old' }]);
    // Asked again until the server's answer comes back: the cached one until the TTL, never after.
    const seen: string[] = [];
    await until('the cached answer to expire', async () => {
      seen.push(String((await c.query(sql)).rows[0].v));
      return seen[seen.length - 1] === 'new';
    });
    const expiredAfter = Date.now() - stored;
    expect(seen.slice(0, -1).every((v) => v === 'old')).toBe(true);
    expect(expiredAfter).toBeGreaterThanOrEqual(1000);
    expect(expiredAfter).toBeLessThan(3000);
  });

  /** now(), random() and current_date give another answer each time: a rule asking to cache them must not. */
  it('never caches an answer that depends on time or chance', async () => {
    const c = await connect();
    const before = await cacheRow();
    const a = (await c.query('SELECT random() AS r')).rows[0].r;
    const b = (await c.query('SELECT random() AS r')).rows[0].r;
    expect(a).not.toBe(b);
    await c.query('SELECT now()');
    await c.query('SELECT now()');
    await c.query('SELECT current_date');
    const after = await cacheRow();
    expect(after.hits).toBe(before.hits);
    expect(after.uncacheable).toBeGreaterThanOrEqual(before.uncacheable + 5);
  });

  /** An answer over result_cache_max_answer is passed on whole and not kept. */
  it('does not keep answers larger than result_cache_max_answer', async () => {
    const c = await connect();
    const before = await cacheRow();
    expect((await c.query('SELECT id FROM big')).rows).toHaveLength(5000);
    expect((await c.query('SELECT id FROM big')).rows).toHaveLength(5000);
    const after = await cacheRow();
    expect(after.hits).toBe(before.hits);
    expect(after.not_stored).toBeGreaterThanOrEqual(before.not_stored + 2);
  });

  /** Inside a transaction the client must see the transaction's own snapshot, never a cached answer. */
  it('never answers from the cache inside a transaction', async () => {
    const c = await connect();
    const sql = 'SELECT v FROM items WHERE id = 7';
    expect((await c.query(sql)).rows).toEqual([{ v: 'v7' }]);
    await behindPgmux("UPDATE items SET v = 'changed behind pgmux' WHERE id = 7");
    expect((await c.query(sql)).rows).toEqual([{ v: 'v7' }]);
    await c.query('BEGIN');
    expect((await c.query(sql)).rows).toEqual([{ v: 'changed behind pgmux' }]);
    await c.query('COMMIT');
  });

  /** The pgmux:cache hint opts a statement in without any rule. */
  it('caches a statement carrying the pgmux:cache hint', async () => {
    const c = await connect();
    const sql = '/* pgmux:cache ttl=30s */ SELECT count(*)::int AS n FROM other';
    const n = (await c.query(sql)).rows[0].n as number;
    await behindPgmux('INSERT INTO other VALUES (2)');
    expect((await c.query(sql)).rows).toEqual([{ n }]);
    expect((await c.query('SELECT count(*)::int AS n FROM other')).rows).toEqual([{ n: n + 1 }]);
  });

  it('reports entries, bytes and counters in SHOW CACHE', async () => {
    const row = await cacheRow();
    expect(row.entries).toBeGreaterThan(0);
    expect(row.bytes).toBeGreaterThan(0);
    expect(row.max_bytes).toBe(1048576);
    expect(row.hits).toBeGreaterThan(0);
    expect(row.misses).toBeGreaterThan(0);
  });
});
