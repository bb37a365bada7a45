// Specs for matching rules (lib/rules/rule-set, lib/rules/facts): who a rule can apply to is
// decided once per client, what it does per statement; first match wins unless continue=yes.
// Table-style: each case is one behaviour.

import { IntegerLiterals, literalsElided, loadParser, normalizedText } from '../../lib/routing/classify';
import { RulesEngine } from '../../lib/rules/engine';
import { ClientRules, DENY_MARKER, type RulesDatabase } from '../../lib/rules/client-rules';
import { query } from '../../lib/protocol/frontend';
import { parseRule } from '../../lib/config';
import { statementFacts } from '../../lib/rules/facts';
import { digitBlind, NO_ACTIONS, READ_BIT, RuleSet, WRITE_BIT, type ClientIdentity } from '../../lib/rules/rule-set';
import { INTEGER_PAIRS } from './integer-pairs';

beforeAll(() => loadParser());

const APP: ClientIdentity = { user: 'app', database: 'shop', applicationName: 'web', address: [127, 0, 0, 1] };

function set(...lines: string[]): RuleSet {
  return new RuleSet(lines.map((l, i) => parseRule(`r${i + 1}`, l, `f:${i + 1}`)));
}

/** The names of the rules that act on `sql` for `who`. */
function matched(rules: RuleSet, sql: string, who: Partial<ClientIdentity> = {}, inTransaction = false, verdict = READ_BIT): string[] {
  const view = rules.viewFor({ ...APP, ...who });
  return rules.match(view, sql, () => verdict, inTransaction, () => statementFacts(sql)).rules.map((r) => r.name);
}

describe('RuleSet', () => {
  /** Identity predicates narrow the candidates once per client: a rule for another user is not a candidate at all. */
  it('decides who a rule can apply to from user, database, application_name and address', () => {
    const rules = set('user=app deny=yes', 'user=batch_* deny=yes', 'database=other deny=yes', 'application_name=web route=primary', 'address=127.0.0.0/8 route=primary', 'address=unix route=primary');
    expect(rules.viewFor(APP).candidates).toEqual([0, 3, 4]);
    expect(rules.viewFor({ ...APP, user: 'batch_nightly' }).candidates).toEqual([1, 3, 4]);
    expect(rules.viewFor({ ...APP, address: null, applicationName: 'cron' }).candidates).toEqual([0, 5]);
    expect(rules.viewFor({ ...APP, user: 'x', database: 'y', applicationName: 'z', address: [10, 0, 0, 1] })).toMatchObject({ candidates: [] });
  });

  it('matches a statement by command kind, whichever statement of the text it is', () => {
    const rules = set('kind=drop deny=yes');
    expect(matched(rules, 'DROP TABLE t', {}, false, WRITE_BIT)).toEqual(['r1']);
    expect(matched(rules, 'SELECT 1; DROP TABLE t', {}, false, WRITE_BIT)).toEqual(['r1']);
    expect(matched(rules, 'DROP INDEX i', {}, false, WRITE_BIT)).toEqual(['r1']);
    expect(matched(rules, 'TRUNCATE t', {}, false, WRITE_BIT)).toEqual([]);
  });

  /** read and write are the classifier's verdict, which the caller passes in. */
  it('matches kind=read and kind=write by the classifier verdict', () => {
    const rules = set('kind=write route=primary');
    expect(matched(rules, 'SELECT f()', {}, false, WRITE_BIT)).toEqual(['r1']);
    expect(matched(rules, 'SELECT 1', {}, false, READ_BIT)).toEqual([]);
  });

  it('matches a fingerprint whatever the literals', () => {
    const fp = statementFacts('SELECT abalance FROM pgbench_accounts WHERE aid = 1').fingerprint;
    const rules = set(`fingerprint=${fp} statement_timeout=1s`);
    expect(matched(rules, 'SELECT abalance FROM pgbench_accounts WHERE aid = 98765')).toEqual(['r1']);
    expect(matched(rules, 'SELECT bbalance FROM pgbench_branches WHERE bid = 1')).toEqual([]);
  });

  it('matches a regular expression over the text, case-insensitively', () => {
    const rules = set("regex='from\\s+audit_log' deny=yes");
    expect(matched(rules, 'SELECT * FROM   Audit_Log')).toEqual(['r1']);
    expect(matched(rules, 'SELECT * FROM audit')).toEqual([]);
  });

  it('matches in_transaction', () => {
    const rules = set('in_transaction=yes statement_timeout=1s', 'in_transaction=no statement_timeout=2s');
    expect(matched(rules, 'SELECT 1', {}, true)).toEqual(['r1']);
    expect(matched(rules, 'SELECT 1', {}, false)).toEqual(['r2']);
  });

  /** First match wins: a later rule never adds to or overrides an earlier one that does not continue. */
  it('stops at the first match unless it says continue, merging actions first-wins', () => {
    const first = set('kind=select statement_timeout=1s', 'kind=select deny=yes');
    expect(matched(first, 'SELECT 1')).toEqual(['r1']);
    const chain = set('kind=select statement_timeout=1s continue=yes', 'kind=select statement_timeout=9s route=replica continue=yes', 'kind=select rate=5/s');
    const view = chain.viewFor(APP);
    const actions = chain.match(view, 'SELECT 1', () => READ_BIT, false, () => statementFacts('SELECT 1'));
    expect(actions.rules.map((r) => r.name)).toEqual(['r1', 'r2', 'r3']);
    expect(actions.timeout?.ms).toBe(1000);
    expect(actions.route?.to).toBe('replica');
    expect(actions.rates?.map((r) => r.name)).toEqual(['r3']);
  });

  /** A statement no rule touches gets the one shared answer, and the costly facts are never computed. */
  it('answers NO_ACTIONS without facts when only a regex rule could match', () => {
    const rules = set("regex='never here' deny=yes");
    let factsAsked = 0;
    const actions = rules.match(rules.viewFor(APP), 'SELECT 1', () => READ_BIT, false, () => {
      factsAsked++;
      return statementFacts('SELECT 1');
    });
    expect(actions).toBe(NO_ACTIONS);
    expect(factsAsked).toBe(0);
  });
});

/** An engine as pgmux builds one: facts cached per text with its literals elided, then per normalized text. */
function engine(...lines: string[]): RulesEngine {
  const defs = lines.map((l, i) => parseRule(`r${i + 1}`, l, `f:${i + 1}`));
  return new RulesEngine(defs, { result_cache_size: 0, result_cache_max_answer: 0 }, { elided: literalsElided, normalized: normalizedText, lastText: () => new IntegerLiterals() });
}

function matchedBy(e: RulesEngine, sql: string): string[] {
  const rules = e.rules;
  return rules.match(rules.viewFor(APP), sql, () => READ_BIT, false, () => e.facts(sql)).rules.map((r) => r.name);
}

describe('matching per statement shape', () => {
  /**
   * What kind= and fingerprint= say is kept per statement shape (texts that differ only in
   * literals), but a regex= may look at a literal: it is tested on every text, so a statement of
   * a shape seen before still matches (or not) by its own literals.
   */
  it('tests a regex on each text, even when its shape was matched before', () => {
    const fp = engine('kind=select fingerprint=0000000000000000 deny=yes').facts('SELECT abalance FROM pgbench_accounts WHERE aid = 1').fingerprint;
    const e = engine("regex='aid = 1\\d\\b' deny=yes", `kind=select fingerprint=${fp} statement_timeout=1s`);
    expect(matchedBy(e, 'SELECT abalance FROM pgbench_accounts WHERE aid = 5')).toEqual(['r2']);
    expect(matchedBy(e, 'SELECT abalance FROM pgbench_accounts WHERE aid = 12')).toEqual(['r1']);
    expect(matchedBy(e, 'SELECT abalance FROM pgbench_accounts WHERE aid = 120')).toEqual(['r2']);
    expect(matchedBy(e, 'SELECT abalance FROM pgbench_accounts WHERE aid = 17')).toEqual(['r1']);
    expect(e.factStats.parsed).toBe(1);
  });

  /** One parse per shape: pgbench's texts differ in every literal, and each is a cache hit after the first. */
  it('parses a statement shape once, whatever its literals, comments or case', () => {
    const e = engine('kind=drop deny=yes');
    for (let aid = 1; aid <= 50; aid++) expect(matchedBy(e, `SELECT abalance FROM pgbench_accounts WHERE aid = ${aid}`)).toEqual([]);
    expect(matchedBy(e, "select abalance from pgbench_accounts where aid = '7' -- x")).toEqual([]);
    expect(e.factStats).toEqual({ parsed: 1, elidedHits: 49, normalizedHits: 1, followed: 0 });
  });

  /** Texts that differ outside their literals are different statements, even in a quoted name. */
  it('never shares facts between texts that differ in a quoted identifier or a command', () => {
    const e = engine('kind=drop deny=yes');
    expect(e.facts('SELECT * FROM "T 1" WHERE a = 1').reads).toEqual(['T 1']);
    expect(e.facts('SELECT * FROM "T 2" WHERE a = 1').reads).toEqual(['T 2']);
    expect(matchedBy(e, 'SELECT 1; SELECT 2')).toEqual([]);
    expect(matchedBy(e, 'SELECT 1; DROP TABLE t')).toEqual(['r1']);
    expect(matchedBy(e, "SELECT '1; DROP TABLE t'")).toEqual([]);
  });

  /**
   * A client's rules remember their last statement's answer (a driver parses the same text for
   * every execution); the same text inside a transaction, or after a RELOAD, is matched again.
   */
  it('matches the same text again when the transaction state or the rules change', () => {
    const e = engine('in_transaction=yes regex=audit deny=yes');
    const db: RulesDatabase = { name: 'shop', domain: 'shop@h:5432', readYourWrites: 'off', classify: () => ({ target: 'primary', reason: 'write' }), catalog: () => null, catalogChanged: () => undefined };
    const rules = new ClientRules(e, db, { id: 1, user: 'app', remote: '127.0.0.1:5000', params: new Map([['application_name', 'web']]), statementText: () => undefined });
    const f = query('SELECT * FROM audit');
    const denied = (status: number): boolean => rules.clientFrame(0x51, f, 0, f.length, { txStatus: status }, 0)?.includes(DENY_MARKER) === true;
    expect(denied(0x49)).toBe(false);
    expect(denied(0x54)).toBe(true);
    rules.ready(0x49, 0);
    expect(denied(0x49)).toBe(false);
    e.reload([parseRule('r1', 'regex=audit deny=yes', 'f:1')]);
    rules.ready(0x49, 0);
    expect(rules.inspects).toBe(true);
    expect(denied(0x49)).toBe(true);
  });

  /**
   * A client's next text that differs from its last one only inside one integer literal gets
   * the last one's facts without being lexed (pgbench's next account); any other difference,
   * even only digits in a quoted name, is a text of its own.
   */
  it("gives a client's next text its last text's facts only when one integer literal differs", () => {
    const fp2 = engine('kind=drop deny=yes').facts('SELECT * FROM "2" WHERE a = 1').fingerprint;
    const e = engine(`kind=select fingerprint=${fp2} deny=yes`);
    const db: RulesDatabase = { name: 'shop', domain: 'shop@h:5432', readYourWrites: 'off', classify: () => ({ target: 'replica', reason: 'read' }), catalog: () => null, catalogChanged: () => undefined };
    const rules = new ClientRules(e, db, { id: 1, user: 'app', remote: '127.0.0.1:5000', params: new Map([['application_name', 'web']]), statementText: () => undefined });
    const denied = (sql: string): boolean => {
      const f = query(sql);
      const out = rules.clientFrame(0x51, f, 0, f.length, { txStatus: 0x49 }, 0)?.includes(DENY_MARKER) === true;
      rules.ready(0x49, 0);
      return out;
    };
    expect(denied('SELECT * FROM "1" WHERE a = 1')).toBe(false);
    expect(denied('SELECT * FROM "2" WHERE a = 1')).toBe(true);
    expect(denied('SELECT * FROM "2" WHERE a = 17')).toBe(true);
    expect(denied('SELECT * FROM "2" WHERE a = 5')).toBe(true);
    expect(denied('SELECT * FROM "1" WHERE a = 5')).toBe(false);
    expect(e.factStats).toEqual({ parsed: 2, elidedHits: 1, normalizedHits: 0, followed: 2 });
  });

  /** Whether a regex= can see the digits of an integer literal: only one that cannot keeps its answer across integers. */
  it.each([
    ['\\bfrom\\s+audit_12\\b', true],
    ['pg_sleep', true],
    ['^\\s*delete\\b', true],
    ['x{2,3}y', true],
    ['t0', true],
    ['aid = 1\\d\\b', false],
    ['a.b', false],
    ['[a-z]+', false],
    ['_?0', false],
    ['\\s0', false],
    ['(a)0', false],
    ['a|0', false],
    ['0', false],
    ['\\w+', false],
    ['(x)\\1', false],
  ])('digitBlind(%s) is %s', (source, blind) => {
    expect(digitBlind(source)).toBe(blind);
  });

  /**
   * A client's texts that differ in one integer: a regex= that can see digits is tested on each
   * (and the facts come from the last text); one that cannot keeps the last answer, and a text
   * that differs elsewhere is matched afresh.
   */
  it.each([
    ["regex='aid = 1\\d\\b' deny=yes", ['SELECT a FROM t WHERE aid = 5', 'SELECT a FROM t WHERE aid = 12', 'SELECT a FROM t WHERE aid = 120', 'SELECT a FROM t WHERE aid = 17'], [false, true, false, true], 1],
    ["regex='from audit_1\\b' deny=yes", ['SELECT * FROM audit_1 WHERE a = 5', 'SELECT * FROM audit_1 WHERE a = 6', 'SELECT * FROM audit_2 WHERE a = 6', 'SELECT * FROM audit_2 WHERE a = 60'], [true, true, false, false], 1],
  ])('%s over texts that differ in one integer', (rule, texts, denials, followed) => {
    const e = engine(rule, 'kind=drop deny=yes');
    const db: RulesDatabase = { name: 'shop', domain: 'shop@h:5432', readYourWrites: 'off', classify: () => ({ target: 'replica', reason: 'read' }), catalog: () => null, catalogChanged: () => undefined };
    const rules = new ClientRules(e, db, { id: 1, user: 'app', remote: '127.0.0.1:5000', params: new Map([['application_name', 'web']]), statementText: () => undefined });
    const denied = texts.map((sql) => {
      const f = query(sql);
      const out = rules.clientFrame(0x51, f, 0, f.length, { txStatus: 0x49 }, 0)?.includes(DENY_MARKER) === true;
      rules.ready(0x49, 0);
      return out;
    });
    expect(denied).toEqual(denials);
    expect(e.factStats.followed).toBe(followed);
    expect(e.factStats.parsed).toBe(1);
  });

  /** IntegerLiterals.follows: the next text lexes into the same tokens but one integer, or it is not recognised. */
  it.each<[string, string, boolean]>([...INTEGER_PAIRS, ["SELECT 'open", "SELECT 'open", false]])('IntegerLiterals: %s, then %s: %s', (prev, next, same) => {
    const ints = new IntegerLiterals();
    const key = literalsElided(prev, ints);
    expect(ints.follows(next)).toBe(same);
    if (same) expect(literalsElided(next)).toBe(key);
  });

  /** After a text that followed, the integers after the changed one are found where they moved to. */
  it('follows a run of texts whose integers change length', () => {
    const ints = new IntegerLiterals();
    literalsElided('SELECT 1, 2, 3', ints);
    for (const next of ['SELECT 100, 2, 3', 'SELECT 100, 2, 30000', 'SELECT 100, 7, 30000', 'SELECT 100, 7, 3']) expect(ints.follows(next)).toBe(true);
    expect(ints.follows('SELECT 100, 7, 3 ')).toBe(false);
  });

  /** The rules' cheap key keeps all but literals, so texts equal under it are equal under the normalized text. */
  it.each([
    ['SELECT * FROM t WHERE id = 42', 'SELECT * FROM t WHERE id = \0'],
    ["SELECT 'a''b', E'\\'', $$x$$ FROM t", 'SELECT \0, \0, \0 FROM t'],
    ['SELECT $1, t1.c2 FROM t1 /* 3 */', 'SELECT $1, t1.c2 FROM t1 /* 3 */'],
    ['SELECT "x 1" FROM t', 'SELECT "x 1" FROM t'],
    ["SELECT 'unterminated", undefined],
  ])('literalsElided(%s)', (sql, key) => {
    expect(literalsElided(sql)).toBe(key);
  });
});

describe('statement facts', () => {
  it.each([
    ['SELECT a FROM t JOIN s.u ON true', { reads: ['t', 'u'], writes: [], uncacheable: null }],
    ['WITH x AS (SELECT 1) SELECT * FROM x, t', { reads: ['x', 't'], ctes: ['x'], uncacheable: null }],
    ['SELECT now()', { functions: ['now'], uncacheable: null }],
    ['SELECT current_date', { uncacheable: 'current date, time or user' }],
    ['SELECT * FROM t FOR UPDATE', { uncacheable: 'locking read' }],
    ['SELECT * FROM pg_temp.t', { uncacheable: 'temporary table' }],
    ['SELECT * FROM t TABLESAMPLE system (1)', { uncacheable: 'TABLESAMPLE' }],
    ['UPDATE t SET a = 1', { writes: ['t'], uncacheable: 'not a plain read (Update)' }],
    ['WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d', { writes: ['t'], uncacheable: 'writes' }],
    ['TRUNCATE a, b', { writes: ['a', 'b'] }],
    ['COPY t FROM STDIN', { writes: ['t'] }],
    ['ALTER TABLE t ADD COLUMN c int', { writes: 'all', ddl: true }],
    ['DO $$BEGIN END$$', { writes: 'all' }],
    ['BEGIN', { writes: [] }],
    ['not sql at all', { writes: 'all', uncacheable: 'not parsable' }],
  ])('%s', (sql, expected) => {
    expect(statementFacts(sql)).toMatchObject(expected);
  });
});
