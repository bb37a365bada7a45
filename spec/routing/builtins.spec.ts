// Specs for lib/routing/classify-builtins.ts against the server's own pg_proc and a real hot
// standby (issue 11, item 4): every volatile pg_catalog function is accounted for; every one
// listed read-only runs on the standby and is routed to a replica; every one listed as needing
// the primary is routed there, and either the standby refuses it or the spec shows what would
// go wrong there; and no stable or immutable function is refused by a standby unless listed.

import { Client } from 'pg';
import { classify, loadParser } from '../../lib/routing/classify';
import { BUILTIN_PRIMARY, BUILTIN_VOLATILE_READ_ONLY, NODE_ANSWER, type PrimaryWhy } from '../../lib/routing/classify-builtins';
import { Fn, compileOptions, judgeFunction } from '../../lib/routing/classify-functions';
import { Lexer, lexClassify } from '../../lib/routing/classify-lexer';
import { parserClassify } from '../../lib/routing/classify-parser';
import { startCluster, type Cluster, type PgNode } from '../support/cluster';
import { CALLS, FIXTURES, NOT_CALLABLE, RECOVERY_REFUSAL, SETTINGS, type BuiltinCall } from './builtin-calls';

let cluster: Cluster;
let onPrimary: Client;
let onStandby: Client;

async function connect(node: PgNode): Promise<Client> {
  const client = new Client({ host: node.host, port: node.port, user: 'postgres', password: cluster.password, database: 'app' });
  client.on('notice', () => undefined);
  await client.connect();
  return client;
}

/** Two transactions lock one row FOR SHARE at once, so its xmax becomes a MultiXactId. */
async function makeMultixact(): Promise<void> {
  const a = await connect(cluster.primary);
  const b = await connect(cluster.primary);
  try {
    for (const c of [a, b]) await c.query('BEGIN; SELECT 1 FROM bi_rows WHERE id = 1 FOR SHARE');
    for (const c of [a, b]) await c.query('COMMIT');
  } finally {
    await Promise.all([a.end(), b.end()]);
  }
}

beforeAll(async () => {
  cluster = await startCluster({ replica: true, settings: SETTINGS });
  await cluster.query(cluster.primary, FIXTURES);
  await makeMultixact();
  await cluster.waitForReplay();
  await loadParser();
  onPrimary = await connect(cluster.primary);
  const replica = cluster.replica;
  if (!replica) throw new Error('startCluster({ replica: true }) returned no replica');
  onStandby = await connect(replica);
  const r = await onStandby.query('SELECT pg_is_in_recovery() AS standby');
  if (r.rows[0]?.standby !== true) throw new Error('the replica is not in recovery: these specs would prove nothing');
}, 120000);

afterAll(async () => {
  await onStandby?.end().catch(() => undefined);
  await onPrimary?.end().catch(() => undefined);
  await cluster?.stop();
});

const options = compileOptions();
const judge = (name: string): number => judgeFunction(name, undefined, options);
const PRIMARY_WHY = Object.keys(BUILTIN_PRIMARY) as PrimaryWhy[];
const whyOf = (name: string): PrimaryWhy | undefined => PRIMARY_WHY.find((why) => BUILTIN_PRIMARY[why].includes(name));

/** Runs one call as its entry says; the error message, or undefined when it succeeded. */
async function run(client: Client, call: BuiltinCall): Promise<string | undefined> {
  const sql = (s: string): string => s.replace('$DIR', cluster.dir);
  try {
    if (call.txn === true) await client.query('BEGIN');
    for (const s of call.setup ?? []) await client.query(sql(s));
    try {
      await client.query(sql(call.sql));
      return undefined;
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
  } finally {
    await client.query('ROLLBACK');
    for (const s of call.after ?? []) await client.query(sql(s));
  }
}

async function names(sql: string): Promise<Set<string>> {
  const r = await onPrimary.query<{ proname: string }>(sql);
  return new Set(r.rows.map((row) => row.proname));
}

describe('the built-in function lists, against pg_proc', () => {
  /**
   * Catches a server function nobody judged: a new volatile built-in would otherwise be routed
   * by accident (unknown means the primary, but a read-only one would be a needless miss).
   */
  it('accounts for every volatile pg_catalog function: a call with a verdict, or not callable from SQL', async () => {
    const volatile = await names(
      "SELECT DISTINCT proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE nspname = 'pg_catalog' AND provolatile = 'v'",
    );
    expect([...volatile].filter((n) => CALLS[n] === undefined && !NOT_CALLABLE.includes(n)).sort()).toEqual([]);
    // Not callable: every overload returns a trigger, a handler or internal, or takes internal.
    const callable = await onPrimary.query<{ proname: string }>(
      `SELECT DISTINCT proname FROM pg_proc WHERE proname = ANY ($1) AND prorettype NOT IN
         ('trigger'::regtype, 'internal'::regtype, 'language_handler'::regtype, 'index_am_handler'::regtype,
          'table_am_handler'::regtype, 'tsm_handler'::regtype) AND NOT 'internal'::regtype = ANY (proargtypes)`,
      [NOT_CALLABLE],
    );
    expect(callable.rows).toEqual([]);
  });

  /** Catches stale or misfiled names: a list entry that names nothing, or a read-only entry that is not volatile. */
  it('lists only functions this server has, the volatile read-only ones volatile', async () => {
    const all = await names("SELECT DISTINCT proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE nspname = 'pg_catalog'");
    const listed = [...BUILTIN_VOLATILE_READ_ONLY, ...Object.values(BUILTIN_PRIMARY).flat(), ...NODE_ANSWER];
    expect(listed.filter((n) => !all.has(n))).toEqual([]);
    const volatile = await names("SELECT DISTINCT proname FROM pg_proc WHERE provolatile = 'v' AND pronamespace = 'pg_catalog'::regnamespace");
    expect(BUILTIN_VOLATILE_READ_ONLY.filter((n) => !volatile.has(n))).toEqual([]);
    // Every listed name has a call below, and every call's function is judged (none unknown).
    expect(listed.filter((n) => CALLS[n] === undefined)).toEqual([]);
    expect(Object.keys(CALLS).filter((n) => judge(n) === Fn.unknown)).toEqual([]);
  });

  /**
   * Catches a verdict the standby contradicts by construction: read-only means the standby runs
   * it; "refused" means it refuses for being a standby.
   */
  it('pairs each verdict with the matching standby behaviour', () => {
    const wrong: string[] = [];
    for (const [name, call] of Object.entries(CALLS)) {
      if (judge(name) === Fn.safe && call.standby !== 'runs') wrong.push(`${name}: read-only, so the standby must run it`);
      if (whyOf(name) === 'refused' && call.standby !== RECOVERY_REFUSAL) wrong.push(`${name}: listed as refused by a standby`);
    }
    expect(wrong).toEqual([]);
  });
});

describe('routing each built-in', () => {
  /**
   * Catches the issue's misses and any write let through: read-only calls reach a replica, the
   * rest the primary, and the lexer and PostgreSQL's grammar agree on each.
   */
  it('sends each read-only call to a replica and every other to the primary, in both tiers', () => {
    const wrong: string[] = [];
    for (const [name, call] of Object.entries(CALLS)) {
      const want = judge(name) === Fn.safe ? 'replica' : 'primary';
      const got = classify(call.sql).target;
      const lexed = lexClassify(new Lexer(call.sql), options)?.target;
      const parsed = parserClassify(call.sql, options).target;
      if (got !== want || parsed !== want || (lexed !== undefined && lexed !== want)) {
        wrong.push(`${name}: want ${want}, classify ${got}, lexer ${lexed ?? 'unsure'}, parser ${parsed}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  /** The issue's examples by name: volatile (or once listed as writing) yet read-only. */
  it.each(['txid_current_if_assigned', 'pg_current_xact_id_if_assigned', 'pg_sequence_last_value', 'lo_get', 'loread'])(
    'routes %s to a replica',
    (name) => {
      expect(classify(CALLS[name].sql)).toMatchObject({ target: 'replica', reason: 'replica: plain select' });
    },
  );
});

describe('each built-in on a real hot standby', () => {
  /**
   * Catches a list that lies: a read-only function the standby refuses (a client would get an
   * error), or a "refused" one it runs. Every call does on the standby what its entry says.
   */
  it('runs the read-only ones and those bound to a node or session, and refuses the writing ones', async () => {
    const wrong: string[] = [];
    let ran = 0;
    for (const [name, call] of Object.entries(CALLS)) {
      if (typeof call.standby === 'object' && !(call.standby instanceof RegExp)) continue;
      ran++;
      const err = await run(onStandby, call);
      if (call.standby === 'runs') {
        if (err !== undefined) wrong.push(`${name}: ${call.sql}\n    -> ${err}`);
      } else if (err === undefined || !call.standby.test(err)) {
        wrong.push(`${name}: ${call.sql}\n    -> ${err ?? 'succeeded'}, expected ${call.standby}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(ran).toBeGreaterThanOrEqual(190);
  });

  /** Catches a lock routed to a replica: the primary's holder would not exclude it. */
  it('takes an advisory lock on the standby that the primary already holds: it excludes nobody there', async () => {
    await onPrimary.query('SELECT pg_advisory_lock(77)');
    try {
      const r = await onStandby.query('SELECT pg_try_advisory_lock(77) AS got');
      expect(r.rows[0].got).toBe(true);
      await onStandby.query('SELECT pg_advisory_unlock_all()');
    } finally {
      await onPrimary.query('SELECT pg_advisory_unlock_all()');
    }
    expect(classify('SELECT pg_try_advisory_lock(77)').target).toBe('primary');
  });

  /**
   * Catches pgx's target_session_attrs=primary (it sends `select pg_is_in_recovery()`) being
   * told "standby" by pgmux: the primary answers, unless a replica hint asks for a replica.
   */
  it('answers pg_is_in_recovery() from the primary, which says false, unless hinted to a replica', async () => {
    expect((await onStandby.query('SELECT pg_is_in_recovery() AS r')).rows[0].r).toBe(true);
    expect((await onPrimary.query('SELECT pg_is_in_recovery() AS r')).rows[0].r).toBe(false);
    expect(classify('select pg_is_in_recovery()')).toMatchObject({ target: 'primary', reason: 'primary: volatile function pg_is_in_recovery' });
    expect(classify('SELECT pg_catalog.pg_is_in_recovery()').target).toBe('primary');
    expect(classify('/* pgmux:replica */ SELECT pg_is_in_recovery()')).toMatchObject({ target: 'replica', reason: 'replica: hint' });
  });

  /** Catches a query given as text being trusted: it may call anything, a write included. */
  it('refuses on the standby a write hidden in the text query_to_xml runs', async () => {
    const err = await run(onStandby, { sql: "SELECT query_to_xml('SELECT nextval(''bi_seq'')', true, false, '')", standby: RECOVERY_REFUSAL });
    expect(err).toMatch(/nextval\(\) in a read-only transaction/);
    expect(classify("SELECT query_to_xml('SELECT 1', true, false, '')").target).toBe('primary');
  });

  /**
   * Pins the one difference a standby's pg_sequence_last_value has: it reads what the primary
   * WAL-logged, up to 32 nextval calls ahead (SEQ_LOG_VALS), as SELECT last_value does there.
   */
  it('reads pg_sequence_last_value on the standby at most 32 ahead of the primary, as the sequence itself reads', async () => {
    const p = await onPrimary.query("SELECT pg_sequence_last_value('bi_seq')::int AS v");
    const s = await onStandby.query("SELECT pg_sequence_last_value('bi_seq')::int AS v, (SELECT last_value FROM bi_seq)::int AS direct");
    expect(s.rows[0].v).toBe(s.rows[0].direct);
    expect(s.rows[0].v).toBeGreaterThanOrEqual(p.rows[0].v);
    expect(s.rows[0].v - p.rows[0].v).toBeLessThanOrEqual(32);
    // An unlogged sequence has no contents on a standby: NULL, not an error.
    expect((await onStandby.query("SELECT pg_sequence_last_value('bi_unlogged_seq') AS v")).rows[0].v).toBeNull();
  });
});

/** Sample values for a scan of every stable and immutable function, by argument type. */
const SAMPLE: Readonly<Record<string, string>> = {
  text: "'x'", integer: '1', bigint: '1', smallint: '1', oid: '1259', regclass: "'pg_class'", boolean: 'true',
  pg_lsn: "'0/1000000'", numeric: '1', 'double precision': '1', real: '1', name: "'postgres'", xid8: "'1'", xid: "'1'",
  'timestamp with time zone': 'now()', 'timestamp without time zone': 'localtimestamp', date: 'current_date',
  interval: "'1 s'", bytea: "'\\x00'", jsonb: "'{}'", json: "'{}'", tsquery: "'a'", tsvector: "'a'", inet: "'127.0.0.1'",
  cidr: "'127.0.0.0/8'", regtype: "'int4'", regproc: "'now'", regprocedure: "'now()'", regnamespace: "'public'",
  regrole: "'postgres'", regconfig: "'simple'", 'text[]': "'{}'", 'integer[]': "'{1}'", '"char"': "'a'", character: "'a'",
  'character varying': "'a'", uuid: "'00000000-0000-0000-0000-000000000000'", xml: "'<a/>'", tid: "'(0,1)'",
  pg_snapshot: "'1:1:'", txid_snapshot: "'1:1:'", 'time without time zone': 'localtime', 'time with time zone': 'current_time',
  money: '1', macaddr: "'00:00:00:00:00:00'", bit: "B'1'", 'bit varying': "B'1'", jsonpath: "'$'", regoper: "'+'",
  regoperator: "'+(int4,int4)'", regcollation: "'C'", regdictionary: "'simple'", point: "'(0,0)'", box: "'(0,0),(1,1)'",
  int4range: "'[1,2)'", oidvector: "'1'", int2vector: "'1'", aclitem: "'postgres=r/postgres'",
};

describe('stable and immutable built-ins on a real hot standby', () => {
  /**
   * Catches a stable or immutable function that a standby refuses although the primary runs it
   * (txid_current assigns a transaction id, yet pg_proc calls it stable): each such function must
   * be in BUILTIN_PRIMARY, and nothing else may be refused.
   */
  it('refuses only the ones listed as needing the primary', async () => {
    const r = await onPrimary.query<{ proname: string; retset: boolean; args: string[] }>(
      `SELECT p.proname, p.proretset AS retset, ARRAY(SELECT format_type(t, NULL) FROM unnest(p.proargtypes) t) AS args
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'pg_catalog' AND p.prokind = 'f' AND p.provolatile IN ('i', 's')
          AND p.prorettype NOT IN ('internal'::regtype, 'trigger'::regtype, 'event_trigger'::regtype, 'cstring'::regtype,
            'language_handler'::regtype, 'index_am_handler'::regtype, 'table_am_handler'::regtype, 'fdw_handler'::regtype,
            'tsm_handler'::regtype)
        ORDER BY 1`,
    );
    await onStandby.query("SET statement_timeout = '5s'");
    await onPrimary.query("SET statement_timeout = '5s'");
    const refusedThere = new Set<string>();
    let called = 0;
    for (const fn of r.rows) {
      if (!fn.args.every((a) => SAMPLE[a] !== undefined)) continue;
      const call = `pg_catalog."${fn.proname}"(${fn.args.map((a) => `${SAMPLE[a]}::${a}`).join(', ')})`;
      const sql = fn.retset ? `SELECT * FROM ${call}` : `SELECT ${call}`;
      called++;
      const onP = await run(onPrimary, { sql, txn: true, standby: 'runs' });
      if (onP !== undefined) continue;
      const onS = await run(onStandby, { sql, standby: 'runs' });
      if (onS !== undefined && RECOVERY_REFUSAL.test(onS)) refusedThere.add(fn.proname);
    }
    await onStandby.query('RESET statement_timeout');
    await onPrimary.query('RESET statement_timeout');
    const listed = await names(
      `SELECT DISTINCT proname FROM pg_proc WHERE pronamespace = 'pg_catalog'::regnamespace AND provolatile IN ('i', 's')
          AND proname = ANY ('{${BUILTIN_PRIMARY.refused.join(',')}}')`,
    );
    expect([...refusedThere].sort()).toEqual([...listed].sort());
    expect(called).toBeGreaterThan(1500);
  }, 120000);
});
