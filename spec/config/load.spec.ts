// Specs for loadConfig: sections, comments, values, databases, users, and every refusal's
// "file:line: what to change" wording.

import { defaultSettings, loadConfig, resolveDatabase, effective } from '../../lib/config';
import { errorOf, tempDir, type TempDir } from './tmp';

let tmp: TempDir;
beforeAll(() => {
  tmp = tempDir();
});
afterAll(() => tmp.remove());

let counter = 0;
/** Writes `text` to a fresh file and returns its path. */
function ini(text: string): string {
  counter++;
  return tmp.write(`c${counter}.ini`, text);
}

describe('loadConfig basics', () => {
  it('gives every default for an empty [pgbouncer], with conffile set to the file', () => {
    const file = ini('[pgbouncer]\n');
    const config = loadConfig(file);
    expect(config.file).toBe(file);
    expect(config.settings).toEqual({ ...defaultSettings(), conffile: file });
    expect(config.databases.size).toBe(0);
    expect(config.users.size).toBe(0);
  });

  it('reads typed values: lists, octal ints, times, enums in any case', () => {
    const { settings } = loadConfig(
      ini(
        [
          '[pgbouncer]',
          'listen_addr = 127.0.0.1, ::1',
          'listen_port=7432',
          'unix_socket_mode = 0700',
          'reserve_pool_timeout = 2.5',
          'pool_mode = Transaction',
          'log_connections = 0',
          'server_check_query =',
        ].join('\n'),
      ),
    );
    expect(settings.listen_addr).toEqual(['127.0.0.1', '::1']);
    expect(settings.listen_port).toBe(7432);
    expect(settings.unix_socket_mode).toBe(0o700);
    expect(settings.reserve_pool_timeout).toBe(2.5);
    expect(settings.pool_mode).toBe('transaction');
    expect(settings.log_connections).toBe(false);
    expect(settings.server_check_query).toBe('');
  });

  it('lets a later line win and accepts service_name as another name for job_name', () => {
    const { settings } = loadConfig(ini('[pgbouncer]\nlisten_port = 1\nlisten_port = 2\nservice_name = svc\n'));
    expect(settings.listen_port).toBe(2);
    expect(settings.job_name).toBe('svc');
  });

  it('reads CRLF files and a UTF-8 byte order mark', () => {
    const { settings } = loadConfig(ini('\uFEFF[pgbouncer]\r\nlisten_port = 7000\r\nadmin_users = a,b\r\n'));
    expect(settings.listen_port).toBe(7000);
    expect(settings.admin_users).toEqual(['a', 'b']);
  });

  /**
   * PgBouncer's loader fills defaults on every [pgbouncer] header, so a second section (say in
   * an %include) starts over; keys PgBouncer has no default for (auth_file, verbose) survive.
   */
  it('resets settings to defaults at each [pgbouncer] header, as PgBouncer does', () => {
    const { settings } = loadConfig(
      ini('[pgbouncer]\nlisten_port = 7001\nauth_file = users.txt\nverbose = 2\n[pgbouncer]\nlisten_backlog = 5\n'),
    );
    expect(settings.listen_port).toBe(6432);
    expect(settings.listen_backlog).toBe(5);
    expect(settings.auth_file).toBe('users.txt');
    expect(settings.verbose).toBe(2);
  });

  it('keeps relative auth_file/logfile/pidfile strings as written (PgBouncer opens them from the cwd)', () => {
    const { settings } = loadConfig(ini('[pgbouncer]\nauth_file = userlist.txt\nlogfile = log/pgmux.log\npidfile = ./p.pid\n'));
    expect([settings.auth_file, settings.logfile, settings.pidfile]).toEqual(['userlist.txt', 'log/pgmux.log', './p.pid']);
  });
});

describe('comments and verbatim values', () => {
  /** The npm `ini` package cuts this value at ';'; PgBouncer and pgmux keep every character. */
  it("keeps password='it''s;#secret' whole", () => {
    const { databases } = loadConfig(ini("[pgbouncer]\n[databases]\nmydb = host=localhost password='it''s;#secret'\n"));
    expect(databases.get('mydb')?.password).toBe("it's;#secret");
  });

  it('treats ; and # as comments only at the start of a line, after optional blanks', () => {
    const { settings } = loadConfig(
      ini(
        [
          '; leading comment',
          '# another',
          '[pgbouncer] ; a comment after a header is fine',
          '   ; indented comment',
          '\t# tab-indented comment',
          ';listen_port = 1',
          'server_reset_query = DISCARD ALL ; # not a comment',
          'admin_users = a;b, c#d',
        ].join('\n'),
      ),
    );
    expect(settings.listen_port).toBe(6432);
    expect(settings.server_reset_query).toBe('DISCARD ALL ; # not a comment');
    expect(settings.admin_users).toEqual(['a;b', 'c#d']);
  });

  it('does not coerce values: "0777" stays text in a string setting', () => {
    const { settings } = loadConfig(ini('[pgbouncer]\njob_name = 0777\nserver_check_query = true\n'));
    expect(settings.job_name).toBe('0777');
    expect(settings.server_check_query).toBe('true');
  });
});

describe('[databases] and [users]', () => {
  it('parses connect strings, with defaults for dbname, host and port', () => {
    const file = ini(
      [
        '[pgbouncer]',
        '[databases]',
        'plain =',
        "app = host=10.0.0.1 port=5433 dbname='my db' user=bob pool_size=5 min_pool_size=1 reserve_pool=2",
        'more = pool_mode=statement max_db_connections=9 client_encoding=UTF8 datestyle=ISO timezone=UTC',
        "extra = application_name=x connect_query='SELECT 1' password=pw host=/var/run/postgresql",
      ].join('\n'),
    );
    const { databases } = loadConfig(file);
    expect(databases.get('plain')).toEqual({ name: 'plain', dbname: 'plain', host: undefined, port: 5432, source: `${file}:3` });
    expect(databases.get('app')).toEqual({
      name: 'app', dbname: 'my db', host: '10.0.0.1', port: 5433, user: 'bob', poolSize: 5, minPoolSize: 1, reservePool: 2,
      source: `${file}:4`,
    });
    expect(databases.get('more')).toMatchObject({
      poolMode: 'statement', maxDbConnections: 9, clientEncoding: 'UTF8', datestyle: 'ISO', timezone: 'UTC',
    });
    expect(databases.get('extra')).toMatchObject({
      applicationName: 'x', connectQuery: 'SELECT 1', password: 'pw', host: '/var/run/postgresql',
    });
  });

  it('keeps database names case-sensitive and lets a repeated name take the last line', () => {
    const { databases } = loadConfig(ini('[databases]\nApp = port=1\napp = port=2\napp = port=3\n[pgbouncer]\n'));
    expect([databases.get('App')?.port, databases.get('app')?.port]).toEqual([1, 3]);
  });

  it('uses the "*" line for any other name, with dbname = the name asked for', () => {
    const config = loadConfig(ini('[databases]\n* = host=fallback port=6000\nexact = host=h\n[pgbouncer]\n'));
    expect(resolveDatabase(config, 'exact')?.host).toBe('h');
    expect(resolveDatabase(config, 'other')).toMatchObject({ name: 'other', dbname: 'other', host: 'fallback', port: 6000 });
    const fixed = loadConfig(ini('[databases]\n* = host=f dbname=shared\n[pgbouncer]\n'));
    expect(resolveDatabase(fixed, 'x')).toMatchObject({ name: 'x', dbname: 'shared' });
    expect(resolveDatabase(loadConfig(ini('[pgbouncer]\n')), 'x')).toBeUndefined();
  });

  it('reads [users] lines and resolves overrides user line, then database line, then [pgbouncer]', () => {
    const file = ini(
      '[pgbouncer]\npool_mode = session\ndefault_pool_size = 7\n[databases]\nd = pool_mode=statement pool_size=3\n' +
        '[users]\nbob = pool_mode=transaction max_user_connections=10\n',
    );
    const config = loadConfig(file);
    const bob = config.users.get('bob');
    expect(bob).toEqual({ name: 'bob', poolMode: 'transaction', maxUserConnections: 10, source: `${file}:7` });
    const d = config.databases.get('d');
    const s = config.settings;
    expect(effective(s, 'pool_mode', d, bob)).toBe('transaction');
    expect(effective(s, 'pool_mode', d, undefined)).toBe('statement');
    expect(effective(s, 'pool_mode', undefined, undefined)).toBe('session');
    expect(effective(s, 'default_pool_size', d, bob)).toBe(3);
    expect(effective(s, 'max_user_connections', d, bob)).toBe(10);
    expect(effective(s, 'max_db_connections', d, bob)).toBe(0);
  });
});

describe('refusals say file:line and what to change', () => {
  it('refuses an unknown setting, hinting at the case-sensitive or nearest name', () => {
    const a = ini('[pgbouncer]\nlisten_prot = 1\n');
    expect(errorOf(() => loadConfig(a))).toBe(`ConfigError: ${a}:2: unknown setting "listen_prot" in [pgbouncer]; did you mean listen_port?`);
    const b = ini('[pgbouncer]\n\nLISTEN_PORT = 1\n');
    expect(errorOf(() => loadConfig(b))).toBe(
      `ConfigError: ${b}:3: unknown setting "LISTEN_PORT"; setting names are case-sensitive: write listen_port`,
    );
    const c = ini('[pgbouncer]\nfrobnicate = 1\n');
    expect(errorOf(() => loadConfig(c))).toBe(`ConfigError: ${c}:2: unknown setting "frobnicate" in [pgbouncer]; see SHOW CONFIG for the valid names`);
  });

  it('refuses a bad value with the accepted range or values', () => {
    const a = ini('[pgbouncer]\nlisten_port = 70000\n');
    expect(errorOf(() => loadConfig(a))).toBe(`ConfigError: ${a}:2: listen_port = "70000" is not valid; expected an integer from 0 to 65535`);
    const b = ini('[pgbouncer]\npool_mode = txn\n');
    expect(errorOf(() => loadConfig(b))).toBe(
      `ConfigError: ${b}:2: pool_mode = "txn" is not valid; expected one of: session, transaction, statement`,
    );
    const c = ini('[pgbouncer]\nquery_timeout = 5s\n');
    expect(errorOf(() => loadConfig(c))).toBe(
      `ConfigError: ${c}:2: query_timeout = "5s" is not valid; expected a number of seconds >= 0, such as 15 or 2.5 (no units)`,
    );
  });

  it('refuses an unsupported setting away from its default with exactly "<key> is not supported by pgmux yet"', () => {
    const a = ini('[pgbouncer]\nlisten_port = 7000\nserver_fast_close = 1\n');
    expect(errorOf(() => loadConfig(a))).toBe(`ConfigError: ${a}:3: server_fast_close is not supported by pgmux yet`);
    const b = ini('[pgbouncer]\nuser = postgres\n');
    expect(errorOf(() => loadConfig(b))).toBe(`ConfigError: ${b}:2: user is not supported by pgmux yet`);
    const c = ini('[pgbouncer]\ntcp_keepcnt = 5\n');
    expect(errorOf(() => loadConfig(c))).toBe(`ConfigError: ${c}:2: tcp_keepcnt is not supported by pgmux yet`);
  });

  /** Issue 11: settings that were marked supported while nothing read them now say so. */
  it.each([
    ['syslog = 1', 'syslog'],
    ['syslog_ident = pgbouncer-main', 'syslog_ident'],
    ['syslog_facility = local0', 'syslog_facility'],
    ['dns_zone_check_period = 60', 'dns_zone_check_period'],
  ])('refuses %s: not supported by pgmux yet', (line, key) => {
    const f = ini(`[pgbouncer]\n${line}\n`);
    expect(errorOf(() => loadConfig(f))).toBe(`ConfigError: ${f}:2: ${key} is not supported by pgmux yet`);
  });

  it('accepts an unsupported setting written at its default', () => {
    const file = ini('[pgbouncer]\nserver_fast_close = 0\nuser =\nauth_hba_file =\nunix_socket_group =\nsuspend_timeout = 10.0\n');
    expect(loadConfig(file).settings.suspend_timeout).toBe(10);
  });

  it('refuses enum values pgmux does not support yet and names the ones it does', () => {
    const b = ini('[pgbouncer]\nauth_type = pam\n');
    expect(errorOf(() => loadConfig(b))).toBe(
      `ConfigError: ${b}:2: auth_type = pam is not supported by pgmux yet; use one of: trust, any, plain, md5, scram-sha-256, cert, hba`,
    );
    const ok = loadConfig(ini('[pgbouncer]\nauth_type = SCRAM-SHA-256\nserver_tls_sslmode = prefer\n'));
    expect([ok.settings.auth_type, ok.settings.server_tls_sslmode]).toEqual(['scram-sha-256', 'prefer']);
  });

  it('refuses unknown database and user keys, and takes auth_user on a database line', () => {
    const a = ini('[pgbouncer]\n[databases]\nd = host=x hostname=y\n');
    expect(errorOf(() => loadConfig(a))).toMatch(
      new RegExp(`^ConfigError: ${a}:3: unknown key "hostname" for database "d"; valid keys: dbname, host, port, `),
    );
    const b = ini('[pgbouncer]\n[users]\nbob = pool_size=3\n');
    expect(errorOf(() => loadConfig(b))).toBe(
      `ConfigError: ${b}:3: unknown key "pool_size" for user "bob"; valid keys: pool_mode, max_user_connections`,
    );
    const c = ini('[pgbouncer]\n[databases]\nd = auth_user=x\n');
    expect(loadConfig(c).databases.get('d')?.authUser).toBe('x');
  });

  it('refuses bad database values', () => {
    const a = ini('[pgbouncer]\n[databases]\nd = port=0\n');
    expect(errorOf(() => loadConfig(a))).toBe(`ConfigError: ${a}:3: port must be an integer from 1 to 65535, not "0"`);
    const b = ini('[pgbouncer]\n[databases]\nd = pool_mode=txn\n');
    expect(errorOf(() => loadConfig(b))).toBe(`ConfigError: ${b}:3: pool_mode must be one of: session, transaction, statement, not "txn"`);
    const c = ini('[pgbouncer]\n[databases]\npgbouncer = host=x\n');
    expect(errorOf(() => loadConfig(c))).toBe(
      `ConfigError: ${c}:3: database name "pgbouncer" is reserved for the admin console; choose another name`,
    );
  });

  it('refuses unknown sections, lines outside any section, and a file with no [pgbouncer]', () => {
    const a = ini('[pgbouncer]\n[PgBouncer]\n');
    expect(errorOf(() => loadConfig(a))).toBe(
      `ConfigError: ${a}:2: unknown section [PgBouncer]; section names are case-sensitive and unpadded: write [pgbouncer]`,
    );
    const b = ini('[shards]\n');
    expect(errorOf(() => loadConfig(b))).toBe(
      `ConfigError: ${b}:1: unknown section [shards]; PgBouncer 1.18 has only [databases], [users] and [pgbouncer], PgBouncer 1.19 adds [peers] and pgmux adds [rules]`,
    );
    const c = ini('listen_port = 1\n[pgbouncer]\n');
    expect(errorOf(() => loadConfig(c))).toBe(
      `ConfigError: ${c}:1: "listen_port" comes before any section; put it under [pgbouncer], [databases], [users], [peers] or [rules]`,
    );
    const d = ini('[databases]\nd = host=x\n');
    expect(errorOf(() => loadConfig(d))).toBe(`ConfigError: ${d}: no [pgbouncer] section; PgBouncer requires one (it may be empty)`);
  });

  it('points at a [pgbouncer] setting left under [databases]', () => {
    const a = ini('[pgbouncer]\n[databases]\nd = host=x\nlisten_port = 7000\n');
    expect(errorOf(() => loadConfig(a))).toBe(
      `ConfigError: ${a}:4: "listen_port" is a [pgbouncer] setting but sits in [databases]; add a [pgbouncer] header above it`,
    );
  });

  it('reports syntax errors at their line', () => {
    const a = ini('[pgbouncer]\nlisten_port 6432\n');
    expect(errorOf(() => loadConfig(a))).toBe(
      `ConfigError: ${a}:2: syntax error: expected "name = value", "[section]", "%include file" or a comment starting with ; or #`,
    );
    const b = ini('[pgbouncer]\n[databases]\nmy db = host=x\n');
    expect(errorOf(() => loadConfig(b))).toMatch(new RegExp(`^ConfigError: ${b}:3: syntax error: " " cannot appear in a name`));
    const c = ini('[pgbouncer\n');
    expect(errorOf(() => loadConfig(c))).toBe(`ConfigError: ${c}:1: syntax error: section header has no closing "]"`);
    const d = ini('[pgbouncer]\n= 5\n');
    expect(errorOf(() => loadConfig(d))).toBe(`ConfigError: ${d}:2: syntax error: nothing left of "="; write "name = value"`);
  });

  it('refuses a missing config file by name', () => {
    const missing = `${tmp.dir}/nope.ini`;
    expect(errorOf(() => loadConfig(missing))).toBe(`ConfigError: ${missing}: cannot read config file: no such file`);
  });
});
