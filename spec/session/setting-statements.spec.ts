// Unit spec of lib/session/setting-statements and the pure parts of lib/session/settings: which
// statement texts may change a session setting (the byte scan every statement passes, then the
// grammar), which settings, the replay a server needs, and startup `options`.

import { loadModule } from 'libpg-query';
import { query } from '../../lib/protocol/frontend';
import { maySetBytes, settingEffect } from '../../lib/session/setting-statements';
import { parseStartupOptions, replayFor, SettingValues } from '../../lib/session/settings';

beforeAll(async () => {
  await loadModule();
});

function scan(sql: string): boolean {
  const frame = query(sql);
  // The frame as the relay hands it over: the text from byte 5 to its NUL.
  return maySetBytes(frame, 5, frame.length - 1);
}

describe('the byte scan', () => {
  it.each([
    ["SET search_path = a", true],
    ['  -- a comment\n /* and /* a nested */ one */ set statement_timeout to 5', true],
    ['RESET ALL', true],
    ['reset work_mem;', true],
    ['DISCARD ALL', true],
    ['BEGIN; SET x.y = 1; COMMIT', true],
    ["SELECT pg_catalog.SET_CONFIG('a.b', 'c', false)", true],
    ["select Set_Config('a.b', $1, false)", true],
    ['SELECT abalance FROM pgbench_accounts WHERE aid = 42;', false],
    ['SHOW search_path', false],
    ['SETTLE_UP()', false],
    ['SELECT settings FROM t', false],
    ['UPDATE t SET v = 1', false],
    ['INSERT INTO reset_log VALUES (1)', false],
    ['', false],
  ])('%j may set: %s', (sql, want) => {
    expect(scan(sql)).toBe(want);
  });
});

describe('the effect of a text', () => {
  it.each([
    ["SET search_path = a, b", ['search_path'], false],
    ['SET SESSION statement_timeout TO 5000', ['statement_timeout'], false],
    ["SET myapp.Tenant = '42'", ['myapp.tenant'], false],
    ["SET SCHEMA 'x'", ['search_path'], false],
    ['SET ROLE app', ['role'], false],
    ["SET LOCAL search_path = a", [], false],
    ['SET TRANSACTION ISOLATION LEVEL SERIALIZABLE', [], false],
    ['SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY', ['default_transaction_isolation', 'default_transaction_read_only', 'default_transaction_deferrable'], false],
    ['RESET work_mem', ['work_mem'], false],
    ['RESET ALL', [], true],
    ['DISCARD ALL', [], true],
    ['DISCARD PLANS', [], false],
    ["SELECT set_config('search_path', 'a', false), set_config('work_mem', '8MB', true)", ['search_path'], false],
    ["SELECT set_config('statement_timeout'::text, $1, $2)", ['statement_timeout'], false],
    ["BEGIN; SET a.b = 1; SAVEPOINT s; RESET c.d; COMMIT", ['a.b', 'c.d'], false],
    ['SET nonsense =', [], false],
  ])('%j changes %j (all: %s)', (sql, names, all) => {
    const e = settingEffect(sql);
    expect([...e.names].sort()).toEqual([...names].sort());
    expect(e.all).toBe(all);
  });
});

describe('the replay a server needs', () => {
  const values = (o: Record<string, string>): SettingValues => SettingValues.of(new Map(Object.entries(o)));

  it('is nothing when the server has the same values, also from another client (one shared object)', () => {
    const a = values({ search_path: 'public, pg_catalog', statement_timeout: '30s' });
    const b = values({ statement_timeout: '30s', search_path: 'public, pg_catalog' });
    expect(a).toBe(b);
    expect(replayFor(a, b)).toBeNull();
    expect(replayFor(SettingValues.EMPTY, SettingValues.EMPTY)).toBeNull();
  });

  it('RESETs what the server has and the client not, sets what differs, inside BEGIN ... COMMIT, with no Sync', () => {
    const r = replayFor(values({ work_mem: '8MB', 'my.x': "it's" }), values({ work_mem: '4MB', 'a.b': '1' }));
    expect(r).not.toBeNull();
    const text = r!.bytes.toString('latin1');
    // BEGIN, RESET "a"."b", the one SELECT of set_config, COMMIT: four Parse/Bind/Execute, no Sync ('S').
    expect(r!.statements).toBe(4);
    expect(text).toContain('RESET "a"."b"');
    expect(text).toContain('SELECT pg_catalog.set_config($1, $2, false), pg_catalog.set_config($3, $4, false)');
    expect(text).toContain("it's");
    let pos = 0;
    const types: string[] = [];
    while (pos < r!.bytes.length) {
      types.push(String.fromCharCode(r!.bytes[pos]));
      pos += 1 + r!.bytes.readInt32BE(pos + 1);
    }
    expect(types.join('')).toBe('PBEPBEPBEPBE');
  });
});

describe('startup options', () => {
  it.each([
    ['-c search_path=t7,public -c statement_timeout=12s', { search_path: 't7,public', statement_timeout: '12s' }],
    ['-cwork_mem=2MB --Lock-Timeout=1s', { work_mem: '2MB', lock_timeout: '1s' }],
    ['-c search_path=a,\\ b', { search_path: 'a, b' }],
    ['', {}],
  ])('%j is %j', (options, want) => {
    expect(Object.fromEntries(parseStartupOptions(options) ?? [])).toEqual(want);
  });

  it.each(['-e', '-c', '-c noequals', '-d 5 -c a=b', 'plain'])('%j is not only -c switches', (options) => {
    expect(parseStartupOptions(options)).toBeNull();
  });
});
