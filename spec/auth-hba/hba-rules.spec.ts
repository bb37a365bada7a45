// Unit spec of lib/auth/hba (issue 7, "auth_type = hba"): the pg_hba.conf subset PgBouncer 1.18
// parses, as a table of rules, and first-match evaluation of a login against it. No sockets: the
// black-box side (real clients through pgmux, and PgBouncer side by side) is hba-login.spec.ts.

import { HbaError, addressBytes, matchHba, parseHba, type HbaLogin, type HbaTable } from '../../lib/auth/hba';

const FILE = '/etc/pgmux/hba.conf';

/** Parses `text` as FILE; @file names resolve in `files` (by absolute path). */
function table(text: string, files: Record<string, string> = {}): HbaTable {
  return parseHba(text, FILE, (path) => {
    const body = files[path];
    if (body === undefined) throw new Error('ENOENT: no such file');
    return body;
  });
}

function errorOf(text: string, files: Record<string, string> = {}): string {
  try {
    table(text, files);
  } catch (err) {
    expect(err).toBeInstanceOf(HbaError);
    return (err as Error).message;
  }
  throw new Error('expected the hba text to be refused');
}

const login = (over: Partial<HbaLogin>): HbaLogin => ({ address: '127.0.0.1', tls: false, database: 'app', user: 'alice', ...over });

/** The method the first matching rule gives, or 'no match'. */
function methodFor(t: HbaTable, over: Partial<HbaLogin>): string {
  return matchHba(t, login(over))?.method ?? 'no match';
}

describe('parsing the rules PgBouncer 1.18 takes', () => {
  it('reads each connection type, both address forms and every method into one rule per line (catches: a form or method dropped)', () => {
    const t = table(
      [
        '# comment line, then a blank one',
        '',
        'local     all  all                         peer',
        'host      app  alice  10.1.2.0/24          md5    # trailing comment',
        'hostssl   app  bob    192.168.0.0 255.255.0.0  scram-sha-256',
        'hostnossl all  carol  ::1/128              password',
        'host      all  dave   fe80:: ffff:ffff::   trust',
        'host      all  erin   0.0.0.0/0            cert',
        'host      all  all    0.0.0.0/0            reject',
      ].join('\n'),
    );
    expect(t.rules.map((r) => [r.source, r.type, r.method, r.net?.family ?? null])).toEqual([
      [`${FILE}:3`, 'local', 'peer', null],
      [`${FILE}:4`, 'host', 'md5', 4],
      [`${FILE}:5`, 'hostssl', 'scram-sha-256', 4],
      [`${FILE}:6`, 'hostnossl', 'password', 6],
      [`${FILE}:7`, 'host', 'trust', 6],
      [`${FILE}:8`, 'host', 'cert', 4],
      [`${FILE}:9`, 'host', 'reject', 4],
    ]);
    expect(t.rules[1]!.net!.mask).toEqual(Buffer.from([255, 255, 255, 0]));
    expect(t.rules[2]!.net!.mask).toEqual(Buffer.from([255, 255, 0, 0]));
    expect(t.warnings).toEqual([]);
  });

  it('reads name lists: all, sameuser, commas, quoted names (a quoted "all" is a name) and "" inside quotes (catches: keyword/name confusion)', () => {
    const t = table('host "all",app,"we""ird" sameuser,"sameuser" 127.0.0.1/32 md5\n');
    const r = t.rules[0]!;
    expect(r.databases).toEqual({ all: false, same: false, names: new Set(['all', 'app', 'we"ird']) });
    expect(r.users).toEqual({ all: false, same: true, names: new Set(['sameuser']) });
  });

  it('reads @file names relative to the hba file, comma lists per line, skipping blank and # lines (catches: @file ignored or resolved from the cwd)', () => {
    const t = table('host @dbs.txt @/abs/users,all 127.0.0.1/32 md5\n', {
      '/etc/pgmux/dbs.txt': 'app\n\n# more\nreports, "bi"\n',
      '/abs/users': 'alice\n',
    });
    expect([...t.rules[0]!.databases.names]).toEqual(['app', 'reports', 'bi']);
    expect([...t.rules[0]!.users.names].sort()).toEqual(['alice']);
    expect(t.rules[0]!.users.all).toBe(true);
  });

  it('keeps a rule whose address has bits outside its mask but warns, as PgBouncer (catches: silently widening or dropping it)', () => {
    const t = table('host all all 10.0.0.1/8 trust\n');
    expect(t.rules).toHaveLength(1);
    expect(t.warnings).toEqual([`address does not match mask in ${FILE}:1: 10.0.0.1 / 255.0.0.0; this rule matches no client (as in PgBouncer)`]);
  });

  it.each([
    ['hostgssenc all all 127.0.0.1/32 md5', 'unknown connection type "hostgssenc"'],
    ['Host all all 127.0.0.1/32 md5', 'unknown connection type "Host"'],
    ['host samerole all 127.0.0.1/32 md5', 'samerole is not supported'],
    ['host replication all 127.0.0.1/32 md5', 'replication is not supported'],
    ['host all +admins 127.0.0.1/32 md5', 'group membership (+admins) is not supported'],
    ['host all all samehost md5', 'cannot parse address "samehost"'],
    ['host all all db.example.com md5', 'cannot parse address "db.example.com"'],
    ['host all all 127.0.0.1/33 md5', 'invalid mask "33"'],
    ['host all all 127.0.0.1/ md5', 'invalid mask ""'],
    ['host all all ::1/129 md5', 'invalid mask "129"'],
    ['host all all 127.0.0.1 md5', 'cannot parse mask "md5" as an IPv4 address'],
    ['host all all 127.0.0.1 ffff:: md5', 'cannot parse mask "ffff::" as an IPv4 address'],
    ['host all all', 'expected a numeric IP address'],
    ['host all all 127.0.0.1/32 ident', 'unsupported method "ident"'],
    ['host all all 127.0.0.1/32 MD5', 'unsupported method "MD5"'],
    ['host all all 127.0.0.1/32 md5 clientcert=verify-full', 'options after the method are not supported'],
    ['local all all', 'unsupported method "(end of line)"'],
    ['host all,,x 127.0.0.1/32 md5', 'expected a database or user name'],
    ['host "unterminated all 127.0.0.1/32 md5', 'unterminated quoted name'],
    ['host @missing.txt all 127.0.0.1/32 md5', 'cannot read names file /etc/pgmux/missing.txt'],
  ])('refuses %j with file:line and the reason (catches: a broken line skipped, quietly changing who gets in)', (line, reason) => {
    expect(errorOf(`# ok\n${line}\n`)).toContain(`${FILE}:2: ${reason}`);
  });

  it('refuses a names file line with names not separated by commas, naming that file and line (catches: PgBouncer dropping the rest of the line)', () => {
    expect(errorOf('host @n.txt all 127.0.0.1/32 md5\n', { '/etc/pgmux/n.txt': 'a\nb c\n' })).toBe(
      '/etc/pgmux/n.txt:2: expected one name or a comma-separated list of names per line',
    );
  });

  it('stops a names file that includes itself (catches: unbounded recursion at start-up)', () => {
    expect(errorOf('host @loop.txt all 127.0.0.1/32 md5\n', { '/etc/pgmux/loop.txt': '@loop.txt\n' })).toContain('nested more than 10 deep');
  });
});

describe('matching a login (first matching line wins; none means reject)', () => {
  const rules = table(
    [
      'hostssl   all     all    127.0.0.0/8   cert',
      'host      all     all    127.0.0.2/32  reject',
      'hostnossl app     alice  127.0.0.0/8   md5',
      'host      app     bob    127.0.0.1 255.255.255.255  password',
      'host      sameuser all   127.0.0.0/8   scram-sha-256',
      'host      all     sameuser 10.0.0.0/8  trust',
      'host      all     carol  ::1/128       trust',
      'host      all     dave   2001:db8:: ffff:ffff:0:0::  md5',
      'host      all     erin   10.0.0.0 255.0.255.0  md5',
      'local     all     all                  peer',
    ].join('\n'),
  );

  it('matches hostssl only over TLS and hostnossl only without (catches: a TLS-only rule granting a plain connection)', () => {
    expect(methodFor(rules, { tls: true })).toBe('cert');
    expect(methodFor(rules, { tls: false })).toBe('md5');
    expect(methodFor(rules, { tls: true, address: '127.0.0.2' })).toBe('cert');
  });

  it('takes the first matching line, not the most specific (catches: a later allow overriding an earlier reject)', () => {
    expect(methodFor(rules, { address: '127.0.0.2' })).toBe('reject');
    expect(methodFor(rules, { address: '127.0.0.1', user: 'bob' })).toBe('password');
    expect(methodFor(rules, { address: '127.0.0.3', user: 'bob' })).toBe('no match');
  });

  it('matches users and databases by list, and sameuser in either column (catches: names matched loosely)', () => {
    expect(methodFor(rules, { user: 'alice', database: 'other' })).toBe('no match');
    expect(methodFor(rules, { user: 'app', database: 'app' })).toBe('scram-sha-256');
    expect(methodFor(rules, { user: 'zed', database: 'zed' })).toBe('scram-sha-256');
    expect(methodFor(rules, { address: '10.9.9.9', user: 'reports', database: 'reports' })).toBe('trust');
    expect(methodFor(rules, { address: '10.9.9.9', user: 'reports', database: 'app' })).toBe('no match');
  });

  it('matches IPv6 rules only for IPv6 clients, with prefix and mask forms (catches: an IPv6 rule applied to IPv4 or the reverse)', () => {
    expect(methodFor(rules, { address: '::1', user: 'carol' })).toBe('trust');
    expect(methodFor(rules, { address: '127.0.0.1', user: 'carol' })).toBe('no match');
    expect(methodFor(rules, { address: '2001:db8::42', user: 'dave' })).toBe('md5');
    expect(methodFor(rules, { address: '2001:db9::42', user: 'dave' })).toBe('no match');
  });

  it("takes a dual-stack listener's IPv4-mapped address (::ffff:a.b.c.d) as the IPv4 address (catches: IPv4 rules never matching behind listen_addr = *)", () => {
    expect(methodFor(rules, { address: '::ffff:127.0.0.2' })).toBe('reject');
    expect(methodFor(rules, { address: '::FFFF:127.0.0.1', user: 'bob' })).toBe('password');
  });

  it('applies a non-contiguous mask bit by bit, as PgBouncer (catches: masks assumed to be prefixes)', () => {
    expect(methodFor(rules, { address: '10.77.0.99', user: 'erin' })).toBe('md5');
    expect(methodFor(rules, { address: '10.77.1.99', user: 'erin' })).toBe('no match');
  });

  it('gives Unix socket clients only local rules, and TCP clients never local ones (catches: local trust reachable over TCP)', () => {
    expect(methodFor(rules, { address: null, user: 'bob' })).toBe('peer');
    const localOnly = table('local all all trust\n');
    expect(methodFor(localOnly, { address: '127.0.0.1' })).toBe('no match');
  });

  it('never matches a rule whose address has host bits outside its mask (catches: 10.0.0.1/8 admitting 10.x)', () => {
    const t = table('host all all 10.0.0.1/8 trust\n');
    expect(methodFor(t, { address: '10.0.0.1' })).toBe('no match');
    expect(methodFor(t, { address: '10.1.2.3' })).toBe('no match');
  });

  it('rejects everyone with an empty file (catches: no rules meaning allow)', () => {
    expect(methodFor(table('# nothing\n'), {})).toBe('no match');
  });
});

describe('addressBytes', () => {
  it.each([
    ['127.0.0.1', 4, '7f000001'],
    ['::1', 6, '00000000000000000000000000000001'],
    ['2001:db8::1:0:0:1', 6, '20010db8000000000001000000000001'],
    ['::ffff:1.2.3.4', 6, '00000000000000000000ffff01020304'],
    ['fe80::', 6, 'fe800000000000000000000000000000'],
  ])('reads %s as inet_pton does (catches: IPv6 compression or IPv4 tails misread)', (text, family, hex) => {
    expect(addressBytes(text)).toEqual({ family, bytes: Buffer.from(hex, 'hex') });
  });

  it.each(['fe80::1%eth0', '1.2.3', '01.2.3.4x', 'localhost', ''])('refuses %j (catches: zone ids or names taken as addresses)', (text) => {
    expect(addressBytes(text)).toBeUndefined();
  });
});
