// Specs for a client's last untouched request (lib/rules/last-request) and admit()'s use of it
// (lib/rules/client-rules): a request like the last one no rule touched is let go without being
// decoded or matched, and only when the rules would say the same of it.

import { IntegerLiterals, literalsElided, loadParser, normalizedText } from '../../lib/routing/classify';
import { RulesEngine } from '../../lib/rules/engine';
import { ClientRules, DENY_MARKER, type RulesDatabase } from '../../lib/rules/client-rules';
import { LastRequest } from '../../lib/rules/last-request';
import { bind, describe as describeMessage, execute, parse, query, sync } from '../../lib/protocol/frontend';
import { parseRule } from '../../lib/config';
import { INTEGER_PAIRS } from './integer-pairs';

beforeAll(() => loadParser());

/** A LastRequest keeping `prev` (as `request` frames it) with the integers the lexer found in it. */
function kept(prev: string, request: (sql: string) => Buffer): LastRequest {
  const ints = new IntegerLiterals();
  literalsElided(prev, ints);
  const last = new LastRequest();
  last.keep(request(prev), prev, ints.integersOf(prev, last.spans), {});
  return last;
}

const simple = (sql: string): Buffer => query(sql);
const extended = (sql: string): Buffer => Buffer.concat([parse('', sql), bind({ params: ['1'] }), describeMessage('P', ''), execute(), sync()]);

describe('LastRequest', () => {
  /** The same pairs as IntegerLiterals.follows (spec/rules/rule-set): bytes say what the text says, in a Query and in a Parse. */
  it.each(INTEGER_PAIRS)('%s, then %s: %s', (prev, next, same) => {
    const ints = new IntegerLiterals();
    literalsElided(prev, ints);
    expect(ints.follows(next)).toBe(same);
    expect(kept(prev, simple).follows(simple(next))).toBe(same);
    expect(kept(prev, extended).follows(extended(next))).toBe(same);
  });

  /** Each request is compared with the kept text: any one of its integers may change, but only one. */
  it('follows requests that differ from the kept text in any one integer', () => {
    const last = kept('SELECT 1, 2, 3', simple);
    for (const next of ['SELECT 100, 2, 3', 'SELECT 5, 2, 3', 'SELECT 1, 2, 30000', 'SELECT 1, 7, 3', 'SELECT 1, 2, 3']) expect(last.follows(simple(next))).toBe(true);
    expect(last.follows(simple('SELECT 100, 2, 30000'))).toBe(false);
    expect(last.follows(simple('SELECT 1, 2, 3 '))).toBe(false);
  });

  /** Without integers (the rules' answer may depend on digits), only the same bytes follow. */
  it('follows only the same text when it was kept without integers', () => {
    const last = new LastRequest();
    last.keep(simple('SELECT a FROM t WHERE id = 42'), 'SELECT a FROM t WHERE id = 42', 0, {});
    expect(last.follows(simple('SELECT a FROM t WHERE id = 42'))).toBe(true);
    expect(last.follows(simple('SELECT a FROM t WHERE id = 43'))).toBe(false);
  });

  /** Only a request of one statement whose messages are all there, and a text it could keep byte for byte. */
  it.each([
    ['two Queries', Buffer.concat([simple('SELECT 1'), simple('SELECT 1')])],
    ['a Query cut short', simple('SELECT 1').subarray(0, 8)],
    ['a Bind of a named statement', Buffer.concat([parse('', 'SELECT 1'), bind({ statement: 's1' }), execute(), sync()])],
    ['two Parses', Buffer.concat([parse('', 'SELECT 1'), parse('', 'SELECT 1'), sync()])],
    ['a Parse whose text has no NUL', Buffer.concat([Buffer.from([0x50, 0, 0, 0, 13, 0]), Buffer.from('SELECT 1', 'latin1')])],
    ['a Parse of a longer text', extended('SELECT 1x')],
    ['a Query with a NUL inside', Buffer.concat([Buffer.from([0x51, 0, 0, 0, 14]), Buffer.from('SELECT 1\0\0', 'latin1')])],
  ])('does not take %s for the kept request', (_what, request) => {
    expect(kept('SELECT 1', simple).follows(request)).toBe(false);
  });

  it('keeps no text that is not ASCII (its bytes are not its characters)', () => {
    expect(kept('SELECT a FROM "tä" WHERE id = 1', simple).follows(simple('SELECT a FROM "tä" WHERE id = 1'))).toBe(false);
  });
});

describe("admit: a request like the client's last untouched one", () => {
  function client(...lines: string[]): ClientRules {
    const defs = lines.map((l, i) => parseRule(`r${i + 1}`, l, `f:${i + 1}`));
    const e = new RulesEngine(defs, { result_cache_size: 0, result_cache_max_answer: 0 }, { elided: literalsElided, normalized: normalizedText, lastText: () => new IntegerLiterals() });
    const db: RulesDatabase = { name: 'shop', domain: 'shop@h:5432', readYourWrites: 'off', classify: () => ({ target: 'replica', reason: 'read' }), catalog: () => null, catalogChanged: () => undefined };
    return new ClientRules(e, db, { id: 1, user: 'app', remote: '127.0.0.1:5000', params: new Map([['application_name', 'web']]), statementText: () => undefined });
  }

  /** Whether the rules deny `sql` sent by an idle client (answered at admission, or its marker forwarded). */
  function denied(rules: ClientRules, request: Buffer): boolean {
    const admitted = rules.admit([request], 0);
    let out = admitted.kind === 'answer';
    if (admitted.kind === 'go') out = rules.clientFrame(request[0], request, 0, request.length, { txStatus: 0x49 }, 0)?.includes(DENY_MARKER) === true;
    rules.ready(0x49, 0);
    return out;
  }

  /** A regex= that can see digits is tested on each text: an untouched text's answer does not carry over to its next integer. */
  it.each([
    ['simple', simple],
    ['extended', extended],
  ])('matches each text again when a regex= can see digits (%s)', (_protocol, request) => {
    const rules = client("regex='aid = 1\\d\\b' deny=yes", 'kind=drop deny=yes');
    const texts = ['SELECT a FROM t WHERE aid = 5', 'SELECT a FROM t WHERE aid = 6', 'SELECT a FROM t WHERE aid = 12', 'SELECT a FROM t WHERE aid = 7', 'SELECT a FROM t WHERE aid = 17'];
    expect(texts.map((sql) => denied(rules, request(sql)))).toEqual([false, false, true, false, true]);
  });

  /** Digits in a quoted name are not an integer literal: the text is matched again, and its fingerprint= holds. */
  it('matches a text whose digits changed outside an integer literal', () => {
    const probe = new RulesEngine([], { result_cache_size: 0, result_cache_max_answer: 0 }, { elided: literalsElided, normalized: normalizedText, lastText: () => new IntegerLiterals() });
    const fp2 = probe.facts('SELECT * FROM "2" WHERE a = 1').fingerprint;
    const rules = client(`kind=select fingerprint=${fp2} deny=yes`, "regex='\\bfrom\\s+audit_3\\b' deny=yes");
    const texts = ['SELECT * FROM "1" WHERE a = 1', 'SELECT * FROM "1" WHERE a = 2', 'SELECT * FROM "2" WHERE a = 2', 'SELECT * FROM "1" WHERE a = 3', 'SELECT * FROM audit_3 WHERE a = 3'];
    expect(texts.map((sql) => denied(rules, simple(sql)))).toEqual([false, false, true, false, true]);
  });

  /**
   * kind=write asks the classifier, whose verdict may change (the catalog's volatility): such an
   * answer is kept no longer than the string path keeps it (the last text), so the same text
   * after another one is classified again.
   */
  it('keeps no answer the classifier decided past the next text', () => {
    const verdicts: string[] = [];
    const defs = [parseRule('r1', 'kind=write deny=yes', 'f:1')];
    const e = new RulesEngine(defs, { result_cache_size: 0, result_cache_max_answer: 0 }, { elided: literalsElided, normalized: normalizedText, lastText: () => new IntegerLiterals() });
    const db: RulesDatabase = {
      name: 'shop',
      domain: 'shop@h:5432',
      readYourWrites: 'off',
      classify: (sql) => {
        verdicts.push(sql);
        return sql.startsWith('DELETE') ? { target: 'primary', reason: 'write' } : { target: 'replica', reason: 'read' };
      },
      catalog: () => null,
      catalogChanged: () => undefined,
    };
    const rules = new ClientRules(e, db, { id: 1, user: 'app', remote: '127.0.0.1:5000', params: new Map([['application_name', 'web']]), statementText: () => undefined });
    expect(['SELECT f(1)', 'SELECT f(1)', 'DELETE FROM t', 'SELECT f(1)'].map((sql) => denied(rules, simple(sql)))).toEqual([false, false, true, false]);
    expect(verdicts).toEqual(['SELECT f(1)', 'DELETE FROM t', 'SELECT f(1)']);
  });
});
