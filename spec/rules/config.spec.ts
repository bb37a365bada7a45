// Specs for the [rules] section as the loader reads it (issue 15): the fields of a rule, the order
// rules are tried in, %include, and every refusal's "file:line: what to change".

import { loadConfig, parseRule, type RuleDef } from '../../lib/config';
import { errorOf, tempDir, type TempDir } from '../config/tmp';

let tmp: TempDir;
beforeAll(() => {
  tmp = tempDir();
});
afterAll(() => tmp.remove());

let counter = 0;
function ini(text: string, name = `r${++counter}.ini`): string {
  return tmp.write(name, text);
}

/** The rule named `name` of a [rules] section holding `lines`. */
function rulesOf(lines: string, settings = ''): readonly RuleDef[] {
  return loadConfig(ini(`[pgbouncer]\n${settings}[rules]\n${lines}`)).rules ?? [];
}

describe('[rules] loading', () => {
  /** A config without [rules] is PgBouncer's own: nothing of the rules may change it. */
  it('leaves a config without [rules] with no rules', () => {
    expect(loadConfig(ini('[pgbouncer]\n')).rules).toEqual([]);
  });

  it('reads every field of a rule', () => {
    const [r] = rulesOf(
      "all_of_it = order=5 user=app,batch_* database=shop application_name=report address=10.0.0.0/8,::1,unix " +
        "kind=select,read fingerprint=348BEE4E67E86CA6 regex='^select\\s+\\*' in_transaction=no " +
        'statement_timeout=2.5s rate=120/min burst=4 rate_by=user rate_wait=250ms continue=yes\n',
    );
    expect(r).toMatchObject({
      name: 'all_of_it',
      order: 5,
      users: ['app', 'batch_*'],
      databases: ['shop'],
      applicationNames: ['report'],
      kinds: ['select', 'read'],
      fingerprints: ['348bee4e67e86ca6'],
      regex: '^select\\s+\\*',
      inTransaction: false,
      timeoutMs: 2500,
      rate: { perSecond: 2, burst: 4, by: 'user', waitMs: 250 },
      continues: true,
    });
    expect(r.addresses?.map((a) => (a.kind === 'unix' ? 'unix' : `${a.bytes.join('.')}/${a.prefix}`))).toEqual([
      '10.0.0.0/8',
      `${[...new Array<number>(15).fill(0), 1].join('.')}/128`,
      'unix',
    ]);
    expect(r.source).toMatch(/:3$/);
  });

  /** deny takes the rule's SQLSTATE and message; the defaults say which rule refused. */
  it('reads deny with its SQLSTATE and message, and their defaults', () => {
    const [a, b] = rulesOf("a = kind=drop deny=yes sqlstate=P0001 message='no ''DROP'' here'\nb = kind=truncate deny=yes\n");
    expect(a.deny).toEqual({ code: 'P0001', message: "no 'DROP' here" });
    expect(b.deny).toEqual({ code: '42501', message: 'statement denied by pgmux rule "b"' });
  });

  /** Rules run by order, then as written, whichever files they come from. */
  it('orders rules by order=, then as written, across %include', () => {
    ini('[rules]\nincluded = order=1 kind=select route=primary\n', 'more-rules.ini');
    const file = ini('[pgbouncer]\n[rules]\nlate = order=9 kind=select route=primary\nfirst = kind=select route=primary\n%include more-rules.ini\nsecond = kind=select route=primary\n');
    expect((loadConfig(file).rules ?? []).map((r) => r.name)).toEqual(['first', 'second', 'included', 'late']);
  });

  it.each([
    ['a = kind=select', 'rule a: has no action; give it route=, deny=yes, statement_timeout=, rate= or cache_ttl='],
    ['a = kind=select colour=blue route=primary', 'rule a: unknown key "colour"'],
    ['a = kind=selects route=primary', 'rule a: kind = selects is unknown; use read, write, select'],
    ["a = regex='(' deny=yes", "rule a: regex '(' does not compile"],
    ['a = fingerprint=xyz deny=yes', 'rule a: fingerprint = xyz is not 16 hex digits'],
    ['a = address=10.0.0.0/33 deny=yes', 'rule a: address 10.0.0.0/33 is not an IP address, a CIDR network'],
    ['a = kind=insert,update route=replica', 'rule a: route=replica for kind=insert,update: a replica cannot run writes'],
    ['a = kind=select deny=yes route=primary', 'rule a: deny=yes refuses the statement; it cannot also route'],
    ['a = kind=select deny=yes sqlstate=00000', 'rule a: sqlstate = 00000 is not an error SQLSTATE'],
    ['a = kind=select statement_timeout=soon', 'rule a: statement_timeout = soon is not a duration'],
    ['a = kind=select rate=lots', 'rule a: rate = lots is not a rate; write statements per time, e.g. 50/s or 600/min'],
    ['a = kind=select burst=3 deny=yes', 'rule a: burst, rate_by and rate_wait belong to rate='],
    ['a = kind=select message=hi route=primary', 'rule a: sqlstate and message belong to deny=yes'],
    ['a = kind=select route=sideways', 'rule a: route = sideways is unknown; use primary or replica'],
    ['a = kind=select cache_ttl=5s in_transaction=yes', 'rule a: cache_ttl with in_transaction=yes'],
  ])('refuses %s with file:line and what to change', (line, problem) => {
    const file = ini(`[pgbouncer]\nresult_cache_size = 1000000\n[rules]\n${line}\n`);
    expect(errorOf(() => loadConfig(file))).toContain(`ConfigError: ${file}:4: ${problem}`);
  });

  it('refuses two rules of one name', () => {
    const file = ini('[pgbouncer]\n[rules]\na = kind=select route=primary\na = kind=insert deny=yes\n');
    expect(errorOf(() => loadConfig(file))).toBe(`ConfigError: ${file}:4: rule a is already defined at ${file}:3; give each rule its own name`);
  });

  /** A cache rule without a cache would silently do nothing: refused, naming the setting. */
  it('refuses cache_ttl while result_cache_size is 0', () => {
    const file = ini('[pgbouncer]\n[rules]\nhot = kind=select cache_ttl=5s\n');
    expect(errorOf(() => loadConfig(file))).toBe(
      `ConfigError: ${file}:3: rule hot: cache_ttl needs the result cache; set result_cache_size (bytes, e.g. 67108864) in [pgbouncer] and start pgmux again`,
    );
    expect(rulesOf('hot = kind=select cache_ttl=5s\n', 'result_cache_size = 1048576\n')[0].cacheTtlMs).toBe(5000);
  });

  it('parses one rule line on its own (SHOW-less checks, tools)', () => {
    expect(parseRule('x', 'user=a deny=yes', 'f:1')).toMatchObject({ name: 'x', users: ['a'], deny: { code: '42501' }, source: 'f:1', order: 0 });
  });
});
