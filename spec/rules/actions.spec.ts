// Specs for the [rules] actions with real clients on a real primary and streaming replica (issue
// 15): deny, statement_timeout, rate and route, a rule reload while clients are connected, and
// SHOW RULES / SHOW ROUTE. One cluster and one pgmux for the file; the reload spec puts the rules
// back as it found them.

import { Client } from 'pg';
import { startCluster, type Cluster } from '../support/cluster';
import { startPgmux, type PgmuxProcess } from '../support/pgmux';
import { freePort } from '../support/ports';
import { RawClient, errorFields, msg, rowsOf } from '../support/wire';
import { ranOn, until, R } from '../routing/support';
import { admin, failure, reloadRules, rulesIni, userlist, type RulesSetup } from './support';

let cluster: Cluster;
let pgmux: PgmuxProcess;
let setup: RulesSetup;
const clients: Client[] = [];

const RULES =
  "no_drop = user=app kind=drop deny=yes sqlstate=42501 message='DROP is not allowed through pgmux'\n" +
  "no_secret = regex='secret_table' deny=yes message='secret_table is off limits'\n" +
  "not_local = address=10.0.0.0/8 regex='addr_probe' deny=yes message='from 10/8'\n" +
  "local_only = address=127.0.0.1/32,::1 regex='addr_probe' deny=yes message='from loopback'\n" +
  "slow = regex='/\\* slow \\*/' statement_timeout=300ms\n" +
  'throttle = application_name=batch rate=2/s burst=2 rate_wait=0\n' +
  'throttle_wait = application_name=batchwait rate=5/s burst=1 rate_wait=2s\n' +
  "vol_to_replica = regex='volatile_fn' route=replica\n" +
  "force_primary = regex='/\\* force \\*/' route=primary\n" +
  "replica_cached = regex='replica_cache_probe' cache_ttl=60s\n" +
  "primary_cached = regex='primary_cache_probe' cache_ttl=60s route=primary\n";

async function connect(opts: { db?: string; app?: string } = {}): Promise<Client> {
  const c = new Client({
    host: '127.0.0.1',
    port: setup.port,
    user: 'app',
    password: cluster.password,
    database: opts.db ?? 'plain',
    application_name: opts.app,
  });
  await c.connect();
  clients.push(c);
  return c;
}

beforeAll(async () => {
  cluster = await startCluster({ replica: true });
  await cluster.query(
    cluster.primary,
    'CREATE TABLE keepme (id int); CREATE TABLE secret_table (id int); CREATE TABLE log (v text); ' +
      'GRANT ALL ON keepme, secret_table, log TO app; ' +
      'CREATE FUNCTION volatile_fn() RETURNS int VOLATILE LANGUAGE sql AS $$SELECT 1$$',
  );
  await cluster.waitForReplay();
  setup = { cluster, port: await freePort(), settings: 'result_cache_size = 1048576\n' };
  pgmux = await startPgmux(rulesIni(setup, RULES), userlist(cluster));
  const c = await connect({ db: 'app' });
  await until('the replica to be up', async () => (await admin(pgmux, setup, 'SHOW REPLICAS')).some((r) => r.database === 'app' && r.state === 'up'));
  await c.query('SELECT 1');
}, 90000);

afterAll(async () => {
  for (const c of clients) await c.end().catch(() => undefined);
  await pgmux?.stop();
  await cluster?.stop();
});

describe('deny', () => {
  /** A DROP that reached the server would drop the table; one answered as a FATAL would end the session. */
  it("refuses with the rule's SQLSTATE and message, and the session goes on", async () => {
    const c = await connect();
    expect(await failure(c.query('DROP TABLE keepme'))).toMatchObject({ code: '42501', message: 'DROP is not allowed through pgmux' });
    expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    const still = await cluster.query(cluster.primary, "SELECT to_regclass('keepme') IS NOT NULL AS there");
    expect(still.rows[0].there).toBe(true);
  });

  /** The extended protocol (unnamed and named statements) must be refused the same way, and later statements still work. */
  it('refuses a statement in the extended protocol, named or not', async () => {
    const c = await connect();
    expect(await failure(c.query('SELECT * FROM secret_table WHERE id = $1', [1]))).toMatchObject({ code: '42501', message: 'secret_table is off limits' });
    expect(await failure(c.query({ name: 'sec', text: 'SELECT * FROM secret_table WHERE id = $1', values: [1] }))).toMatchObject({ code: '42501' });
    expect((await c.query({ name: 'fine', text: 'SELECT $1::int AS x', values: [7] })).rows).toEqual([{ x: 7 }]);
  });

  /** As PostgreSQL does for any error, a denied statement aborts the transaction: nothing before it may commit. */
  it('aborts the transaction it is in, as an error from PostgreSQL would', async () => {
    const c = await connect();
    await c.query('BEGIN');
    await c.query("INSERT INTO log VALUES ('in the aborted transaction')");
    expect(await failure(c.query('SELECT * FROM secret_table'))).toMatchObject({ code: '42501', message: 'secret_table is off limits' });
    expect(await failure(c.query('SELECT 1'))).toMatchObject({ code: '25P02' });
    await c.query('ROLLBACK');
    const rows = await cluster.query(cluster.primary, "SELECT count(*)::int AS n FROM log WHERE v = 'in the aborted transaction'");
    expect(rows.rows[0].n).toBe(0);
  });

  /** Answers must stay in order when a denied statement is pipelined between two others. */
  it('keeps pipelined answers in order around a denied statement', async () => {
    const raw = await RawClient.login(setup.port, 'app', cluster.password, 'plain');
    try {
      await raw.send(Buffer.concat([msg.query('SELECT 1'), msg.query('SELECT * FROM secret_table'), msg.query('SELECT 2')]));
      const first = await raw.until('Z');
      expect(rowsOf(first)).toEqual([['1']]);
      // until() fails on an error frame: read the rest frame by frame.
      const frames = [];
      for (;;) {
        const f = await raw.next();
        frames.push(f);
        if (f.type === 'Z' && frames.filter((x) => x.type === 'Z').length === 2) break;
      }
      const error = frames.find((f) => f.type === 'E');
      expect(error === undefined ? null : errorFields(error.body)).toMatchObject({ C: '42501', M: 'secret_table is off limits', S: 'ERROR' });
      expect(rowsOf(frames)).toEqual([['2']]);
    } finally {
      raw.destroy();
    }
  });

  /** address= is the client's own: a rule for 10/8 must not touch a loopback client, one for loopback must. */
  it('matches the client address and CIDR networks', async () => {
    const c = await connect();
    expect(await failure(c.query("SELECT 'addr_probe'"))).toMatchObject({ code: '42501', message: 'from loopback' });
  });
});

describe('statement_timeout', () => {
  /** Without the rule the sleep would run 3 s; the code must be PostgreSQL's 57014 and the session must go on. */
  it('cancels a statement past its rule timeout with 57014, simple and extended protocol', async () => {
    const c = await connect();
    let t = Date.now();
    const simple = await failure(c.query('/* slow */ SELECT pg_sleep(3)'));
    expect(simple).toMatchObject({ code: '57014', message: 'canceling statement due to statement timeout' });
    expect(Date.now() - t).toBeLessThan(2000);
    t = Date.now();
    const extended = await failure(c.query('/* slow */ SELECT pg_sleep($1)', [3]));
    expect(extended).toMatchObject({ code: '57014' });
    expect(Date.now() - t).toBeLessThan(2000);
    expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  /** The timeout belongs to the statement that matched: a later statement without the tag runs to its end. */
  it('leaves statements the rule does not match alone', async () => {
    const c = await connect();
    await failure(c.query('/* slow */ SELECT pg_sleep(3)'));
    const t = Date.now();
    await c.query('SELECT pg_sleep(0.6)');
    expect(Date.now() - t).toBeGreaterThanOrEqual(550);
  });

  /** Inside a transaction the cancel aborts it, as statement_timeout does in PostgreSQL. */
  it('works inside a transaction', async () => {
    const c = await connect();
    await c.query('BEGIN');
    expect(await failure(c.query('/* slow */ SELECT pg_sleep(3)'))).toMatchObject({ code: '57014' });
    expect(await failure(c.query('SELECT 1'))).toMatchObject({ code: '25P02' });
    await c.query('ROLLBACK');
    expect((await c.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
  });
});

describe('rate', () => {
  /** Beyond the burst, with no wait allowed, a statement gets 53400 naming the rule; the session goes on. */
  it('refuses statements beyond the rate with an error naming the rule', async () => {
    const c = await connect({ app: 'batch' });
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await failure(c.query('SELECT 1')));
    const refused = results.filter((r) => r !== null);
    expect(results.slice(0, 2)).toEqual([null, null]);
    expect(refused.length).toBeGreaterThanOrEqual(2);
    expect(refused[0]).toMatchObject({ code: '53400' });
    expect(refused[0]?.message).toContain('"throttle"');
    // Another application is not throttled by this rule.
    const other = await connect({ app: 'web' });
    for (let i = 0; i < 5; i++) expect(await failure(other.query('SELECT 1'))).toBeNull();
  });

  /** Within rate_wait a statement waits for its token instead of failing: 5/s paces six statements over a second. */
  it('makes statements wait for a token within rate_wait', async () => {
    const c = await connect({ app: 'batchwait' });
    const t = Date.now();
    for (let i = 0; i < 6; i++) expect(await failure(c.query('SELECT 1'))).toBeNull();
    expect(Date.now() - t).toBeGreaterThanOrEqual(900);
  });
});

describe('route', () => {
  /** volatile_fn keeps a statement on the primary; the rule vouches for it and sends it to the replica. */
  it('overrides the classifier: route=replica for a function call, route=primary for a read', async () => {
    const c = await connect({ db: 'app' });
    expect(await ranOn(cluster, c, `SELECT volatile_fn(), ${R}`)).toBe('replica');
    expect(await ranOn(cluster, c, `/* force */ SELECT ${R}`)).toBe('primary');
    expect(await ranOn(cluster, c, `SELECT ${R}`)).toBe('replica');
  });

  /**
   * SHOW ROUTE must say which rules act and what they do (rules that depend on who the client is
   * are listed with that condition, and matching goes on past them), and give the fingerprint a
   * rule can match.
   */
  it('names the rules and their actions in SHOW ROUTE', async () => {
    const rows = await admin(pgmux, setup, 'SHOW ROUTE SELECT volatile_fn()');
    const app = rows.find((r) => r.database === 'app');
    expect(app).toMatchObject({ route: 'replica', reason: 'replica: rule vol_to_replica', rule: 'throttle, throttle_wait, vol_to_replica' });
    expect(app?.rule_actions).toBe(
      'throttle: rate=2/s burst=2 by rule wait 0ms (when application_name=batch); ' +
        'throttle_wait: rate=5/s burst=1 by rule wait 2000ms (when application_name=batchwait); vol_to_replica: route=replica',
    );
    expect(String(app?.fingerprint)).toMatch(/^[0-9a-f]{16}$/);
    const drop = (await admin(pgmux, setup, 'SHOW ROUTE DROP TABLE keepme')).find((r) => r.database === 'plain');
    expect(String(drop?.rule_actions)).toContain('no_drop: deny 42501 "DROP is not allowed through pgmux" (when user=app)');
    expect(drop).toMatchObject({ route: 'primary', reason: 'primary: no replicas' });
  });
});

describe('cache and routing', () => {
  /**
   * A replica's answer may predate a write another client committed (its lag): kept, it could be
   * served later to that very client. With read_your_writes on, only answers from the primary are
   * kept; a rule can send a cached statement there.
   */
  it("keeps only the primary's answers where read_your_writes is on", async () => {
    const c = await connect({ db: 'app' });
    const cache = async (): Promise<Record<string, unknown> | undefined> => (await admin(pgmux, setup, 'SHOW CACHE')).find((r) => r.database === 'app');
    await until('a cached answer from the primary', async () => {
      await c.query("SELECT count(*) AS n, 'primary_cache_probe' AS p FROM keepme");
      return Number((await cache())?.stores ?? 0) > 0;
    });
    const hits = Number((await cache())?.hits);
    await c.query("SELECT count(*) AS n, 'primary_cache_probe' AS p FROM keepme");
    expect(Number((await cache())?.hits)).toBe(hits + 1);
    const stores = Number((await cache())?.stores);
    const routed = async (): Promise<number> => Number((await admin(pgmux, setup, 'SHOW REPLICAS')).find((r) => r.database === 'app')?.reads_routed);
    const before = await routed();
    // No function in it (in_hot_standby() would make it uncacheable anyway): SHOW REPLICAS tells where it ran.
    for (let i = 0; i < 3; i++) await c.query("SELECT count(*) AS n, 'replica_cache_probe' AS q FROM keepme");
    expect(await routed()).toBe(before + 3);
    expect(await cache()).toMatchObject({ stores: String(stores), hits: String(hits + 1) });
  });
});

describe('reload and SHOW RULES', () => {
  /** Rules must reach clients already connected, and a bad rule must leave the running ones in place. */
  it('applies reloaded rules to connected clients and keeps the old ones when the new do not load', async () => {
    const c = await connect();
    expect((await c.query("SELECT 'reload_probe' AS p")).rows).toEqual([{ p: 'reload_probe' }]);
    expect(await reloadRules(pgmux, setup, RULES + "late = regex='reload_probe' deny=yes message='added by RELOAD'\n")).toBeNull();
    expect(await failure(c.query("SELECT 'reload_probe'"))).toMatchObject({ code: '42501', message: 'added by RELOAD' });
    const bad = await reloadRules(pgmux, setup, RULES + "late = regex='reload_probe' deny=yes message='added by RELOAD'\nworse = regex='(' deny=yes\n");
    expect(bad).toBe('RELOAD failed, see logs for additional details');
    await pgmux.waitForLog(/reload failed, keeping the running config: \S+pgmux\.ini:\d+: rule worse: regex '\(' does not compile/);
    expect(await failure(c.query("SELECT 'reload_probe'"))).toMatchObject({ message: 'added by RELOAD' });
    expect(await reloadRules(pgmux, setup, RULES)).toBeNull();
    expect(await failure(c.query("SELECT 'reload_probe'"))).toBeNull();
  });

  /** SHOW RULES lists the table in order with counters that moved with what the specs above did. */
  it('lists the rules with their counters', async () => {
    const rows = await admin(pgmux, setup, 'SHOW RULES');
    expect(rows.map((r) => r.name)).toEqual([
      'no_drop', 'no_secret', 'not_local', 'local_only', 'slow', 'throttle', 'throttle_wait', 'vol_to_replica', 'force_primary', 'replica_cached', 'primary_cached',
    ]);
    const slow = rows.find((r) => r.name === 'slow');
    expect(slow).toMatchObject({ actions: 'statement_timeout=300ms', match: "regex='/\\* slow \\*/'" });
    const c = await connect();
    await failure(c.query('DROP TABLE keepme'));
    const after = (await admin(pgmux, setup, 'SHOW RULES')).find((r) => r.name === 'no_drop');
    expect(Number(after?.denied)).toBeGreaterThanOrEqual(1);
    expect(Number(after?.matched)).toBeGreaterThanOrEqual(1);
  });
});
