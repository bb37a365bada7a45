// The statement classifier, one behaviour per case, through the ClassifyTest builder: the
// lexer's tokenizing (strings, dollar quotes, comments, identifiers), what sends a statement to
// the primary, session pins, hints, multi-statement strings, and the Classifier's caches.

import { Classifier, loadParser, normalizedText, type Classification } from '../../lib/routing/classify';
import { ClassifyTest, expectClassification, type Want } from './harness';

beforeAll(() => loadParser());

interface Case {
  /** The bug this case catches, as the test title. */
  name: string;
  sql: string;
  given?: (t: ClassifyTest) => ClassifyTest;
  want: Want;
}

const R = 'replica' as const;
const P = 'primary' as const;
/** The pins DISCARD ALL releases: all but a prepared transaction's, which is not the session's. */
const ALL_PINS = ['set', 'temp-table', 'advisory-lock', 'with-hold-cursor'] as const;

const TOKENIZING: Case[] = [
  /** The common case must be settled by the lexer, or every new statement pays for the parser. */
  { name: 'a plain SELECT goes to a replica, settled by the lexer', sql: 'SELECT id FROM accounts WHERE id = 1', want: { target: R, reason: 'replica: plain select', tier: 'lexer' } },
  /** Leading parentheses must not hide the first keyword. */
  { name: 'a parenthesized set operation is still a plain select', sql: '((SELECT 1)) UNION (SELECT 2)', want: { target: R, reason: 'replica: plain select', tier: 'lexer' } },
  /** Words inside string literals are data, not SQL. */
  { name: "FOR UPDATE inside a '' string does not lock", sql: "SELECT 'x FOR UPDATE', 'INSERT INTO t' FROM t", want: { target: R, reason: 'replica: plain select', tier: 'lexer' } },
  /** A doubled quote does not end the string. */
  { name: "a doubled '' quote does not end the string early", sql: "SELECT 'it''s FOR UPDATE' FROM t", want: { target: R, reason: 'replica: plain select', tier: 'lexer' } },
  /** In E'' strings a backslash escapes the quote: treating it as the end would expose the rest as SQL. */
  { name: "E'' string with an escaped quote hides what follows", sql: "SELECT E'it\\' FOR UPDATE' FROM t", want: { target: R, reason: 'replica: plain select', tier: 'lexer' } },
  /** In standard '' strings a backslash is a plain character, so the string ends at the next quote. */
  { name: "a backslash does not escape in a standard '' string", sql: "SELECT 'a\\' FROM t FOR UPDATE", want: { target: P, reason: 'primary: FOR UPDATE', tier: 'parser' } },
  /** Without standard_conforming_strings the same text could be one string: the lexer cannot know, so primary. */
  {
    name: 'without standard_conforming_strings a backslash string goes to the primary',
    sql: "SELECT 'a\\' FROM t FOR UPDATE --'",
    given: (t) => t.withoutStandardConformingStrings(),
    want: { target: P, reason: 'primary: backslash in string without standard_conforming_strings' },
  },
  /** Dollar quotes may contain quotes, $$ of another tag, and keywords. */
  { name: 'dollar-quoted strings with tags and inner $$ hide their content', sql: "SELECT $a$ it's $$ FOR UPDATE $$ $a$, $$ INTO $$", want: { target: R, reason: 'replica: plain select', tier: 'lexer' } },
  /** `$1` is a parameter, not the start of a dollar quote that would swallow the statement. */
  { name: '$1 parameters are not dollar quotes', sql: 'SELECT $1, $2 FROM t WHERE a = $3', want: { target: R, reason: 'replica: plain select', tier: 'lexer' } },
  /** `$` inside an identifier does not open a dollar quote that would hide the FOR UPDATE after it. */
  { name: 'a $ inside an identifier is part of it', sql: 'SELECT a$b$ FROM t FOR UPDATE', want: { target: P, reason: 'primary: FOR UPDATE' } },
  /** Quoted identifiers may hold keywords and doubled quotes. */
  { name: 'quoted identifiers hold keywords without meaning them', sql: 'SELECT "for", "a""FOR UPDATE", "into" FROM "update"', want: { target: R, reason: 'replica: plain select', tier: 'lexer' } },
  /** Block comments nest in PostgreSQL; ending at the first close would expose FOR UPDATE. */
  { name: 'nested block comments hide what they contain', sql: 'SELECT 1 /* a /* b */ FOR UPDATE */ FROM t', want: { target: R, reason: 'replica: plain select', tier: 'lexer' } },
  /** A line comment runs to the end of the line only: what follows it is SQL again. */
  { name: 'a line comment ends at the newline', sql: 'SELECT 1 -- comment\nFROM t FOR UPDATE', want: { target: P, reason: 'primary: FOR UPDATE' } },
  /** U&'', B'', X'' and N'' are strings too, not a word followed by a string. */
  { name: "U&'', B'', X'' and N'' strings are skipped", sql: "SELECT U&'FOR UPDATE', B'1', X'F', N'INTO'", want: { target: R, reason: 'replica: plain select', tier: 'lexer' } },
  /** An unterminated string cannot be judged (PostgreSQL rejects it): the primary, never a guess. */
  { name: 'an unterminated string goes to the primary', sql: "SELECT 'open", want: { target: P, reason: 'primary: unparsable', tier: 'parser' } },
  /** An unterminated comment likewise. */
  { name: 'an unterminated comment goes to the primary', sql: 'SELECT 1 /* open', want: { target: P, reason: 'primary: unparsable', tier: 'parser' } },
  /** Whitespace and comments only is an empty query: nothing to protect, and not an error. */
  { name: 'an empty query (comments only) may go anywhere', sql: '  /* nothing */ -- here\n ; ', want: { target: R, reason: 'replica: empty', tier: 'lexer' } },
  /** `AS t(a, b)` declares columns; judging it as a call of a function t would send reads to the primary. */
  { name: 'an alias column list is not a function call', sql: 'SELECT * FROM generate_series(1, 3) AS g(i)', want: { target: R, reason: 'replica: plain select', tier: 'lexer' } },
  /** An alias without AS looks like a call to the lexer; the parser settles it instead of guessing. */
  { name: 'an alias without AS is left to the parser, which finds no call', sql: 'SELECT * FROM (VALUES (1)) v(x)', want: { target: R, reason: 'replica: plain select', tier: 'parser' } },
  /** Type modifiers `varchar(3)` and `numeric(10,2)` are not calls of unknown functions. */
  { name: 'type modifiers are not function calls', sql: "SELECT 'x'::varchar(3), CAST(1 AS numeric(10,2)), 1::pg_catalog.numeric(5)", want: { target: R, reason: 'replica: plain select', tier: 'lexer' } },
  /** A 5,000-item IN list is a plain select the lexer settles: the parser would take milliseconds. */
  {
    name: 'a huge IN list is settled by the lexer',
    sql: `SELECT * FROM t WHERE id IN (${Array.from({ length: 5000 }, (_, i) => i).join(', ')})`,
    want: { target: R, reason: 'replica: plain select', tier: 'lexer' },
  },
];

const WRITES: Case[] = [
  /** INSERT writes; the lexer knows from the first keyword. */
  { name: 'INSERT goes to the primary', sql: 'INSERT INTO t VALUES (1)', want: { target: P, reason: 'primary: INSERT', tier: 'lexer' } },
  /** UPDATE writes, whatever the case of the keyword. */
  { name: 'UPDATE goes to the primary', sql: 'update t set a = 1', want: { target: P, reason: 'primary: UPDATE', tier: 'lexer' } },
  /** DELETE writes. */
  { name: 'DELETE goes to the primary', sql: 'DELETE FROM t', want: { target: P, reason: 'primary: DELETE', tier: 'lexer' } },
  /** MERGE (PostgreSQL 15) writes. */
  { name: 'MERGE goes to the primary', sql: 'MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE', want: { target: P, reason: 'primary: MERGE', tier: 'lexer' } },
  /** A data-modifying CTE makes a SELECT write. */
  { name: 'a writing CTE sends a SELECT to the primary', sql: 'WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x', want: { target: P, reason: 'primary: writing CTE', tier: 'parser' } },
  /** …at any depth, not only at the top level. */
  {
    name: 'a writing CTE nested in another CTE is found',
    sql: 'WITH a AS (WITH b AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM b) SELECT * FROM a',
    want: { target: P, reason: 'primary: writing CTE' },
  },
  /** The statement's own kind is the reason when it writes itself, not its CTE. */
  { name: 'a CTE feeding an INSERT is reported as INSERT', sql: 'WITH a AS (SELECT 1) INSERT INTO t SELECT * FROM a', want: { target: P, reason: 'primary: INSERT', tier: 'parser' } },
  /** FOR UPDATE takes row locks, which a standby cannot. */
  { name: 'FOR UPDATE locks rows', sql: 'SELECT * FROM t FOR UPDATE', want: { target: P, reason: 'primary: FOR UPDATE' } },
  /** FOR NO KEY UPDATE is reported by its own name. */
  { name: 'FOR NO KEY UPDATE locks rows', sql: 'SELECT * FROM t FOR NO KEY UPDATE', want: { target: P, reason: 'primary: FOR NO KEY UPDATE' } },
  /** FOR SHARE locks too. */
  { name: 'FOR SHARE locks rows', sql: 'SELECT * FROM t FOR SHARE', want: { target: P, reason: 'primary: FOR SHARE' } },
  /** FOR KEY SHARE locks too. */
  { name: 'FOR KEY SHARE locks rows', sql: 'SELECT * FROM t FOR KEY SHARE', want: { target: P, reason: 'primary: FOR KEY SHARE' } },
  /** A locking clause in a subquery still locks. */
  { name: 'a locking clause in a subquery is found', sql: 'SELECT * FROM (SELECT * FROM t FOR UPDATE) s', want: { target: P, reason: 'primary: FOR UPDATE' } },
  /** FOR also appears in substring(… FOR n): the parser tells them apart, so reads are not pinned needlessly. */
  { name: 'FOR in substring() is not a lock', sql: 'SELECT substring(a FROM 1 FOR 2) FROM t', want: { target: R, reason: 'replica: plain select', tier: 'parser' } },
  /** SELECT INTO creates a table. */
  { name: 'SELECT INTO creates a table', sql: 'SELECT * INTO t2 FROM t', want: { target: P, reason: 'primary: SELECT INTO', tier: 'parser' } },
  /** nextval writes the sequence; the lexer knows it without parsing. */
  { name: 'nextval writes', sql: "SELECT nextval('s')", want: { target: P, reason: 'primary: volatile function nextval', tier: 'lexer' } },
  /** A schema qualifier does not hide a write function. */
  { name: 'a schema-qualified nextval writes', sql: "SELECT pg_catalog.nextval('s')", want: { target: P, reason: 'primary: volatile function nextval', tier: 'lexer' } },
  /** Neither do quotes around its name. */
  { name: 'a quoted nextval writes', sql: `SELECT "nextval"('s')`, want: { target: P, reason: 'primary: volatile function nextval' } },
  /** txid_current assigns a transaction id, which a standby cannot. */
  { name: 'txid_current assigns a transaction id', sql: 'SELECT txid_current()', want: { target: P, reason: 'primary: volatile function txid_current' } },
  /** pg_current_wal_lsn fails during recovery. */
  { name: 'pg_current_wal_lsn fails on a standby', sql: 'SELECT pg_current_wal_lsn()', want: { target: P, reason: 'primary: volatile function pg_current_wal_lsn' } },
  /** pg_notify notifies listeners, who are on the primary. */
  { name: 'pg_notify notifies', sql: "SELECT pg_notify('c', 'x')", want: { target: P, reason: 'primary: volatile function pg_notify' } },
  /** Every lo_* function is on the write list by prefix. */
  { name: 'lo_* functions write large objects', sql: "SELECT lo_import('/etc/hosts')", want: { target: P, reason: 'primary: volatile function lo_import' } },
  /** VALUES lists are scanned for calls like SELECTs. */
  { name: 'a call in a VALUES list is judged', sql: "VALUES (nextval('s'))", want: { target: P, reason: 'primary: volatile function nextval', tier: 'lexer' } },
  /** The strongest reason wins, whatever the order: a lock outranks a function. */
  { name: 'the reason is the strongest one in the statement', sql: "SELECT nextval('s') FROM t FOR UPDATE", want: { target: P, reason: 'primary: FOR UPDATE' } },
  /** EXPLAIN only plans, which a standby can do even for a write. */
  { name: 'EXPLAIN of a write only plans it', sql: 'EXPLAIN DELETE FROM t', want: { target: R, reason: 'replica: EXPLAIN' } },
  /** EXPLAIN ANALYZE runs the statement. */
  { name: 'EXPLAIN ANALYZE of a write runs it', sql: 'EXPLAIN ANALYZE DELETE FROM t', want: { target: P, reason: 'primary: EXPLAIN ANALYZE of a write' } },
  /** An explicit ANALYZE off does not run it. */
  { name: 'EXPLAIN (ANALYZE off) of a write only plans it', sql: 'EXPLAIN (ANALYZE off) DELETE FROM t', want: { target: R, reason: 'replica: EXPLAIN' } },
  /** ANALYZE 1 is on. */
  { name: 'EXPLAIN (ANALYZE 1) of a write runs it', sql: 'EXPLAIN (ANALYZE 1) DELETE FROM t', want: { target: P, reason: 'primary: EXPLAIN ANALYZE of a write' } },
  /** EXPLAIN ANALYZE of a read runs a read. */
  { name: 'EXPLAIN ANALYZE of a read may use a replica', sql: 'EXPLAIN ANALYZE SELECT * FROM t', want: { target: R, reason: 'replica: EXPLAIN' } },
  /** COPY FROM writes. */
  { name: 'COPY FROM writes', sql: 'COPY t FROM STDIN', want: { target: P, reason: 'primary: COPY FROM' } },
  /** COPY TO STDOUT reads. */
  { name: 'COPY TO STDOUT reads', sql: 'COPY t TO STDOUT', want: { target: R, reason: 'replica: COPY TO STDOUT' } },
  /** COPY TO a server file writes that file on whichever server runs it: the primary, as without pgmux. */
  { name: 'COPY TO a server file acts on the primary', sql: "COPY t TO '/tmp/t.csv'", want: { target: P, reason: 'primary: COPY TO file' } },
  /** COPY (DELETE … RETURNING) TO STDOUT writes. */
  { name: 'COPY of a writing query writes', sql: 'COPY (DELETE FROM t RETURNING *) TO STDOUT', want: { target: P, reason: 'primary: DELETE' } },
  /** LOCK takes table locks. */
  { name: 'LOCK goes to the primary', sql: 'LOCK TABLE t IN ACCESS SHARE MODE', want: { target: P, reason: 'primary: LOCK', tier: 'lexer' } },
  /** DDL changes the schema. */
  { name: 'DDL goes to the primary', sql: 'ALTER TABLE t ADD COLUMN c int', want: { target: P, reason: 'primary: DDL', tier: 'lexer' } },
  /** CREATE is the parser's (temporary objects pin); an ordinary table does not pin. */
  { name: 'CREATE TABLE goes to the primary without pins', sql: 'CREATE TABLE t (a int)', want: { target: P, reason: 'primary: DDL', tier: 'parser' } },
  /** BEGIN ATOMIC bodies contain semicolons that do not end the statement. */
  {
    name: 'a BEGIN ATOMIC function body is one statement',
    sql: 'CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END',
    want: { target: P, reason: 'primary: DDL', tier: 'parser' },
  },
  /** VACUUM fails during recovery. */
  { name: 'VACUUM goes to the primary', sql: 'VACUUM t', want: { target: P, reason: 'primary: VACUUM', tier: 'lexer' } },
  /** ANALYZE (the command, not EXPLAIN's option) fails during recovery. */
  { name: 'ANALYZE goes to the primary', sql: 'ANALYZE t', want: { target: P, reason: 'primary: ANALYZE', tier: 'lexer' } },
  /** A bulk INSERT takes the lexer's shortcut, but a statement after it still counts. */
  {
    name: 'a long INSERT followed by SET still pins',
    sql: `INSERT INTO t VALUES ${Array.from({ length: 500 }, (_, i) => `(${i}, 'row ${i}')`).join(', ')}; SET x.y = 1`,
    want: { target: P, reason: 'primary: INSERT', tier: 'lexer', pins: ['set'] },
  },
  /** …and so does a pinning call inside it. */
  {
    name: 'a long INSERT calling pg_advisory_lock still pins',
    sql: `INSERT INTO t VALUES ${Array.from({ length: 500 }, (_, i) => `(${i}, 'row ${i}')`).join(', ')}, (0, PG_ADVISORY_LOCK(1)::text)`,
    want: { target: P, reason: 'primary: INSERT', tier: 'parser', pins: ['advisory-lock'] },
  },
  /** Text the grammar rejects is unknown: the primary. */
  { name: 'unparsable text goes to the primary', sql: 'SELEC 1', want: { target: P, reason: 'primary: unparsable', tier: 'parser' } },
  /** Over the parse limit, an unsure statement is not parsed at all (no event-loop stall). */
  { name: 'an unsure statement over the parse limit goes to the primary unparsed', sql: 'SELECT * FROM t FOR UPDATE', given: (t) => t.parseLimit(10), want: { target: P, reason: 'primary: too long to parse' } },
];

const FUNCTIONS: Case[] = [
  /** `write_functions` lists functions that write as a side effect. */
  { name: 'a write_functions entry sends calls to the primary', sql: 'SELECT audit(1)', given: (t) => t.writeFunction('audit'), want: { target: P, reason: 'primary: volatile function audit', tier: 'lexer' } },
  /** A qualified entry matches the unqualified call too (search_path may resolve to it), in any case. */
  { name: 'a schema-qualified write_functions entry also matches the unqualified call', sql: 'SELECT audit(1)', given: (t) => t.writeFunction('app.Audit'), want: { target: P, reason: 'primary: volatile function audit' } },
  /** provolatile 'v' from pg_proc sends the call to the primary. */
  { name: 'a volatile user function goes to the primary', sql: 'SELECT f(1)', given: (t) => t.volatile('f'), want: { target: P, reason: 'primary: volatile function f', tier: 'lexer' } },
  /** A stable or immutable user function cannot write. */
  { name: 'a stable user function stays on a replica', sql: 'SELECT f(1) FROM t', given: (t) => t.stable('f'), want: { target: R, reason: 'replica: plain select', tier: 'lexer' } },
  /** The lookup gets the schema of a qualified call, so same-named functions in two schemas are told apart. */
  { name: 'a schema-qualified call is looked up with its schema', sql: 'SELECT billing.total(1)', given: (t) => t.volatile('billing.total'), want: { target: P, reason: 'primary: volatile function total' } },
  /** `read_only_functions` overrides a volatile lookup (volatile for randomness, not writes). */
  { name: 'read_only_functions overrides a volatile lookup', sql: 'SELECT f(1)', given: (t) => t.volatile('f').readOnlyFunction('f'), want: { target: R, reason: 'replica: plain select', tier: 'lexer' } },
  /** …but not the built-in write list: nextval fails on a standby whatever the settings say. */
  { name: 'read_only_functions cannot make nextval read-only', sql: "SELECT nextval('s')", given: (t) => t.readOnlyFunction('nextval'), want: { target: P, reason: 'primary: volatile function nextval' } },
  /** Unknown volatility is unsure: the primary, and the name is reported for a pg_proc lookup. */
  { name: 'an unknown function goes to the primary and is reported', sql: 'SELECT mystery(1) FROM t', want: { target: P, reason: 'primary: unknown function mystery', tier: 'parser', unknownFunctions: ['mystery'] } },
  /** The report keeps the schema of a qualified unknown call. */
  { name: 'an unknown qualified function is reported with its schema', sql: 'SELECT s.mystery()', want: { target: P, reason: 'primary: unknown function mystery', unknownFunctions: ['s.mystery'] } },
  /** Unqualified built-in names resolve to pg_catalog, which is searched first. */
  { name: 'a user function named like a built-in does not change the built-in call', sql: "SELECT lower('X')", given: (t) => t.volatile('lower'), want: { target: R, reason: 'replica: plain select', tier: 'lexer' } },
  /** Volatile built-ins that only read stay on replicas. */
  { name: 'random() and clock_timestamp() only read', sql: 'SELECT random(), clock_timestamp(), gen_random_uuid()', want: { target: R, reason: 'replica: plain select', tier: 'lexer' } },
  /** A write function outranks a volatile user function in the reason (and a hint cannot override it). */
  { name: 'a write function outranks a user function in the reason', sql: "SELECT f(), nextval('s')", given: (t) => t.volatile('f'), want: { target: P, reason: 'primary: volatile function nextval' } },
];

const SESSION: Case[] = [
  /** A session setting is session state, but pgmux replays it on any server (lib/session/settings): routing does not pin for it. */
  { name: 'SET is session state that follows the client', sql: "SET work_mem = '8MB'", want: { target: P, reason: 'primary: SET', tier: 'lexer', pins: ['set'], setFollows: true } },
  /** The same through the parser (SET SESSION ... with a list value). */
  { name: 'SET SESSION search_path follows the client', sql: 'SET SESSION search_path TO a, "B c"', want: { target: P, reason: 'primary: SET', pins: ['set'], setFollows: true } },
  /** SERIALIZABLE as the default would fail every transaction on a hot standby: it keeps the client on the primary. */
  { name: 'SET default_transaction_isolation pins the session', sql: "SET default_transaction_isolation = 'serializable'", want: { target: P, reason: 'primary: SET', pins: ['set'], setFollows: false } },
  /** SET SESSION AUTHORIZATION changes who the session is; pgmux does not replay it. */
  { name: 'SET SESSION AUTHORIZATION pins the session', sql: 'SET SESSION AUTHORIZATION app', want: { target: P, reason: 'primary: SET', pins: ['set'], setFollows: false } },
  /** pgmux.* other than route and key is never replayed. */
  { name: 'SET of another pgmux.* setting pins the session', sql: "SET pgmux.other = 'x'", want: { target: P, reason: 'primary: SET', pins: ['set'], setFollows: false } },
  /** A set_config whose name is not a literal cannot be followed. */
  { name: 'set_config with a computed name pins the session', sql: "SELECT set_config(lower('A.B'), 'c', false)", want: { target: P, reason: 'primary: volatile function set_config', pins: ['set'], setFollows: false } },
  /** A set_config of a literal name follows the client. */
  { name: 'set_config of a literal name follows the client', sql: "SELECT set_config('search_path', 'a', false)", want: { target: P, reason: 'primary: volatile function set_config', pins: ['set'], setFollows: true } },
  /** One statement that must pin makes the whole text pin. */
  { name: 'a sticky SET among following ones pins', sql: "SET work_mem = '1MB'; SET default_transaction_isolation = 'serializable'", want: { target: P, reason: 'primary: SET', pins: ['set'], setFollows: false } },
  /** SET LOCAL lasts one transaction, which has its own server anyway. */
  { name: 'SET LOCAL lasts one transaction and pins nothing', sql: "SET LOCAL work_mem = '8MB'", want: { target: R, reason: 'replica: SET LOCAL', tier: 'lexer' } },
  /** SET TRANSACTION lasts one transaction. */
  { name: 'SET TRANSACTION lasts one transaction and pins nothing', sql: 'SET TRANSACTION ISOLATION LEVEL SERIALIZABLE', want: { target: P, reason: 'primary: SET TRANSACTION', tier: 'parser' } },
  /** So does SET TRANSACTION SNAPSHOT. */
  { name: 'SET TRANSACTION SNAPSHOT pins nothing', sql: "SET TRANSACTION SNAPSHOT '00000003-0000001B-1'", want: { target: P, reason: 'primary: SET TRANSACTION' } },
  /** SET SESSION CHARACTERISTICS lasts the session. */
  { name: 'SET SESSION CHARACTERISTICS pins the session', sql: 'SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY', want: { target: P, reason: 'primary: SET', pins: ['set'], setFollows: false } },
  /** RESET changes session state too. */
  { name: 'RESET is session state that follows the client', sql: 'RESET work_mem', want: { target: P, reason: 'primary: RESET', pins: ['set'], setFollows: true } },
  /** RESET ALL also resets pgmux.route (a placeholder setting like any other). */
  { name: 'RESET ALL pins and resets the route hint', sql: 'RESET ALL', want: { target: P, reason: 'primary: RESET', pins: ['set'], sessionRoute: 'auto' } },
  /** set_config(…, false) is a session-level SET. */
  { name: 'set_config(…, false) pins the session', sql: "SELECT set_config('a.b', 'c', false)", want: { target: P, reason: 'primary: volatile function set_config', pins: ['set'] } },
  /** set_config(…, true) is SET LOCAL. */
  { name: 'set_config(…, true) lasts one transaction', sql: "SELECT set_config('a.b', 'c', true)", want: { target: P, reason: 'primary: volatile function set_config' } },
  /** LISTEN goes to the primary (a standby refuses it) but pins nothing: pgmux's listener connection receives the notifications (lib/session/channels). */
  { name: 'LISTEN goes to the primary without pinning', sql: 'LISTEN ch', want: { target: P, reason: 'primary: LISTEN' } },
  /** UNLISTEN * has no pin to release. */
  { name: 'UNLISTEN * releases no pin', sql: 'UNLISTEN *', want: { target: P, reason: 'primary: UNLISTEN' } },
  /** UNLISTEN of one channel likewise. */
  { name: 'UNLISTEN of one channel goes to the primary', sql: 'UNLISTEN ch', want: { target: P, reason: 'primary: UNLISTEN' } },
  /** A temporary table exists in one session on one server. */
  { name: 'CREATE TEMP TABLE pins the session', sql: 'CREATE TEMP TABLE x (a int)', want: { target: P, reason: 'primary: DDL', pins: ['temp-table'] } },
  /** ON COMMIT DROP ends with the transaction. */
  { name: 'a temp table dropped at commit does not pin', sql: 'CREATE TEMP TABLE x (a int) ON COMMIT DROP', want: { target: P, reason: 'primary: DDL' } },
  /** pg_temp.x is a temporary table without the TEMP keyword. */
  { name: 'a table in pg_temp pins', sql: 'CREATE TABLE pg_temp.x (a int)', want: { target: P, reason: 'primary: DDL', pins: ['temp-table'] } },
  /** SELECT INTO TEMP creates one. */
  { name: 'SELECT INTO TEMP pins', sql: 'SELECT 1 INTO TEMP x', want: { target: P, reason: 'primary: SELECT INTO', pins: ['temp-table'] } },
  /** CREATE TEMP TABLE AS creates one. */
  { name: 'CREATE TEMP TABLE AS pins', sql: 'CREATE TEMP TABLE x AS SELECT 1', want: { target: P, reason: 'primary: DDL', pins: ['temp-table'] } },
  /** Temporary views are session objects too. */
  { name: 'a temp view pins', sql: 'CREATE TEMP VIEW v AS SELECT 1', want: { target: P, reason: 'primary: DDL', pins: ['temp-table'] } },
  /** So are temporary sequences. */
  { name: 'a temp sequence pins', sql: 'CREATE TEMP SEQUENCE s', want: { target: P, reason: 'primary: DDL', pins: ['temp-table'] } },
  /** And functions created in pg_temp. */
  { name: 'a function in pg_temp pins', sql: 'CREATE FUNCTION pg_temp.f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$', want: { target: P, reason: 'primary: DDL', pins: ['temp-table'] } },
  /** A session advisory lock is held past the transaction. */
  { name: 'a session advisory lock pins', sql: 'SELECT pg_advisory_lock(1)', want: { target: P, reason: 'primary: volatile function pg_advisory_lock', pins: ['advisory-lock'] } },
  /** So is one taken by a successful try. */
  { name: 'a try advisory lock pins', sql: 'SELECT pg_try_advisory_lock_shared(1)', want: { target: P, reason: 'primary: volatile function pg_try_advisory_lock_shared', pins: ['advisory-lock'] } },
  /** A transaction advisory lock ends with the transaction. */
  { name: 'a transaction advisory lock does not pin', sql: 'SELECT pg_advisory_xact_lock(1)', want: { target: P, reason: 'primary: volatile function pg_advisory_xact_lock' } },
  /** pg_advisory_unlock_all releases every session lock. */
  { name: 'pg_advisory_unlock_all releases the pin', sql: 'SELECT pg_advisory_unlock_all()', want: { target: P, reason: 'primary: volatile function pg_advisory_unlock_all', unpins: ['advisory-lock'] } },
  /** The lexer leaves pin functions inside DML to the parser, which still finds the pin. */
  { name: 'an advisory lock taken inside an INSERT still pins', sql: 'INSERT INTO t SELECT pg_advisory_lock(1)', want: { target: P, reason: 'primary: INSERT', tier: 'parser', pins: ['advisory-lock'] } },
  /** A WITH HOLD cursor outlives its transaction. */
  { name: 'DECLARE WITH HOLD pins', sql: 'DECLARE c CURSOR WITH HOLD FOR SELECT 1', want: { target: P, reason: 'primary: DECLARE WITH HOLD', pins: ['with-hold-cursor'] } },
  /** A cursor without HOLD lives in its transaction: it goes where its query may. */
  { name: 'DECLARE without HOLD follows its query', sql: 'DECLARE c CURSOR FOR SELECT 1', want: { target: R, reason: 'replica: plain select' } },
  /** …and a cursor over a locking query locks. */
  { name: 'DECLARE of a locking query goes to the primary', sql: 'DECLARE c CURSOR FOR SELECT * FROM t FOR UPDATE', want: { target: P, reason: 'primary: FOR UPDATE' } },
  /** CLOSE ALL closes every held cursor. */
  { name: 'CLOSE ALL releases the cursor pin', sql: 'CLOSE ALL', want: { target: P, reason: 'primary: cursor', unpins: ['with-hold-cursor'] } },
  /** DISCARD ALL resets the whole session. */
  { name: 'DISCARD ALL releases every pin and the route hint', sql: 'DISCARD ALL', want: { target: P, reason: 'primary: DISCARD', unpins: [...ALL_PINS], sessionRoute: 'auto' } },
  /** DISCARD TEMP drops temporary objects only. */
  { name: 'DISCARD TEMP releases the temp-table pin', sql: 'DISCARD TEMP', want: { target: P, reason: 'primary: DISCARD', unpins: ['temp-table'] } },
];

const TRANSACTIONS: Case[] = [
  /** A plain BEGIN may write: its transaction belongs on the primary. */
  { name: 'BEGIN may write: the primary', sql: 'BEGIN', want: { target: P, reason: 'primary: BEGIN', tier: 'lexer' } },
  /** A read-only transaction may run on a replica. */
  { name: 'BEGIN READ ONLY may use a replica', sql: 'BEGIN READ ONLY', want: { target: R, reason: 'replica: BEGIN READ ONLY', tier: 'parser' } },
  /** START TRANSACTION with READ ONLY among other modes is read-only too. */
  { name: 'START TRANSACTION READ ONLY may use a replica', sql: 'START TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY', want: { target: R, reason: 'replica: BEGIN READ ONLY' } },
  /** A hot standby refuses SERIALIZABLE. */
  { name: 'BEGIN READ ONLY SERIALIZABLE needs the primary', sql: 'BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY', want: { target: P, reason: 'primary: BEGIN' } },
  /** READ WRITE is explicit. */
  { name: 'BEGIN READ WRITE needs the primary', sql: 'BEGIN READ WRITE', want: { target: P, reason: 'primary: BEGIN' } },
  /** COMMIT outside a transaction is a no-op anywhere; inside, the transaction's server gets it. */
  { name: 'COMMIT goes wherever the transaction is', sql: 'COMMIT', want: { target: R, reason: 'replica: transaction control', tier: 'lexer' } },
  /** Savepoints likewise. */
  { name: 'ROLLBACK TO SAVEPOINT goes wherever the transaction is', sql: 'ROLLBACK TO SAVEPOINT s1', want: { target: R, reason: 'replica: transaction control', tier: 'lexer' } },
  /** Two-phase commit lives on the primary. */
  { name: 'COMMIT PREPARED needs the primary', sql: "COMMIT PREPARED 'x'", want: { target: P, reason: 'primary: two-phase commit', tier: 'parser' } },
  /** A prepared transaction outlives its transaction: its client keeps the server (lib/session/pins). */
  { name: 'PREPARE TRANSACTION pins', sql: "PREPARE TRANSACTION 'x'", want: { target: P, reason: 'primary: two-phase commit', pins: ['prepared-xact'], tier: 'parser' } },
  /** Clients ask this (JDBC, libpq read-write checks) to find out whether they reached the primary. */
  { name: 'SHOW transaction_read_only is answered by the primary', sql: 'SHOW transaction_read_only', want: { target: P, reason: 'primary: SHOW transaction_read_only', tier: 'lexer' } },
  /** Other settings read the same anywhere. */
  { name: 'other SHOWs may use a replica', sql: 'SHOW work_mem', want: { target: R, reason: 'replica: SHOW', tier: 'lexer' } },
];

const MULTI: Case[] = [
  /** Several reads in one string stay on a replica. */
  { name: 'reads only: a replica', sql: 'SELECT 1; SELECT 2;', want: { target: R, reason: 'replica: plain select', tier: 'lexer' } },
  /** Any part that needs the primary sends the whole string there, reporting that part. */
  { name: 'a read then a write: the primary, for the write', sql: 'SELECT 1; INSERT INTO t VALUES (1)', want: { target: P, reason: 'primary: INSERT', tier: 'lexer' } },
  /** …whichever comes first. */
  { name: 'a write then a read: the primary, for the write', sql: 'UPDATE t SET a = 1; SELECT 1', want: { target: P, reason: 'primary: UPDATE', tier: 'lexer' } },
  /** A later statement the lexer is unsure of sends the whole string to the parser. */
  { name: 'a lock in the second statement is found', sql: 'SELECT 1; SELECT * FROM t FOR UPDATE', want: { target: P, reason: 'primary: FOR UPDATE', tier: 'parser' } },
  /** Pins of every part count. */
  { name: 'pins of all statements are collected', sql: "CREATE TEMP TABLE tt (a int); SET x.y = '1'", want: { target: P, reason: 'primary: DDL', pins: ['set', 'temp-table'] } },
  /** A later unpin releases an earlier pin. */
  { name: 'a later unpin releases an earlier pin', sql: 'CREATE TEMP TABLE tt (a int); DISCARD TEMP', want: { target: P, reason: 'primary: DDL', unpins: ['temp-table'] } },
  /** A pin after an unpin survives it. */
  { name: 'a pin after an unpin survives', sql: 'SELECT pg_advisory_unlock_all(); SELECT pg_advisory_lock(1)', want: { target: P, reason: 'primary: volatile function pg_advisory_unlock_all', pins: ['advisory-lock'], unpins: ['advisory-lock'] } },
  /** A read-only transaction in one string stays on a replica. */
  { name: 'BEGIN READ ONLY with reads stays on a replica', sql: 'BEGIN READ ONLY; SELECT 1; COMMIT', want: { target: R, reason: 'replica: BEGIN READ ONLY', tier: 'parser' } },
];

const HINTS: Case[] = [
  /** The primary hint sends a read to the primary (e.g. a read that must see its own write). */
  { name: '/* pgmux:primary */ sends a read to the primary', sql: '/* pgmux:primary */ SELECT 1', want: { target: P, reason: 'primary: hint', hint: 'primary', tier: 'lexer' } },
  /** Hints are written by hand: case and spacing vary. */
  { name: 'hints ignore case and spacing', sql: '/*PGMUX: Primary*/SELECT 1', want: { target: P, reason: 'primary: hint', hint: 'primary' } },
  /** A line comment works as well as a block comment. */
  { name: 'a -- pgmux:primary line comment is a hint too', sql: '-- pgmux:primary\nSELECT 1', want: { target: P, reason: 'primary: hint', hint: 'primary' } },
  /** Tracing tools (sqlcommenter) add their own leading comments. */
  { name: 'a hint after other leading comments counts', sql: "/* traceparent='00-ab' */ /* pgmux:primary */ SELECT 1", want: { target: P, reason: 'primary: hint', hint: 'primary' } },
  /** Only a leading comment is a hint; a comment later in the text is just a comment. */
  { name: 'a hint comment after the first token is ignored', sql: 'SELECT /* pgmux:primary */ 1', want: { target: R, reason: 'replica: plain select' } },
  /** The replica hint vouches for user functions the classifier cannot judge. */
  { name: '/* pgmux:replica */ overrides a volatile user function', sql: '/* pgmux:replica */ SELECT f()', given: (t) => t.volatile('f'), want: { target: R, reason: 'replica: hint', hint: 'replica' } },
  /** …including unknown ones. */
  { name: '/* pgmux:replica */ overrides an unknown function', sql: '/* pgmux:replica */ SELECT mystery()', want: { target: R, reason: 'replica: hint', hint: 'replica', tier: 'parser', unknownFunctions: ['mystery'] } },
  /** …but cannot make a write run on a replica, where it would fail. */
  { name: '/* pgmux:replica */ cannot send an INSERT to a replica', sql: '/* pgmux:replica */ INSERT INTO t VALUES (1)', want: { target: P, reason: 'primary: INSERT', hint: 'replica' } },
  /** …nor a built-in write function. */
  { name: '/* pgmux:replica */ cannot send nextval to a replica', sql: "/* pgmux:replica */ SELECT nextval('s')", want: { target: P, reason: 'primary: volatile function nextval', hint: 'replica' } },
  /** …nor a row lock. */
  { name: '/* pgmux:replica */ cannot send FOR UPDATE to a replica', sql: '/* pgmux:replica */ SELECT * FROM t FOR UPDATE', want: { target: P, reason: 'primary: FOR UPDATE', hint: 'replica' } },
  /** The session hint unquoted: primary is a reserved word PostgreSQL rejects there, so only the lexer reads it. */
  { name: 'SET pgmux.route = primary is the session hint', sql: 'SET pgmux.route = primary', want: { target: P, reason: 'primary: SET pgmux.route', sessionRoute: 'primary', tier: 'lexer' } },
  /** Quoted, in any case, with TO. */
  { name: "SET pgmux.route TO 'replica' is the session hint", sql: "set PGMUX.ROUTE to 'Replica'", want: { target: P, reason: 'primary: SET pgmux.route', sessionRoute: 'replica' } },
  /** auto ends the session hint; SET SESSION is the same as SET. */
  { name: 'SET pgmux.route = auto clears the session hint', sql: 'SET SESSION pgmux.route = auto;', want: { target: P, reason: 'primary: SET pgmux.route', sessionRoute: 'auto' } },
  /** DEFAULT is auto. */
  { name: 'SET pgmux.route = DEFAULT means auto', sql: 'SET pgmux.route = DEFAULT', want: { target: P, reason: 'primary: SET pgmux.route', sessionRoute: 'auto' } },
  /** RESET is auto. */
  { name: 'RESET pgmux.route means auto', sql: 'RESET pgmux.route', want: { target: P, reason: 'primary: SET pgmux.route', sessionRoute: 'auto' } },
  /** A value that is not a route is an ordinary (pinning) SET, not a silent hint change. */
  { name: 'an invalid pgmux.route value is an ordinary SET', sql: "SET pgmux.route = 'sideways'", want: { target: P, reason: 'primary: SET', pins: ['set'] } },
  /** SET LOCAL lasts one transaction: it is not the session's hint. */
  { name: 'SET LOCAL pgmux.route is not the session hint', sql: 'SET LOCAL pgmux.route = replica', want: { target: R, reason: 'replica: SET LOCAL' } },
  /** In a string the parser reads, the quoted form is still recognized. */
  { name: 'SET pgmux.route in a multi-statement string the parser reads', sql: "SET pgmux.route = 'replica'; SELECT * FROM t FOR UPDATE", want: { target: P, reason: 'primary: SET pgmux.route', sessionRoute: 'replica', tier: 'parser' } },
];

describe.each([
  ['tokenizing', TOKENIZING],
  ['what needs the primary', WRITES],
  ['function calls', FUNCTIONS],
  ['session pins', SESSION],
  ['transactions', TRANSACTIONS],
  ['multi-statement strings', MULTI],
  ['hints', HINTS],
] as const)('classify: %s', (_, cases) => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const t = (c.given ?? ((x: ClassifyTest) => x))(ClassifyTest.given());
    expectClassification(t.classify(c.sql), c.want);
  });
});

describe('classify: the volatility lookup', () => {
  /** Catches lookups of built-ins (a pg_proc query per call) and lost schemas on qualified calls. */
  it('is asked only about non-built-in functions, with the schema when qualified', () => {
    const t = ClassifyTest.given().stable('f', 's.g');
    t.classify("SELECT upper('a'), count(*), f(1), s.g(2) FROM t");
    expect(t.asked.filter(([n]) => n === 'f' || n === 'g')).toContainEqual(['f', undefined]);
    expect(t.asked).toContainEqual(['g', 's']);
    expect(t.asked.map(([n]) => n)).not.toContain('upper');
    expect(t.asked.map(([n]) => n)).not.toContain('count');
  });
});

describe('Classifier caches', () => {
  /** Catches a cache that does not cache: the hot path would re-lex (or re-parse) every statement. */
  it('answers a repeated text from the exact cache with the same object', () => {
    const c = new Classifier();
    const a = c.classify('SELECT * FROM t WHERE id = 1');
    const b = c.classify('SELECT * FROM t WHERE id = 1');
    expect(b).toBe(a);
    expect(c.stats).toEqual({ exactHits: 1, normalizedHits: 0, lexer: 1, parser: 0 });
  });

  /** Catches simple-protocol traffic (literals inline) paying the parser for every distinct literal. */
  it('answers parser-tier texts that differ only in literals and comments from the normalized cache', () => {
    const c = new Classifier();
    const first = c.classify("SELECT * FROM t WHERE id = 1 AND s = 'a' FOR UPDATE");
    const second = c.classify("/* trace 2 */ select * from T where id = 42 and s = E'b' for update");
    expect(second).toBe(first);
    expect(c.stats).toMatchObject({ parser: 1, normalizedHits: 1 });
  });

  /** Catches lexer answers filling the normalized cache (they are cheap to recompute). */
  it('keeps lexer-settled answers out of the normalized cache', () => {
    const c = new Classifier();
    c.classify('SELECT 1');
    c.classify('INSERT INTO t VALUES (2)');
    expect(c.size).toEqual({ exact: 2, normalized: 0 });
  });

  /** Catches a hint lost in normalization: the hinted and unhinted texts differ only in a comment. */
  it('keeps hinted and unhinted texts apart in the normalized cache', () => {
    const c = new Classifier();
    expect(c.classify('SELECT mystery() FROM t FOR SHARE').reason).toBe('primary: FOR SHARE');
    const hinted = c.classify('/* pgmux:primary */ SELECT mystery() FROM t FOR SHARE');
    expect(hinted).toMatchObject({ reason: 'primary: hint', hint: 'primary' });
  });

  /** Catches a literal-dependent answer shared through the normalized cache: ANALYZE 0 plans, ANALYZE 1 runs. */
  it('never answers literal-dependent statements from the normalized cache', () => {
    const c = new Classifier();
    expect(c.classify('EXPLAIN (ANALYZE 0) DELETE FROM t').target).toBe('replica');
    expect(c.classify('EXPLAIN (ANALYZE 1) DELETE FROM t').target).toBe('primary');
    expect(c.classify("SET pgmux.route = 'replica'; SELECT 1").sessionRoute).toBe('replica');
    expect(c.classify("SET pgmux.route = 'primary'; SELECT 1").sessionRoute).toBe('primary');
    expect(c.stats.normalizedHits).toBe(0);
  });

  /** Catches stale answers after pg_proc was (re)read: invalidate() must forget them. */
  it('changes its answer after invalidate() when the volatility lookup learns a function', () => {
    const known = new Map<string, boolean>();
    const c = new Classifier({ isVolatile: (name) => known.get(name) });
    const sql = 'SELECT f(1) FROM t';
    expect(c.classify(sql)).toMatchObject({ target: 'primary', unknownFunctions: ['f'] });
    known.set('f', false);
    expect(c.classify(sql).target).toBe('primary'); // still cached
    c.invalidate();
    expect(c.classify(sql).target).toBe('replica');
  });

  /** Catches an unbounded cache: a client sending endless distinct texts would grow memory forever. */
  it('is bounded by entries and by characters', () => {
    const byCount = new Classifier({}, { max: 3 });
    for (let i = 0; i < 20; i++) byCount.classify(`SELECT ${i}`);
    expect(byCount.size.exact).toBe(3);
    const byChars = new Classifier({}, { maxChars: 1000 });
    byChars.classify(`SELECT '${'x'.repeat(2000)}'`);
    expect(byChars.size.exact).toBe(0);
  });

  /**
   * Catches one client's standard_conforming_strings leaking into another's answer through the
   * cache: the same text is two different statements under the two settings.
   */
  it('does not share answers between standard_conforming_strings on and off', () => {
    const c = new Classifier();
    const sql = "SELECT 'a\\' FROM t FOR UPDATE --'";
    expect(c.classify(sql, true).reason).toBe('primary: FOR UPDATE');
    expect(c.classify(sql, false).reason).toBe('primary: backslash in string without standard_conforming_strings');
    expect(c.classify(sql, true).reason).toBe('primary: FOR UPDATE');
  });
});

describe('normalizedText', () => {
  /** Catches a normalizer that merges different statements or splits equal ones. */
  it('drops literals and comments, folds unquoted case, keeps quoted identifiers and parameters', () => {
    expect(normalizedText("SELECT a, \"B\" FROM t /* x */ WHERE c = 'x' AND d = 1.5e3 AND e = $1 -- y")).toBe(
      'select a , "B" from t where c = \0 and d = \0 and e = $1',
    );
    expect(normalizedText('SELECT $$a$$, E\'b\\\'c\', 42')).toBe(normalizedText("select 'z', 'y', 7"));
    expect(normalizedText("SELECT 'open")).toBeUndefined();
  });
});

describe('before loadParser() finishes', () => {
  /**
   * Catches a classifier that trusts the lexer for unsure statements, or caches the "not
   * loaded" answer so it outlives the load. A fresh module instance has no parser yet.
   */
  it('sends unsure statements to the primary, uncached, and answers properly once loaded', async () => {
    let fresh: typeof import('../../lib/routing/classify') | undefined;
    jest.isolateModules(() => {
      fresh = require('../../lib/routing/classify') as typeof import('../../lib/routing/classify');
    });
    if (fresh === undefined) throw new Error('isolateModules did not load the module');
    expect(fresh.parserLoaded()).toBe(false);
    const c = new fresh.Classifier();
    const sql = 'SELECT substring(a FROM 1 FOR 2) FROM t';
    expect(c.classify(sql)).toMatchObject({ target: 'primary', reason: 'primary: parser not loaded' });
    expect(c.classify('SELECT 1').target).toBe('replica'); // the lexer needs no parser
    await fresh.loadParser();
    expect(fresh.parserLoaded()).toBe(true);
    const after: Classification = c.classify(sql);
    expect(after).toMatchObject({ target: 'replica', reason: 'replica: plain select', tier: 'parser' });
  });
});
