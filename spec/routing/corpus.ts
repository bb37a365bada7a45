// Owns the routing corpus: labelled statements (PostgreSQL 15–18 syntax, comments of all kinds,
// dollar quotes, multi-statement strings, CTEs, window functions, JSON, MERGE …), the schema
// they run against, and how each is executed to prove its label on a real primary + hot standby.

import type { PinReason, SessionRoute } from '../../lib/routing/classify';
import { ADMIN } from './corpus-admin';
import { APPS, TOOL_FIXTURES } from './corpus-apps';

export interface CorpusEntry {
  sql: string;
  label: 'replica' | 'primary';
  /** The reason code, when the entry is about a specific one. */
  reason?: string;
  /** Exactly these pins (and unpins) when given; none when omitted. */
  pins?: PinReason[];
  unpins?: PinReason[];
  sessionRoute?: SessionRoute;
  /** Extended-protocol parameters to execute it with. */
  params?: unknown[];
  /**
   * How it is executed: 'alone' in autocommit; 'txn' inside BEGIN … ROLLBACK (the default for
   * primary entries, so their writes leave nothing behind); 'none' not at all, saying why.
   */
  run?: 'alone' | 'txn' | 'none';
  why?: string;
  /** Statements run first, in the same session (and transaction, for 'txn'). */
  setup?: string[];
  /** Statements run after it, e.g. ROLLBACK after a lone BEGIN. */
  after?: string[];
  /** The oldest PostgreSQL that accepts it; older servers must refuse it as unknown syntax, never as a write. */
  pg?: number;
  /** A primary entry the hot standby must refuse (proving the label is needed, not just careful). */
  standbyRefuses?: boolean;
  /** The lexer settles it but PostgreSQL's grammar cannot (SET pgmux.route = primary). */
  lexerOnly?: string;
  /**
   * A primary entry that only reads (no write, lock, transaction id or session state) and that a
   * hot standby would answer the same, saying why it still goes to the primary: a read-only
   * statement that missed a replica.
   */
  reads?: string;
  /**
   * A primary entry that only reads, but whose answer is the primary's: a hot standby refuses it
   * or answers otherwise (the WAL position, "in recovery?", this session's nextval value). The
   * spec checks that the standby does; the tally counts these apart from the read-only ones.
   */
  primaryAnswer?: string;
}

/** The schema every entry runs against, created on the primary before the replica catches up. */
export const FIXTURES = `
CREATE TABLE accounts (
  id bigserial PRIMARY KEY, name text NOT NULL, email text, balance numeric(12,2) DEFAULT 0,
  created_at timestamptz DEFAULT now(), tags text[], data jsonb);
CREATE TABLE orders (
  id bigserial PRIMARY KEY, account_id bigint REFERENCES accounts (id), status text,
  total numeric(12,2), placed_at timestamptz DEFAULT now());
CREATE TABLE "MixedCase" ("Id" int, "Value" text);
CREATE TABLE events (id int, payload jsonb, at timestamptz);
CREATE SEQUENCE counter_seq;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE VIEW big_accounts AS SELECT * FROM accounts WHERE balance > 100;
CREATE SCHEMA billing;
CREATE FUNCTION touch_account(bigint) RETURNS void LANGUAGE sql VOLATILE
  AS $$ UPDATE accounts SET balance = balance WHERE id = $1 $$;
CREATE FUNCTION read_only_volatile() RETURNS int LANGUAGE sql VOLATILE
  AS $$ SELECT count(*)::int FROM accounts $$;
CREATE FUNCTION account_name(bigint) RETURNS text LANGUAGE sql STABLE
  AS $$ SELECT name FROM accounts WHERE id = $1 $$;
CREATE FUNCTION add_tax(numeric) RETURNS numeric LANGUAGE sql IMMUTABLE AS $$ SELECT $1 * 1.2 $$;
CREATE FUNCTION billing.invoice_total(bigint) RETURNS numeric LANGUAGE sql STABLE
  AS $$ SELECT coalesce(sum(total), 0) FROM orders WHERE account_id = $1 $$;
CREATE PROCEDURE bump(bigint) LANGUAGE sql AS $$ UPDATE accounts SET balance = balance + 1 WHERE id = $1 $$;
INSERT INTO accounts (name, email, balance, tags, data) VALUES
  ('alice', 'alice@example.com', 150, '{vip,early}', '{"plan": "pro", "limits": {"seats": 5}, "a": {"b": "c"}}'),
  ('bob', NULL, 20, '{}', '{"plan": "free"}'),
  ('O''Brien', 'ob@example.com', 0, NULL, NULL);
INSERT INTO orders (account_id, status, total) VALUES (1, 'open', 10), (1, 'paid', 90), (2, 'open', 5);
INSERT INTO "MixedCase" VALUES (1, 'x1'), (2, 'y2');
INSERT INTO events VALUES (1, '{"a": [1, 2]}', now());
CREATE MATERIALIZED VIEW order_totals AS SELECT account_id, sum(total) AS total FROM orders GROUP BY account_id;
${TOOL_FIXTURES}`;

const R = 'replica' as const;
const P = 'primary' as const;

/** Statements that read: every one must run on the hot standby. */
const READS: CorpusEntry[] = [
  // Plain selects, the lexer's bread and butter
  { sql: 'SELECT 1', label: R, reason: 'replica: plain select' },
  { sql: 'select id, name from accounts where id = 1', label: R },
  { sql: "SELECT * FROM accounts WHERE email = 'a@example.com' ORDER BY created_at DESC LIMIT 10 OFFSET 5", label: R },
  { sql: 'SELECT a.id, count(o.id) FROM accounts a LEFT JOIN orders o ON o.account_id = a.id GROUP BY a.id HAVING count(o.id) > 1', label: R },
  { sql: `SELECT "Id", "Value" FROM "MixedCase" WHERE "Value" LIKE 'x%'`, label: R },
  { sql: "SELECT * FROM accounts WHERE id IN (1, 2, 3) AND name <> ''", label: R },
  { sql: "SELECT EXISTS (SELECT 1 FROM orders WHERE status = 'open')", label: R },
  { sql: 'TABLE accounts', label: R },
  { sql: "VALUES (1, 'a'), (2, 'b')", label: R },
  { sql: '(SELECT id FROM accounts) UNION ALL (SELECT account_id FROM orders) ORDER BY 1', label: R },
  { sql: 'SELECT id FROM accounts INTERSECT SELECT account_id FROM orders', label: R },
  { sql: 'SELECT id FROM accounts EXCEPT SELECT account_id FROM orders', label: R },
  { sql: 'SELECT 1 UNION SELECT 2 ORDER BY 1 LIMIT 1', label: R },
  { sql: 'SELECT (SELECT max(total) FROM orders) AS max_total', label: R },
  { sql: 'SELECT * FROM accounts a WHERE NOT EXISTS (SELECT FROM orders o WHERE o.account_id = a.id)', label: R },
  { sql: "SELECT * FROM accounts WHERE created_at BETWEEN '2020-01-01' AND '2100-01-01' AND name ILIKE '%a%'", label: R },
  { sql: "SELECT * FROM accounts WHERE name SIMILAR TO '(a|b)%' OR email IS NULL", label: R },
  { sql: 'SELECT * FROM accounts ORDER BY id FETCH FIRST 2 ROWS ONLY', label: R },
  { sql: 'SELECT * FROM accounts ORDER BY id LIMIT ALL', label: R },
  { sql: "SELECT id FROM accounts WHERE id = ANY ('{1,2}'::bigint[])", label: R },
  { sql: 'SELECT 1 AS "select", 2 AS "from", 3 AS "update"', label: R },
  { sql: 'SELECT count(*) FROM accounts a JOIN orders o USING (id)', label: R },
  { sql: 'SELECT * FROM accounts ORDER BY id FOR READ ONLY', label: R, reason: 'replica: plain select' },
  // Window functions, grouping, aggregates
  { sql: 'SELECT name, balance, rank() OVER (ORDER BY balance DESC) FROM accounts', label: R },
  {
    sql: 'SELECT account_id, total, sum(total) OVER w FROM orders WINDOW w AS (PARTITION BY account_id ORDER BY placed_at ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)',
    label: R,
  },
  { sql: 'SELECT id, lag(total) OVER (ORDER BY id), ntile(2) OVER (), first_value(id) OVER (PARTITION BY status) FROM orders', label: R },
  { sql: "SELECT count(*) FILTER (WHERE status = 'open') FROM orders", label: R },
  { sql: 'SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY total) FROM orders', label: R },
  { sql: 'SELECT status, count(*) FROM orders GROUP BY GROUPING SETS ((status), ())', label: R },
  { sql: 'SELECT account_id, status, sum(total) FROM orders GROUP BY ROLLUP (account_id, status)', label: R },
  { sql: 'SELECT account_id, status, sum(total) FROM orders GROUP BY CUBE (account_id, status)', label: R },
  { sql: 'SELECT DISTINCT ON (account_id) account_id, placed_at FROM orders ORDER BY account_id, placed_at DESC', label: R },
  { sql: "SELECT string_agg(name, ', ' ORDER BY name) FROM accounts", label: R },
  { sql: 'SELECT array_agg(DISTINCT status) FROM orders', label: R },
  { sql: 'SELECT width_bucket(total, 0, 1000, 10), round(total, 1) FROM orders', label: R },
  // Expressions and built-in functions
  { sql: "SELECT CASE WHEN balance > 0 THEN 'credit' ELSE 'debit' END FROM accounts", label: R },
  { sql: "SELECT coalesce(email, 'none'), nullif(name, ''), greatest(1, 2), least(3, 4) FROM accounts", label: R },
  { sql: "SELECT CAST(balance AS numeric(10,2)), balance::text, '42'::int, 'x'::varchar(3) FROM accounts", label: R },
  { sql: 'SELECT now(), current_timestamp, current_date, localtimestamp(3)', label: R },
  { sql: "SELECT extract(year FROM created_at), date_trunc('day', created_at) FROM accounts", label: R },
  { sql: "SELECT substring(name FROM 1 FOR 3), position('a' IN name), trim(both ' ' FROM name) FROM accounts", label: R },
  { sql: "SELECT upper(name), lower(email), length(name), concat_ws(',', name, email) FROM accounts", label: R },
  { sql: "SELECT to_char(now(), 'YYYY-MM-DD'), to_timestamp(0), age(now(), created_at) FROM accounts", label: R },
  { sql: "SELECT md5(name), encode(sha256(name::bytea), 'hex') FROM accounts", label: R },
  { sql: "SELECT format('%I.%I', 'public', 'accounts'), quote_literal('x'), quote_ident('Mixed')", label: R },
  { sql: "SELECT has_table_privilege('accounts', 'SELECT'), pg_typeof(1.5), 1.5e3, .5, 1e-3", label: R },
  { sql: "SELECT int4range(1, 10) @> 5, '[2020-01-01,2021-01-01)'::daterange", label: R },
  { sql: "SELECT to_tsvector('english', name) @@ to_tsquery('english', 'alice') FROM accounts", label: R },
  { sql: "SELECT xmlelement(name foo, xmlattributes('bar' AS baz))", label: R },
  { sql: "SELECT * FROM xmltable('/r/i' PASSING ('<r><i>1</i></r>'::xml) COLUMNS v int PATH '.')", label: R },
  { sql: "SELECT 'sad'::mood < 'happy'::mood", label: R },
  { sql: 'SELECT ARRAY(SELECT id FROM accounts ORDER BY id), ROW(1, 2)', label: R },
  { sql: "SELECT tags[1], array_length(tags, 1) FROM accounts WHERE 'vip' = ANY (tags)", label: R },
  // Set-returning functions, LATERAL, aliases with column lists
  { sql: 'SELECT * FROM generate_series(1, 10) AS g(i)', label: R },
  { sql: 'SELECT * FROM unnest(ARRAY[1, 2, 3]) WITH ORDINALITY AS t(v, n)', label: R },
  { sql: 'SELECT * FROM (VALUES (1), (2)) v(x)', label: R, reason: 'replica: plain select' },
  { sql: 'SELECT a.name, x.total FROM accounts a, LATERAL (SELECT sum(total) AS total FROM orders o WHERE o.account_id = a.id) x', label: R },
  { sql: 'SELECT * FROM accounts TABLESAMPLE BERNOULLI (50) REPEATABLE (42)', label: R },
  // JSON
  { sql: `SELECT data->>'plan', data->'limits'->'seats', data #>> '{a,b}' FROM accounts WHERE data ? 'plan'`, label: R },
  { sql: "SELECT jsonb_build_object('id', id, 'name', name) FROM accounts", label: R },
  { sql: 'SELECT jsonb_agg(to_jsonb(a)) FROM accounts a', label: R },
  { sql: `SELECT * FROM jsonb_each('{"a":1,"b":2}'::jsonb)`, label: R },
  { sql: "SELECT jsonb_path_query(data, '$.limits.*') FROM accounts", label: R },
  { sql: `SELECT * FROM jsonb_to_recordset('[{"a":1},{"a":2}]') AS r(a int)`, label: R },
  { sql: 'SELECT row_to_json(t) FROM (SELECT id, name FROM accounts) t', label: R },
  { sql: 'SELECT json_agg(o ORDER BY o.placed_at) FROM orders o', label: R },
  { sql: `SELECT payload @> '{"a": [1]}' FROM events`, label: R },
  // Strings, quoting, comments: write keywords hidden where they do not count
  { sql: "SELECT regexp_replace(name, '\\s+', ' ', 'g') FROM accounts", label: R },
  { sql: "SELECT E'line\\nbreak', E'it\\'s FOR UPDATE', 'it''s INTO'", label: R, reason: 'replica: plain select' },
  { sql: "SELECT $$dollar 'quoted' FOR UPDATE$$, $tag$ nested $$ INSERT $$ inside $tag$", label: R, reason: 'replica: plain select' },
  { sql: "SELECT U&'d\\0061t\\+000061', B'1010', X'FF', N'national'", label: R },
  { sql: "SELECT 'FOR UPDATE' AS label, 'INSERT INTO x' AS s, 'DELETE' AS d", label: R, reason: 'replica: plain select' },
  { sql: 'SELECT "for", "into", "update" FROM (SELECT 1 AS "for", 2 AS "into", 3 AS "update") q', label: R },
  { sql: 'SELECT 1 -- trailing comment with FOR UPDATE', label: R },
  { sql: '/* leading comment: INSERT INTO accounts */ SELECT 1', label: R },
  { sql: 'SELECT /* nested /* comment */ still FOR UPDATE */ 1', label: R, reason: 'replica: plain select' },
  { sql: '-- line comment\nSELECT 1', label: R },
  { sql: 'SELECT 1 /* comment */ + /* another */ 2', label: R },
  { sql: "SELECT id FROM accounts WHERE name = 'O''Brien'", label: R },
  { sql: 'SELECT\r\n  id\r\nFROM accounts\r\n', label: R },
  { sql: "SELECT 'con'\n'catenated'", label: R },
  { sql: "SELECT 1 AS \"ünïcode\", 'ß' AS straße", label: R },
  { sql: 'select/**/1', label: R },
  { sql: 'SELECT 1--1', label: R },
  { sql: '  \n\t SELECT 1 ;  ', label: R },
  // CTEs that only read
  { sql: "WITH recent AS (SELECT * FROM orders WHERE placed_at > now() - interval '7 days') SELECT count(*) FROM recent", label: R },
  { sql: 'WITH RECURSIVE t(n) AS (VALUES (1) UNION ALL SELECT n + 1 FROM t WHERE n < 10) SELECT sum(n) FROM t', label: R },
  { sql: 'WITH a AS MATERIALIZED (SELECT 1 AS x), b AS NOT MATERIALIZED (SELECT 2 AS y) SELECT * FROM a, b', label: R },
  {
    sql: 'WITH RECURSIVE tree AS (SELECT 1 AS id, 0 AS depth UNION ALL SELECT id + 1, depth + 1 FROM tree WHERE depth < 3) SEARCH DEPTH FIRST BY id SET ordercol SELECT * FROM tree',
    label: R,
  },
  // User functions, judged by pg_proc volatility
  { sql: 'SELECT add_tax(balance) FROM accounts', label: R, reason: 'replica: plain select' },
  { sql: 'SELECT account_name(1)', label: R },
  { sql: 'SELECT billing.invoice_total(1)', label: R },
  { sql: "SELECT pg_catalog.now(), pg_catalog.upper('x')", label: R },
  { sql: '/* pgmux:replica */ SELECT read_only_volatile()', label: R, reason: 'replica: hint' },
  // Volatile built-ins that only read, catalogs, views
  { sql: 'SELECT random(), clock_timestamp(), gen_random_uuid(), pg_sleep(0)', label: R },
  { sql: 'SELECT pg_last_wal_replay_lsn(), pg_last_xact_replay_timestamp()', label: R },
  { sql: 'SELECT pg_size_pretty(pg_database_size(current_database()))', label: R },
  { sql: "SELECT version(), current_user, session_user, current_setting('work_mem')", label: R },
  { sql: 'SELECT txid_current_snapshot(), pg_current_snapshot(), pg_backend_pid()', label: R },
  { sql: 'SELECT * FROM pg_stat_activity WHERE datname = current_database()', label: R },
  { sql: "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'", label: R },
  { sql: "SELECT * FROM information_schema.tables WHERE table_schema = 'public'", label: R },
  { sql: 'SELECT * FROM pg_locks', label: R },
  { sql: 'SELECT * FROM big_accounts', label: R },
  { sql: 'SELECT * FROM order_totals', label: R },
  // Extended protocol
  { sql: 'SELECT id, name FROM accounts WHERE id = $1', label: R, params: [1] },
  { sql: 'SELECT * FROM accounts WHERE name = $1 AND balance > $2', label: R, params: ['alice', 10] },
  // Multi-statement strings that only read
  { sql: 'SELECT * FROM accounts WHERE id = 1; SELECT * FROM orders WHERE account_id = 1', label: R },
  { sql: 'SELECT 1;;SELECT 2;', label: R },
  { sql: 'BEGIN READ ONLY; SELECT count(*) FROM accounts; COMMIT', label: R, reason: 'replica: BEGIN READ ONLY' },
  // Not SELECT, still read-only
  { sql: 'EXPLAIN SELECT * FROM accounts', label: R, reason: 'replica: EXPLAIN' },
  { sql: 'EXPLAIN ANALYZE SELECT * FROM accounts', label: R, reason: 'replica: EXPLAIN' },
  { sql: 'EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT count(*) FROM orders', label: R },
  { sql: 'EXPLAIN DELETE FROM orders WHERE id = 1', label: R, reason: 'replica: EXPLAIN' },
  { sql: "EXPLAIN (ANALYZE false) INSERT INTO accounts (name) VALUES ('x')", label: R, reason: 'replica: EXPLAIN' },
  { sql: "EXPLAIN SELECT nextval('counter_seq')", label: R },
  { sql: 'COPY accounts TO STDOUT', label: R, reason: 'replica: COPY TO STDOUT' },
  { sql: 'COPY (SELECT id, name FROM accounts) TO STDOUT WITH (FORMAT csv, HEADER)', label: R },
  { sql: 'SHOW work_mem', label: R, reason: 'replica: SHOW' },
  { sql: 'SHOW ALL', label: R },
  { sql: 'SHOW TIME ZONE', label: R },
  { sql: 'SHOW TRANSACTION ISOLATION LEVEL', label: R },
  { sql: "SET LOCAL work_mem = '8MB'", label: R, reason: 'replica: SET LOCAL' },
  { sql: 'BEGIN READ ONLY', label: R, reason: 'replica: BEGIN READ ONLY', after: ['ROLLBACK'] },
  { sql: 'START TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY', label: R, after: ['ROLLBACK'] },
  { sql: 'COMMIT', label: R, reason: 'replica: transaction control' },
  { sql: 'ROLLBACK', label: R },
  { sql: 'END', label: R },
  { sql: 'ABORT', label: R },
  { sql: 'SAVEPOINT sp1', label: R, run: 'txn' },
  { sql: 'RELEASE SAVEPOINT sp1', label: R, run: 'txn', setup: ['SAVEPOINT sp1'] },
  { sql: 'ROLLBACK TO SAVEPOINT sp1', label: R, run: 'txn', setup: ['SAVEPOINT sp1'] },
  { sql: 'DECLARE c CURSOR FOR SELECT * FROM accounts', label: R, run: 'txn' },
  { sql: 'PREPARE q AS SELECT * FROM accounts WHERE id = $1', label: R, after: ['DEALLOCATE q'] },
  // PostgreSQL 16–18: classified now; on an older server they fail as unknown syntax or functions
  { sql: 'SELECT 0x1F, 0o17, 0b101, 1_000_000', label: R, pg: 16 },
  { sql: 'SELECT any_value(status) FROM orders', label: R, pg: 16 },
  { sql: "SELECT JSON_OBJECT('a': 1), JSON_ARRAY(1, 2)", label: R, pg: 16 },
  { sql: `SELECT '{"a":1}' IS JSON OBJECT`, label: R, pg: 16 },
  { sql: 'SELECT SYSTEM_USER', label: R, pg: 16 },
  { sql: 'SELECT random_normal(), array_sample(ARRAY[1, 2, 3], 2)', label: R, pg: 16 },
  { sql: "SELECT date_add(now(), interval '1 day'), pg_input_is_valid('42', 'integer')", label: R, pg: 16 },
  { sql: `SELECT * FROM JSON_TABLE('[{"a":1}]'::jsonb, '$[*]' COLUMNS (a int PATH '$.a')) jt`, label: R, pg: 17 },
  { sql: `SELECT JSON_VALUE('{"a":1}'::jsonb, '$.a'), JSON_EXISTS('{"a":1}'::jsonb, '$.a')`, label: R, pg: 17 },
  { sql: 'SELECT random(1, 10)', label: R, pg: 17 },
  { sql: 'SELECT uuidv7(), casefold(name) FROM accounts', label: R, pg: 18 },
];

/** Statements that need the primary. */
const WRITES: CorpusEntry[] = [
  // DML
  { sql: "INSERT INTO accounts (name) VALUES ('x')", label: P, reason: 'primary: INSERT', standbyRefuses: true },
  { sql: "INSERT INTO accounts (name) VALUES ('x') RETURNING id", label: P },
  { sql: "INSERT INTO accounts (id, name) VALUES (1, 'x') ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name", label: P },
  { sql: `INSERT INTO "MixedCase" ("Id", "Value") VALUES (3, 'z')`, label: P },
  { sql: `INSERT INTO events VALUES (2, '{"a": [1, 2]}', now())`, label: P },
  { sql: 'UPDATE accounts SET balance = balance + 1 WHERE id = 1', label: P, reason: 'primary: UPDATE', standbyRefuses: true },
  { sql: 'UPDATE accounts a SET balance = 0 FROM orders o WHERE o.account_id = a.id', label: P },
  { sql: `UPDATE accounts SET data = jsonb_set(coalesce(data, '{}'), '{plan}', '"pro"') WHERE id = 1`, label: P },
  { sql: "DELETE FROM orders WHERE status = 'cancelled'", label: P, reason: 'primary: DELETE', standbyRefuses: true },
  { sql: 'DELETE FROM orders USING accounts WHERE orders.account_id = accounts.id RETURNING orders.id', label: P },
  {
    sql: "MERGE INTO accounts a USING (VALUES (1, 'n')) v(id, name) ON a.id = v.id WHEN MATCHED THEN UPDATE SET name = v.name WHEN NOT MATCHED THEN INSERT (id, name) VALUES (v.id, v.name)",
    label: P,
    reason: 'primary: MERGE',
    standbyRefuses: true,
  },
  {
    sql: "MERGE INTO accounts a USING (VALUES (1, 'n')) v(id, name) ON a.id = v.id WHEN MATCHED THEN UPDATE SET name = v.name RETURNING merge_action(), a.*",
    label: P,
    reason: 'primary: MERGE',
    pg: 17,
  },
  { sql: 'INSERT INTO accounts (name, tags) VALUES ($1, $2)', label: P, params: ['p', ['a']] },
  { sql: 'UPDATE accounts SET name = $1 WHERE id = $2', label: P, params: ['q', 1] },
  { sql: 'DELETE FROM accounts WHERE id = $1', label: P, params: [-1] },
  { sql: 'TRUNCATE orders', label: P, reason: 'primary: TRUNCATE', standbyRefuses: true },
  // Data-modifying CTEs, at any depth
  { sql: "WITH x AS (INSERT INTO accounts (name) VALUES ('y') RETURNING id) SELECT id FROM x", label: P, reason: 'primary: writing CTE', standbyRefuses: true },
  { sql: 'WITH a AS (SELECT 1), b AS (UPDATE accounts SET balance = 0 WHERE id = 1 RETURNING id) SELECT * FROM a, b', label: P, reason: 'primary: writing CTE' },
  { sql: "WITH d AS (DELETE FROM orders WHERE status = 'old' RETURNING *) SELECT count(*) FROM d", label: P, reason: 'primary: writing CTE' },
  { sql: "WITH moved AS (DELETE FROM orders WHERE status = 'old' RETURNING *) INSERT INTO orders SELECT * FROM moved", label: P, reason: 'primary: INSERT' },
  {
    sql: 'WITH outer_cte AS (WITH inner_cte AS (DELETE FROM orders WHERE id = -1 RETURNING id) SELECT * FROM inner_cte) SELECT * FROM outer_cte',
    label: P,
    reason: 'primary: writing CTE',
    run: 'none',
    why: 'PostgreSQL rejects a data-modifying WITH below the top level when it plans the statement; the classifier must still see it',
  },
  // Locking clauses, anywhere
  { sql: 'SELECT * FROM accounts FOR UPDATE', label: P, reason: 'primary: FOR UPDATE', standbyRefuses: true },
  { sql: 'select * from accounts where id = 1 for no key update nowait', label: P, reason: 'primary: FOR NO KEY UPDATE' },
  { sql: 'SELECT * FROM accounts FOR SHARE SKIP LOCKED', label: P, reason: 'primary: FOR SHARE' },
  { sql: 'SELECT * FROM accounts a JOIN orders o ON o.account_id = a.id FOR KEY SHARE OF a', label: P, reason: 'primary: FOR KEY SHARE' },
  { sql: 'SELECT * FROM (SELECT * FROM accounts FOR UPDATE) s', label: P, reason: 'primary: FOR UPDATE', standbyRefuses: true },
  { sql: "SELECT * FROM orders WHERE status = 'new' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED", label: P },
  { sql: 'SELECT * FROM accounts\nFOR\nUPDATE', label: P, reason: 'primary: FOR UPDATE' },
  { sql: 'SELECT * FROM accounts /* comment */ FOR /* x */ UPDATE -- lock it', label: P, reason: 'primary: FOR UPDATE' },
  // SELECT INTO
  { sql: 'SELECT * INTO accounts_copy FROM accounts', label: P, reason: 'primary: SELECT INTO', standbyRefuses: true },
  { sql: 'SELECT * INTO TEMP tmp_accounts FROM accounts', label: P, reason: 'primary: SELECT INTO', pins: ['temp-table'] },
  // Functions that write, lock, or need the primary
  { sql: "SELECT nextval('counter_seq')", label: P, reason: 'primary: volatile function nextval', standbyRefuses: true },
  { sql: "SELECT setval('counter_seq', 10)", label: P, standbyRefuses: true },
  { sql: "SELECT currval('counter_seq')", label: P, setup: ["SELECT nextval('counter_seq')"], primaryAnswer: "reads this session's nextval value, which only the primary has" },
  { sql: 'SELECT lastval()', label: P, setup: ["SELECT nextval('counter_seq')"], primaryAnswer: "reads this session's nextval value, which only the primary has" },
  { sql: "SELECT pg_catalog.nextval('counter_seq')", label: P, reason: 'primary: volatile function nextval' },
  { sql: "INSERT INTO orders (account_id, status) VALUES (1, 'new') RETURNING nextval('counter_seq')", label: P, reason: 'primary: INSERT' },
  { sql: 'SELECT pg_advisory_lock(42)', label: P, pins: ['advisory-lock'], after: ['SELECT pg_advisory_unlock_all()'] },
  { sql: 'SELECT pg_try_advisory_lock(43)', label: P, pins: ['advisory-lock'], after: ['SELECT pg_advisory_unlock_all()'] },
  { sql: 'SELECT pg_advisory_xact_lock(44)', label: P, reason: 'primary: volatile function pg_advisory_xact_lock' },
  { sql: 'SELECT pg_advisory_unlock_all()', label: P, unpins: ['advisory-lock'] },
  { sql: 'SELECT txid_current()', label: P, reason: 'primary: volatile function txid_current', standbyRefuses: true },
  { sql: 'SELECT pg_current_xact_id()', label: P, standbyRefuses: true },
  { sql: 'SELECT pg_current_wal_lsn()', label: P, reason: 'primary: volatile function pg_current_wal_lsn', standbyRefuses: true, primaryAnswer: "asks for the primary's WAL position, which a standby refuses" },
  { sql: 'SELECT pg_walfile_name(pg_current_wal_lsn())', label: P, standbyRefuses: true, primaryAnswer: "asks for the primary's WAL file, which a standby refuses" },
  { sql: "SELECT set_config('work_mem', '8MB', false)", label: P, reason: 'primary: volatile function set_config', pins: ['set'] },
  { sql: "SELECT set_config('work_mem', '8MB', true)", label: P, reason: 'primary: volatile function set_config' },
  { sql: "SELECT pg_notify('chan', 'payload')", label: P, reason: 'primary: volatile function pg_notify' },
  { sql: 'SELECT lo_create(0)', label: P, reason: 'primary: volatile function lo_create' },
  { sql: 'SELECT setseed(0.5)', label: P },
  { sql: "SELECT query_to_xml('select 1', true, false, '')", label: P, reads: 'runs a query given as text, which the classifier does not see' },
  { sql: 'SELECT pg_switch_wal()', label: P, standbyRefuses: true },
  { sql: 'SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()', label: P, reason: 'primary: volatile function pg_is_in_recovery', primaryAnswer: 'asks whether the server it reached is in recovery' },
  { sql: "SELECT pg_create_restore_point('corpus')", label: P, standbyRefuses: true },
  // User functions: volatile in pg_proc
  { sql: 'SELECT touch_account(1)', label: P, reason: 'primary: volatile function touch_account', standbyRefuses: true },
  { sql: 'SELECT read_only_volatile()', label: P, reason: 'primary: volatile function read_only_volatile', reads: 'a user function pg_proc calls volatile, though it only reads' },
  { sql: 'SELECT name, touch_account(id) FROM accounts WHERE id = 1', label: P },
  // Multi-statement strings: the primary if any part needs it
  { sql: "SELECT 1; INSERT INTO accounts (name) VALUES ('z')", label: P, reason: 'primary: INSERT' },
  { sql: "SELECT 1; SELECT nextval('counter_seq')", label: P, reason: 'primary: volatile function nextval' },
  { sql: "INSERT INTO accounts (name) VALUES ('a'); SELECT 1", label: P, reason: 'primary: INSERT' },
  { sql: "SELECT 1; SET work_mem = '16MB'", label: P, reason: 'primary: SET', pins: ['set'] },
  { sql: 'SELECT * FROM accounts WHERE id = 1 FOR UPDATE; SELECT 1', label: P, reason: 'primary: FOR UPDATE' },
  { sql: 'BEGIN; UPDATE accounts SET balance = balance WHERE id = 1; ROLLBACK', label: P, reason: 'primary: BEGIN', run: 'alone' },
  { sql: 'SELECT pg_advisory_unlock_all(); SELECT pg_advisory_lock(7)', label: P, pins: ['advisory-lock'], unpins: ['advisory-lock'], after: ['SELECT pg_advisory_unlock_all()'] },
  // EXPLAIN ANALYZE runs the statement
  { sql: 'EXPLAIN ANALYZE DELETE FROM orders WHERE id = -1', label: P, reason: 'primary: EXPLAIN ANALYZE of a write', standbyRefuses: true },
  { sql: 'EXPLAIN (ANALYZE, FORMAT JSON) UPDATE accounts SET balance = 0 WHERE id = -1', label: P, reason: 'primary: EXPLAIN ANALYZE of a write' },
  { sql: "EXPLAIN (ANALYZE on) INSERT INTO accounts (name) VALUES ('e')", label: P, reason: 'primary: EXPLAIN ANALYZE of a write' },
  { sql: "EXPLAIN ANALYZE SELECT nextval('counter_seq')", label: P, reason: 'primary: EXPLAIN ANALYZE of a write' },
  // COPY
  { sql: 'COPY accounts FROM STDIN', label: P, reason: 'primary: COPY FROM', run: 'none', why: 'needs COPY data, which the test client does not stream' },
  { sql: 'COPY accounts (name) FROM STDIN WITH (FORMAT csv)', label: P, reason: 'primary: COPY FROM', run: 'none', why: 'needs COPY data' },
  { sql: "COPY (SELECT 1) TO PROGRAM 'cat > /dev/null'", label: P, reason: 'primary: COPY TO file' },
  { sql: "COPY (INSERT INTO accounts (name) VALUES ('c') RETURNING id) TO STDOUT", label: P, reason: 'primary: INSERT' },
  // LOCK
  { sql: 'LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE', label: P, reason: 'primary: LOCK', standbyRefuses: true },
  { sql: 'LOCK accounts', label: P, reason: 'primary: LOCK' },
  // DDL and maintenance
  { sql: 'CREATE TABLE t_new (id int)', label: P, reason: 'primary: DDL', standbyRefuses: true },
  { sql: 'CREATE TEMP TABLE t_tmp (id int)', label: P, reason: 'primary: DDL', pins: ['temp-table'], standbyRefuses: true },
  { sql: 'CREATE TEMPORARY TABLE t_tmp2 AS SELECT * FROM accounts', label: P, pins: ['temp-table'] },
  { sql: 'CREATE TEMP TABLE t_tmp3 (id int) ON COMMIT DROP', label: P, reason: 'primary: DDL' },
  { sql: 'CREATE TABLE pg_temp.t_tmp4 (id int)', label: P, pins: ['temp-table'] },
  { sql: 'CREATE TEMP VIEW v_tmp AS SELECT 1', label: P, pins: ['temp-table'] },
  { sql: 'CREATE INDEX ON accounts (email)', label: P, reason: 'primary: DDL' },
  { sql: 'CREATE INDEX CONCURRENTLY accounts_name_idx ON accounts (name)', label: P, run: 'none', why: 'cannot run in a transaction block, and would change the schema for later entries' },
  { sql: 'ALTER TABLE accounts ADD COLUMN note text', label: P, reason: 'primary: DDL' },
  { sql: 'DROP TABLE IF EXISTS nothing_here', label: P, reason: 'primary: DDL' },
  { sql: 'GRANT SELECT ON accounts TO app', label: P, reason: 'primary: DDL' },
  { sql: 'REVOKE SELECT ON accounts FROM app', label: P },
  { sql: "COMMENT ON TABLE accounts IS 'customers'", label: P },
  { sql: 'CREATE FUNCTION f_new() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$', label: P, reason: 'primary: DDL' },
  { sql: 'CREATE OR REPLACE FUNCTION f_atomic() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END', label: P, reason: 'primary: DDL' },
  { sql: 'CREATE PROCEDURE p_new() LANGUAGE plpgsql AS $body$ BEGIN PERFORM 1; END $body$', label: P },
  { sql: 'CREATE MATERIALIZED VIEW mv_new AS SELECT 1 AS one', label: P },
  { sql: 'REFRESH MATERIALIZED VIEW order_totals', label: P, standbyRefuses: true },
  { sql: 'DO $$ BEGIN PERFORM pg_sleep(0); END $$', label: P, reason: 'primary: DO' },
  { sql: 'CALL bump(1)', label: P, reason: 'primary: CALL', standbyRefuses: true },
  { sql: 'VACUUM accounts', label: P, reason: 'primary: VACUUM', run: 'alone' },
  { sql: 'VACUUM (VERBOSE, ANALYZE) orders', label: P, run: 'alone' },
  { sql: 'ANALYZE accounts', label: P, reason: 'primary: ANALYZE', standbyRefuses: true },
  { sql: 'REINDEX TABLE accounts', label: P, reason: 'primary: REINDEX' },
  { sql: 'CHECKPOINT', label: P, reason: 'primary: CHECKPOINT', run: 'alone' },
  { sql: "ALTER SYSTEM SET work_mem = '8MB'", label: P, reason: 'primary: DDL', run: 'none', why: 'would rewrite postgresql.auto.conf of the shared cluster' },
  // Session state: pins
  { sql: "SET work_mem = '16MB'", label: P, reason: 'primary: SET', pins: ['set'] },
  { sql: 'SET SESSION statement_timeout TO 5000', label: P, pins: ['set'] },
  { sql: 'SET search_path TO public, billing', label: P, pins: ['set'] },
  { sql: "SET TIME ZONE 'UTC'", label: P, pins: ['set'] },
  { sql: 'SET ROLE app', label: P, pins: ['set'] },
  { sql: 'SET SESSION AUTHORIZATION app', label: P, pins: ['set'] },
  { sql: 'SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY', label: P, pins: ['set'] },
  { sql: 'RESET work_mem', label: P, reason: 'primary: RESET', pins: ['set'] },
  { sql: 'RESET ALL', label: P, reason: 'primary: RESET', pins: ['set'], sessionRoute: 'auto' },
  { sql: 'SET CONSTRAINTS ALL DEFERRED', label: P, reason: 'primary: SET CONSTRAINTS' },
  { sql: 'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ', label: P, reason: 'primary: SET TRANSACTION' },
  { sql: 'LISTEN orders_changed', label: P, reason: 'primary: LISTEN', standbyRefuses: true },
  { sql: 'UNLISTEN *', label: P, reason: 'primary: UNLISTEN' },
  { sql: 'UNLISTEN orders_changed', label: P, reason: 'primary: UNLISTEN' },
  { sql: "NOTIFY orders_changed, 'hi'", label: P, reason: 'primary: NOTIFY', standbyRefuses: true },
  { sql: 'DISCARD ALL', label: P, reason: 'primary: DISCARD', run: 'alone', sessionRoute: 'auto', unpins: ['set', 'temp-table', 'advisory-lock', 'with-hold-cursor'] },
  { sql: 'DISCARD TEMP', label: P, unpins: ['temp-table'] },
  { sql: 'DECLARE c CURSOR WITH HOLD FOR SELECT * FROM accounts', label: P, reason: 'primary: DECLARE WITH HOLD', pins: ['with-hold-cursor'] },
  { sql: 'CLOSE ALL', label: P, reason: 'primary: cursor', unpins: ['with-hold-cursor'] },
  { sql: 'FETCH NEXT FROM c', label: P, reason: 'primary: cursor', setup: ['DECLARE c CURSOR FOR SELECT 1'] },
  { sql: 'MOVE FORWARD 1 IN c', label: P, setup: ['DECLARE c CURSOR FOR SELECT 1'] },
  { sql: 'CLOSE c', label: P, setup: ['DECLARE c CURSOR FOR SELECT 1'] },
  // Prepared statements outlive ROLLBACK: each entry deallocates its own.
  { sql: 'EXECUTE q1(1)', label: P, reason: 'primary: EXECUTE', reads: "runs a SELECT this session prepared, on the primary's connection", setup: ['PREPARE q1 AS SELECT * FROM accounts WHERE id = $1'], after: ['DEALLOCATE q1'] },
  { sql: 'DEALLOCATE q2', label: P, reason: 'primary: DEALLOCATE', setup: ['PREPARE q2 AS SELECT 1'] },
  // Route hints
  { sql: 'SET pgmux.route = primary', label: P, reason: 'primary: SET pgmux.route', sessionRoute: 'primary', run: 'none', why: 'pgmux answers it; PostgreSQL refuses the reserved word unquoted', lexerOnly: 'PostgreSQL cannot parse the reserved word primary unquoted' },
  { sql: "SET pgmux.route = 'replica'", label: P, reason: 'primary: SET pgmux.route', sessionRoute: 'replica' },
  { sql: 'SET pgmux.route TO auto', label: P, sessionRoute: 'auto' },
  { sql: 'RESET pgmux.route', label: P, sessionRoute: 'auto' },
  { sql: '/* pgmux:primary */ SELECT 1', label: P, reason: 'primary: hint', reads: 'the client hints the primary' },
  { sql: '-- pgmux:primary\nSELECT * FROM accounts', label: P, reason: 'primary: hint', reads: 'the client hints the primary' },
  { sql: "/* pgmux:replica */ INSERT INTO accounts (name) VALUES ('h')", label: P, reason: 'primary: INSERT' },
  { sql: "/* pgmux:replica */ SELECT nextval('counter_seq')", label: P, reason: 'primary: volatile function nextval' },
  // Transactions that may write, two-phase commit, and primary-identity checks
  { sql: 'BEGIN', label: P, reason: 'primary: BEGIN', run: 'alone', after: ['ROLLBACK'] },
  { sql: 'START TRANSACTION READ WRITE', label: P, reason: 'primary: BEGIN', run: 'alone', after: ['ROLLBACK'] },
  { sql: 'BEGIN ISOLATION LEVEL SERIALIZABLE', label: P, run: 'alone', after: ['ROLLBACK'] },
  {
    sql: 'BEGIN ISOLATION LEVEL SERIALIZABLE, READ ONLY, DEFERRABLE',
    label: P,
    reason: 'primary: BEGIN',
    run: 'alone',
    after: ['ROLLBACK'],
    standbyRefuses: true,
    primaryAnswer: 'a read-only transaction, but SERIALIZABLE, which a standby refuses',
  },
  { sql: "PREPARE TRANSACTION 'x'", label: P, reason: 'primary: two-phase commit', pins: ['prepared-xact'], run: 'none', why: 'max_prepared_transactions is 0 in the spec cluster' },
  { sql: "COMMIT PREPARED 'x'", label: P, reason: 'primary: two-phase commit', run: 'none', why: 'no prepared transaction exists' },
  { sql: 'SHOW transaction_read_only', label: P, reason: 'primary: SHOW transaction_read_only', primaryAnswer: 'asks whether the server it reached is read-only' },
];

export const CORPUS: readonly CorpusEntry[] = [...READS, ...WRITES, ...APPS, ...ADMIN];

/** SQLSTATEs of a server too old for an entry's syntax: unknown syntax, function, type or column. */
export const TOO_NEW_CODES: ReadonlySet<string> = new Set(['42601', '42883', '42704', '42703']);

/**
 * SQLSTATEs of a hot standby refusing because it is one: read-only transaction (25006),
 * recovery in progress (55000), not supported in hot standby (0A000).
 */
export const STANDBY_CODES: ReadonlySet<string> = new Set(['25006', '55000', '0A000']);

/**
 * True when an error is a hot standby refusing because it is one: a STANDBY_CODES SQLSTATE, or
 * the internal error (XX000) it raises when asked for a new transaction id or OID ("cannot
 * assign OIDs during recovery", from lo_from_bytea and the like).
 */
export function standbyRefusal(code: string, message: string): boolean {
  return STANDBY_CODES.has(code) || (code === 'XX000' && /during recovery/.test(message));
}
