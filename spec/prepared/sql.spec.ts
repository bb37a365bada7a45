// Spec of lib/prepared/sql: recognising SQL-level PREPARE / EXECUTE / DEALLOCATE in a simple
// Query (issue 4, "SQL-level PREPARE, EXECUTE, DEALLOCATE [ALL] in transaction mode"), and the
// Query a server runs instead. Pure functions, no sockets; the black-box side is in
// protocol.spec.ts and drivers.spec.ts.

import { lexScript, lexSql, mayBeSqlPrepared } from '../../lib/prepared/sql-lexer';
import { planScript, planSql } from '../../lib/prepared/sql-planner';
import { SqlRewrite } from '../../lib/prepared/sql-rewrite';
import { ServerStatementCache, StatementRegistry, type Statement } from '../../lib/prepared/statements';
import { Action } from '../../lib/protocol/relay';

/** A Query frame, built here byte by byte. */
function queryFrame(sql: string): Buffer {
  const body = Buffer.from(sql + '\0', 'utf8');
  const head = Buffer.alloc(5);
  head[0] = 0x51;
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

const firstKeyword = (sql: string): boolean => {
  const f = queryFrame(sql);
  return mayBeSqlPrepared(f, 0, f.length);
};

describe('the byte check every Query pays', () => {
  it.each([
    ['PREPARE a AS SELECT 1', true],
    ['  execute a', true],
    ['\n\tDeAlLoCaTe ALL', true],
    ['-- a comment first\nEXECUTE a', true],
    ['/* a comment */ PREPARE a AS SELECT 1', true],
    ['SELECT 1', false],
    ['EXPLAIN EXECUTE a', true],
    ['explain (analyze) ExEcUtE a(1)', true],
    ['CREATE TABLE t AS EXECUTE a', true],
    ['EXPLAIN SELECT 1', false],
    ['CREATE TABLE t (a int)', false],
    ['EXPLAIN SELECT executed FROM t', false],
    ['END', false],
    ['DELETE FROM t', false],
    ['preparex', false],
    ['executed', false],
    ['execute_me()', false],
    ['PREPARE', true],
    ['', false],
    ['   ', false],
  ])('%j -> %s (catches: the lexer skipped for a real PREPARE, or run on every query)', (sql, expected) => {
    expect(firstKeyword(sql)).toBe(expected);
  });
});

describe('lexSql', () => {
  it('reads PREPARE with a name, a type list and a body, case and comments aside (catches: a statement not recognised, so forwarded raw and broken)', () => {
    const sql = '/* x */ prepare Foo (int, text) -- c\n AS select $1, $2;  ';
    expect(lexSql(sql)).toEqual({ kind: 'prepare', name: 'foo', types: 'int, text', body: 'select $1, $2', bodyStart: sql.indexOf('select') });
    expect(lexSql('PREPARE "Mixed Case" AS SELECT 1')).toMatchObject({ kind: 'prepare', name: 'Mixed Case', types: null, body: 'SELECT 1' });
    expect(lexSql('PREPARE "a""b" AS SELECT 1')).toMatchObject({ name: 'a"b' });
    expect(lexSql('PREPARE n (numeric(10, 2), varchar(3)[]) AS SELECT $1, $2')).toMatchObject({ types: 'numeric(10, 2), varchar(3)[]' });
  });

  it('keeps the body whole across strings, quoted names, dollar quotes and comments that hold ";" (catches: a body cut short, or a multi-statement query misread as one)', () => {
    const body = `SELECT 'a;b', "c;d", $q$e;f$q$, E'g\\';h', $1 /* i; /* nested; */ j */ -- k;\n + 1`;
    expect(lexSql(`PREPARE s AS ${body}`)).toMatchObject({ kind: 'prepare', body });
    expect(lexSql(`PREPARE s AS SELECT a$b$c FROM t; `)).toMatchObject({ body: 'SELECT a$b$c FROM t' });
  });

  it('splits a Query of several statements and reads each PREPARE, EXECUTE and DEALLOCATE among them (catches: a client name sent raw to a server from the middle of a Query)', () => {
    const sql = "SELECT ';'; PREPARE a AS SELECT 1 ; execute a; -- c\n DEALLOCATE a;; BEGIN";
    const script = lexScript(sql);
    expect(script?.map((st) => [sql.slice(st.from, st.to), st.cmd?.kind ?? null])).toEqual([
      ["SELECT ';'", null],
      ['PREPARE a AS SELECT 1 ', 'prepare'],
      ['execute a', 'execute'],
      ['DEALLOCATE a', 'deallocate'],
      ['BEGIN', null],
    ]);
    // Only a Query with one of them is the planner's; one alone is lexSql's.
    expect(lexScript('SELECT 1; SELECT 2')).toBeNull();
    expect(lexSql('PREPARE a AS SELECT 1; SELECT 2')).toBeNull();
    expect(lexSql('PREPARE a AS SELECT 1;;  -- done\n;')).toMatchObject({ kind: 'prepare' });
    // A Query that does not split (an unterminated quote) is the server's syntax error.
    expect(lexScript("PREPARE a AS SELECT 1; SELECT 'open")).toBeNull();
  });

  it('the byte check sends a Query of several statements to the lexer, whatever its first word (catches: PREPARE after a SELECT reaching the server raw)', () => {
    expect(firstKeyword('SELECT 1; PREPARE a AS SELECT 2')).toBe(true);
    expect(firstKeyword('SELECT 1;  ;\n')).toBe(false);
  });

  it('reads EXECUTE with its name and where the arguments start (catches: arguments lost in the rewrite)', () => {
    expect(lexSql('EXECUTE foo(1, \'x)\')')).toEqual({ kind: 'execute', name: 'foo', nameEnd: 11, end: 20, wrap: '', wrapStart: 0 });
    expect(lexSql('execute "Foo";')).toEqual({ kind: 'execute', name: 'Foo', nameEnd: 13, end: 13, wrap: '', wrapStart: 0 });
  });

  it('reads EXECUTE wrapped in EXPLAIN or CREATE TABLE AS, with the text before it (catches: the client\'s name sent raw inside EXPLAIN EXECUTE, 26000 on every server)', () => {
    expect(lexSql('EXPLAIN EXECUTE foo(1)')).toEqual({ kind: 'execute', name: 'foo', nameEnd: 19, end: 22, wrap: 'EXPLAIN ', wrapStart: 0 });
    expect(lexSql('explain analyze verbose execute foo')).toMatchObject({ name: 'foo', wrap: 'explain analyze verbose ' });
    expect(lexSql('EXPLAIN (ANALYZE, FORMAT JSON) /* c */ EXECUTE foo')).toMatchObject({ name: 'foo', wrap: 'EXPLAIN (ANALYZE, FORMAT JSON) /* c */ ' });
    const sql = "SELECT 1; CREATE TEMP TABLE t (a, b) WITH (fillfactor = 70) AS EXECUTE foo('x') WITH NO DATA";
    const script = lexScript(sql);
    expect(script?.[1].cmd).toEqual({ kind: 'execute', name: 'foo', nameEnd: sql.indexOf("('x')"), end: sql.length, wrap: 'CREATE TEMP TABLE t (a, b) WITH (fillfactor = 70) AS ', wrapStart: 10 });
    // Not an EXECUTE of a statement: the server's own (or its syntax error).
    expect(lexSql('EXPLAIN SELECT 1')).toBeNull();
    expect(lexSql('EXPLAIN (ANALYZE) SELECT execute FROM t')).toBeNull();
    expect(lexSql('CREATE TABLE t AS SELECT 1')).toBeNull();
    expect(lexSql('CREATE VIEW v AS SELECT 1')).toBeNull();
    expect(lexSql('CREATE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql')).toBeNull();
    expect(lexSql('CREATE TABLE t (a text DEFAULT \'as execute x\')')).toBeNull();
  });

  it('reads every DEALLOCATE form (catches: DEALLOCATE PREPARE x or ALL mistaken for a name)', () => {
    expect(lexSql('DEALLOCATE foo')).toEqual({ kind: 'deallocate', name: 'foo' });
    expect(lexSql('deallocate prepare foo;')).toEqual({ kind: 'deallocate', name: 'foo' });
    expect(lexSql('DEALLOCATE ALL')).toEqual({ kind: 'deallocate', name: null });
    expect(lexSql('DEALLOCATE PREPARE ALL')).toEqual({ kind: 'deallocate', name: null });
    expect(lexSql('DEALLOCATE "ALL"')).toEqual({ kind: 'deallocate', name: 'ALL' });
    expect(lexSql('DEALLOCATE prepare')).toEqual({ kind: 'deallocate', name: 'prepare' });
  });

  it('truncates names to 63 bytes as PostgreSQL does (catches: EXECUTE of a long name missing the PREPAREd one)', () => {
    const long = 'n'.repeat(70);
    expect(lexSql(`PREPARE ${long} AS SELECT 1`)).toMatchObject({ name: 'n'.repeat(63) });
    expect(lexSql(`EXECUTE ${long.toUpperCase()}`)).toMatchObject({ name: 'n'.repeat(63) });
  });

  it('leaves PREPARE TRANSACTION, other statements and syntax errors to the server (catches: two-phase commit hijacked)', () => {
    for (const sql of ["PREPARE TRANSACTION 'gid'", 'SELECT 1', 'PREPARE', 'PREPARE a', 'PREPARE a () AS SELECT 1', 'PREPARE a AS', "PREPARE a AS SELECT 'open", 'EXECUTE', 'DEALLOCATE a b']) {
      expect(lexSql(sql)).toBeNull();
    }
  });

  it('refuses U&"..." names, which it does not decode (catches: a name that would reach the server raw)', () => {
    expect(lexSql('PREPARE U&"d\\0061t" AS SELECT 1')).toMatchObject({ kind: 'unsupported' });
  });
});

describe('planSql', () => {
  let registry: StatementRegistry;
  let cache: ServerStatementCache;
  let names: Map<string, Statement>;

  beforeEach(() => {
    registry = new StatementRegistry();
    cache = new ServerStatementCache(2);
    names = new Map();
  });

  const plan = (sql: string) => {
    const cmd = lexSql(sql);
    if (cmd === null) throw new Error(`not recognised: ${sql}`);
    return planSql(sql, cmd, names, registry, cache);
  };

  it('PREPARE runs as pgmux_N on a server that lacks it and is only acknowledged on one that has it (catches: duplicate PREPARE on a server, 42P05)', () => {
    expect(plan('PREPARE a (int) AS SELECT $1').text).toBe('PREPARE pgmux_1 (int) AS SELECT $1\n');
    expect(cache.size).toBe(1);
    names.clear();
    expect(plan('PREPARE b (int) AS SELECT $1').text).toBe('UNLISTEN pgmux__none');
    expect(names.get('b')?.serverName).toBe('pgmux_1');
  });

  it('an untyped PREPARE is the same statement as a protocol Parse of its body (catches: one statement prepared twice under two names)', () => {
    const parsed = registry.intern('SELECT $1::int', []);
    plan('PREPARE a AS SELECT $1::int');
    expect(names.get('a')).toBe(parsed);
  });

  it('EXECUTE on a server that lacks the statement prepares it first, evicting the oldest by DEALLOCATE when full (catches: EXECUTE of a statement the server never saw)', () => {
    plan('PREPARE a AS SELECT 1');
    plan('PREPARE b AS SELECT 2');
    plan('PREPARE c AS SELECT 3');
    // c evicted a; EXECUTE a needs it back and evicts b.
    const p = plan('EXECUTE a');
    expect(p.text).toBe('DEALLOCATE pgmux_2;\nPREPARE pgmux_1 AS SELECT 1\n;\nEXECUTE pgmux_1');
    expect(p.injected).toBe(true);
    expect(plan('EXECUTE c').text).toBe('EXECUTE pgmux_3');
  });

  it('the CommandCompletes of what pgmux put first are swallowed and the last is the client\'s (catches: an extra PREPARE/DEALLOCATE tag reaching the client)', () => {
    plan('PREPARE a AS SELECT 1');
    plan('PREPARE b AS SELECT 2');
    plan('PREPARE c AS SELECT 3');
    const r = plan('EXECUTE a').rewrite;
    expect([r.commandComplete(), r.commandComplete(), r.commandComplete()]).toEqual([Action.Swallow, Action.Swallow, Action.Forward]);
  });

  it('a failed Query undoes what it did not complete: the statement it prepared and the one it evicted (catches: a cache that disagrees with the server after an error)', () => {
    plan('PREPARE a AS SELECT 1');
    plan('PREPARE b AS SELECT 2');
    const a = names.get('a') as Statement;
    const b = names.get('b') as Statement;
    const p = plan('PREPARE c AS SELECT * FROM nosuch');
    const c = names.get('c') as Statement;
    expect([cache.has(a), cache.has(b), cache.has(c)]).toEqual([false, true, true]);
    // The DEALLOCATE of a completed, the PREPARE of c failed.
    expect(p.rewrite.commandComplete()).toBe(Action.Swallow);
    const err = serverError('42P01', 'relation "nosuch" does not exist', '37');
    p.rewrite.failed(err, 0, err.length, cache, names);
    expect([cache.has(a), cache.has(b), cache.has(c), names.has('c')]).toEqual([false, true, false, false]);
  });

  it('moves an error position from pgmux\'s Query onto the client\'s text (catches: a caret under the wrong word)', () => {
    const sql = '/* hi */ PREPARE a AS SELECT * FROM nosuch';
    const p = plan(sql);
    expect(p.text).toBe('PREPARE pgmux_1 AS SELECT * FROM nosuch\n');
    const err = serverError('42P01', 'relation "nosuch" does not exist', String(p.text.indexOf('nosuch') + 1));
    const out = p.rewrite.failed(err, 0, err.length, cache, names) as Buffer;
    expect(fields(out).P).toBe(String(sql.indexOf('nosuch') + 1));
  });

  it('a server error naming pgmux_N names the client\'s statement instead (catches: server-side names leaking into errors)', () => {
    plan('PREPARE a (int) AS SELECT $1');
    const p = plan('EXECUTE a(1, 2)');
    const err = serverError('42601', 'wrong number of parameters for prepared statement "pgmux_1"');
    const out = p.rewrite.failed(err, 0, err.length, cache, names) as Buffer;
    expect(fields(out)).toMatchObject({ C: '42601', M: 'wrong number of parameters for prepared statement "a"' });
  });

  it('unknown names and refused forms go to a failing stand-in whose 26000 becomes PostgreSQL\'s error; 25P02 passes as it is (catches: errors that lie about the transaction state)', () => {
    plan('PREPARE a AS SELECT 1');
    const cases: [string, string, string][] = [
      ['EXECUTE nope', '26000', 'prepared statement "nope" does not exist'],
      ['DEALLOCATE nope', '26000', 'prepared statement "nope" does not exist'],
    ];
    for (const [sql, code, message] of cases) {
      const p = plan(sql);
      expect(p.text).toBe('DEALLOCATE pgmux__none');
      const standIn = serverError('26000', 'prepared statement "pgmux__none" does not exist');
      expect(fields(p.rewrite.failed(standIn, 0, standIn.length, cache, names) as Buffer)).toEqual({ S: 'ERROR', V: 'ERROR', C: code, M: message });
      const aborted = serverError('25P02', 'current transaction is aborted, commands ignored until end of transaction block');
      expect(plan(sql).rewrite.failed(aborted, 0, aborted.length, cache, names)).toBeNull();
    }
  });

  it('PREPARE of a taken name runs under the old statement\'s server name, so the server analyses the body and then refuses with 42P05, named as the client named it (catches: a silent replace, or 42P05 before the body\'s own error as PostgreSQL never does)', () => {
    plan('PREPARE a AS SELECT 1');
    const a = names.get('a') as Statement;
    const sql = '/* again */ PREPARE a (int) AS SELECT * FROM nosuch';
    const p = plan(sql);
    expect(p.text).toBe('PREPARE pgmux_1 (int) AS SELECT * FROM nosuch');
    expect(names.get('a')).toBe(a);
    const dup = serverError('42P05', 'prepared statement "pgmux_1" already exists');
    expect(fields(p.rewrite.failed(dup, 0, dup.length, cache, names) as Buffer)).toMatchObject({ C: '42P05', M: 'prepared statement "a" already exists' });
    const bad = serverError('42P01', 'relation "nosuch" does not exist', String(p.text.indexOf('nosuch') + 1));
    expect(fields(plan(sql).rewrite.failed(bad, 0, bad.length, cache, names) as Buffer)).toMatchObject({ C: '42P01', P: String(sql.indexOf('nosuch') + 1) });
    expect(names.get('a')).toBe(a);
  });

  it('PREPARE of a taken name on a server that lacks the old statement prepares it first, and it stays prepared when the duplicate fails (catches: a duplicate refused with 26000, or a cache that forgets what did complete)', () => {
    plan('PREPARE a AS SELECT 1');
    const a = names.get('a') as Statement;
    cache.clear();
    const p = plan('PREPARE a AS SELECT 2');
    expect(p.text).toBe('PREPARE pgmux_1 AS SELECT 1\n;\nPREPARE pgmux_1 AS SELECT 2');
    expect(p.injected).toBe(true);
    expect(p.rewrite.commandComplete()).toBe(Action.Swallow);
    const dup = serverError('42P05', 'prepared statement "pgmux_1" already exists');
    p.rewrite.failed(dup, 0, dup.length, cache, names);
    expect([cache.has(a), names.get('a') === a]).toEqual([true, true]);
  });

  it('DEALLOCATE drops only the client\'s name, DEALLOCATE ALL all of them, and a failure puts them back (catches: other clients losing statements, or names lost in an aborted transaction)', () => {
    plan('PREPARE a AS SELECT 1');
    plan('PREPARE b AS SELECT 2');
    const one = plan('DEALLOCATE a');
    expect(one.text).toBe('UNLISTEN pgmux__none');
    expect([...names.keys()]).toEqual(['b']);
    expect(cache.size).toBe(2);
    const all = plan('DEALLOCATE ALL');
    expect(names.size).toBe(0);
    const aborted = serverError('25P02', 'current transaction is aborted, commands ignored until end of transaction block');
    all.rewrite.failed(aborted, 0, aborted.length, cache, names);
    one.rewrite.failed(aborted, 0, aborted.length, cache, names);
    expect([...names.keys()].sort()).toEqual(['a', 'b']);
  });

  it('a protocol statement with parameter type OIDs cannot be EXECUTEd where the server lacks it: a clear 0A000 (catches: a wrong "does not exist")', () => {
    names.set('p', registry.intern('SELECT $1', [23]));
    const p = plan('EXECUTE p(1)');
    const standIn = serverError('26000', 'prepared statement "pgmux__none" does not exist');
    expect(fields(p.rewrite.failed(standIn, 0, standIn.length, cache, names) as Buffer)).toMatchObject({ C: '0A000' });
  });

  const script = (sql: string) => planScript(sql, lexScript(sql) ?? [], names, registry, cache);

  it('plans a Query of several statements in order, the others as written, each tag where it belongs (catches: 0A000 for PREPARE; EXECUTE; DEALLOCATE in one Query)', () => {
    const p = script("PREPARE q(bigint) AS SELECT $1; SELECT ';' ;EXECUTE q(1); DEALLOCATE q");
    expect(p.text).toBe("PREPARE pgmux_1 (bigint) AS SELECT $1\n; SELECT ';' ;EXECUTE pgmux_1(1);UNLISTEN pgmux__none");
    const tags = [p.rewrite.commandComplete(), p.rewrite.commandComplete(), p.rewrite.commandComplete(), p.rewrite.commandComplete()];
    expect(tags.slice(0, 3)).toEqual([Action.Forward, Action.Forward, Action.Forward]);
    expect((tags[3] as Buffer).toString('latin1', 5, 15)).toBe('DEALLOCATE');
    expect(names.size).toBe(0);
  });

  it('undoes only the statements of a failed Query that did not complete (catches: a name kept for a PREPARE that never ran, or dropped for one that did)', () => {
    plan('PREPARE a AS SELECT 1');
    const p = script('PREPARE b AS SELECT 2; SELECT 1/0; DEALLOCATE a; PREPARE c AS SELECT 3');
    expect(p.rewrite.commandComplete()).toBe(Action.Forward);
    const err = serverError('22012', 'division by zero');
    p.rewrite.failed(err, 0, err.length, cache, names);
    expect([...names.keys()].sort()).toEqual(['a', 'b']);
  });

  it('maps an error position in any statement onto the client\'s text (catches: positions right only for the first statement)', () => {
    const sql = 'SELECT 1; PREPARE a AS SELECT * FROM nosuch; SELECT x';
    const at = (word: string, where: string): string => String(where.indexOf(word) + 1);
    for (const word of ['nosuch', ' x']) {
      names.clear();
      cache.clear();
      const p = script(sql);
      const err = serverError('42601', 'error', at(word, p.text));
      expect(fields(p.rewrite.failed(err, 0, err.length, cache, names) as Buffer).P).toBe(at(word, sql));
    }
  });

  it('is a SqlRewrite per Query (catches: state shared between Queries)', () => {
    expect(plan('DEALLOCATE ALL').rewrite).toBeInstanceOf(SqlRewrite);
  });
});

/** An ErrorResponse frame as a server sends it. */
function serverError(code: string, message: string, position?: string): Buffer {
  const f = [`SERROR`, `VERROR`, `C${code}`, `M${message}`, ...(position === undefined ? [] : [`P${position}`]), `Fparse.c`];
  const body = Buffer.from(f.map((x) => x + '\0').join('') + '\0', 'utf8');
  const head = Buffer.alloc(5);
  head[0] = 0x45;
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

function fields(frame: Buffer): Record<string, string> {
  expect(frame.readInt32BE(1)).toBe(frame.length - 1);
  const out: Record<string, string> = {};
  let i = 5;
  while (frame[i] !== 0) {
    const end = frame.indexOf(0, i + 1);
    out[String.fromCharCode(frame[i])] = frame.toString('utf8', i + 1, end);
    i = end + 1;
  }
  return out;
}
