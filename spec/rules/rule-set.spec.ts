// Specs for matching rules (lib/rules/rule-set, lib/rules/facts): who a rule can apply to is
// decided once per client, what it does per statement; first match wins unless continue=yes.
// Table-style: each case is one behaviour.

import { loadParser } from '../../lib/routing/classify';
import { parseRule } from '../../lib/config';
import { statementFacts } from '../../lib/rules/facts';
import { NO_ACTIONS, READ_BIT, RuleSet, WRITE_BIT, type ClientIdentity } from '../../lib/rules/rule-set';

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
