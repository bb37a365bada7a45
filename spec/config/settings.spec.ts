// Specs for the settings table: its shape, PgBouncer 1.18's defaults, and the derived types.

import { defaultSettings, findSetting, formatSetting, parseSettingValue, SETTINGS, type Settings } from '../../lib/config';
import { formatG, parseCInt } from '../../lib/config/values';

/** Every [pgbouncer] key of PgBouncer 1.18's doc/config.md (85, with the Windows-only service_name). */
const PGBOUNCER_118_KEYS = [
  'admin_users', 'application_name_add_host', 'auth_file', 'auth_hba_file', 'auth_query', 'auth_type',
  'auth_user', 'autodb_idle_timeout', 'client_idle_timeout', 'client_login_timeout', 'client_tls_ca_file',
  'client_tls_cert_file', 'client_tls_ciphers', 'client_tls_dheparams', 'client_tls_ecdhcurve',
  'client_tls_key_file', 'client_tls_protocols', 'client_tls_sslmode', 'conffile', 'default_pool_size',
  'disable_pqexec', 'dns_max_ttl', 'dns_nxdomain_ttl', 'dns_zone_check_period', 'idle_transaction_timeout',
  'ignore_startup_parameters', 'job_name', 'listen_addr', 'listen_backlog', 'listen_port', 'log_connections',
  'log_disconnections', 'log_pooler_errors', 'log_stats', 'logfile', 'max_client_conn', 'max_db_connections',
  'max_packet_size', 'max_user_connections', 'min_pool_size', 'pidfile', 'pkt_buf', 'pool_mode',
  'query_timeout', 'query_wait_timeout', 'reserve_pool_size', 'reserve_pool_timeout', 'resolv_conf',
  'sbuf_loopcnt', 'server_check_delay', 'server_check_query', 'server_connect_timeout', 'server_fast_close',
  'server_idle_timeout', 'server_lifetime', 'server_login_retry', 'server_reset_query',
  'server_reset_query_always', 'server_round_robin', 'server_tls_ca_file', 'server_tls_cert_file',
  'server_tls_ciphers', 'server_tls_key_file', 'server_tls_protocols', 'server_tls_sslmode', 'service_name',
  'so_reuseport', 'stats_period', 'stats_users', 'suspend_timeout', 'syslog', 'syslog_facility',
  'syslog_ident', 'tcp_defer_accept', 'tcp_keepalive', 'tcp_keepcnt', 'tcp_keepidle', 'tcp_keepintvl',
  'tcp_socket_buffer', 'tcp_user_timeout', 'unix_socket_dir', 'unix_socket_group', 'unix_socket_mode',
  'user', 'verbose',
];

describe('the settings table', () => {
  const names = SETTINGS.map((r) => r.name);

  /** SHOW CONFIG lists rows in table order, and PgBouncer's order is alphabetical. */
  it('is in alphabetical order with no duplicates', () => {
    expect(names).toEqual([...names].sort());
    expect(new Set(names).size).toBe(names.length);
  });

  it('has every [pgbouncer] key of PgBouncer 1.18, plus only the pgmux-only extensions', () => {
    const extensions = [
      'failover_timeout', 'http_listen_addr', 'http_listen_port', 'load_balance', 'max_pinned_clients_per_pool', 'max_prepared_statements', 'max_replica_lag',
      'metrics_fingerprints', 'peer_id', 'read_only_functions', 'read_your_writes', 'read_your_writes_keys', 'read_your_writes_timeout',
      'replica_lag_poll_interval', 'result_cache_max_answer', 'result_cache_size', 'slow_query_threshold', 'track_extra_parameters',
      'workers', 'write_functions', 'zone',
    ];
    expect(names.filter((n) => !PGBOUNCER_118_KEYS.includes(n))).toEqual(extensions);
    expect(PGBOUNCER_118_KEYS.filter((n) => !names.includes(n))).toEqual([]);
    for (const name of extensions) expect(findSetting(name)?.help).toMatch(/^pgmux only/);
  });

  /** A default its own parser rejected would make every config that omits the key unloadable. */
  it.each(SETTINGS.filter((r) => r.default !== null).map((r) => [r.name, r] as const))(
    "%s: the default parses with the row's own parser and is a supported value",
    (_name, row) => {
      const parsed = parseSettingValue(row, row.default ?? '');
      expect(parsed).toMatchObject({ ok: true });
      if (parsed.ok && row.supportedValues !== undefined) expect(row.supportedValues).toContain(parsed.value);
    },
  );

  it('gives enum rows their values, supportedValues only from them, and aliases a real target', () => {
    for (const row of SETTINGS) {
      expect([row.name, row.type === 'enum']).toEqual([row.name, row.values !== undefined]);
      for (const v of row.supportedValues ?? []) expect([row.name, row.values]).toEqual([row.name, expect.arrayContaining([v])]);
      if (row.aliasOf !== undefined) expect(findSetting(row.aliasOf)?.aliasOf).toBeUndefined();
    }
  });

  it('finds rows by exact, case-sensitive name as PgBouncer does', () => {
    expect(findSetting('listen_port')?.type).toBe('int');
    expect(findSetting('LISTEN_PORT')).toBeUndefined();
  });
});

describe('defaults (PgBouncer 1.18 SHOW CONFIG values)', () => {
  const d = defaultSettings();

  it.each([
    ['listen_port', '6432'],
    ['listen_addr', ''],
    ['listen_backlog', '128'],
    ['unix_socket_dir', '/tmp'],
    ['unix_socket_mode', '511'],
    ['pool_mode', 'session'],
    ['auth_type', 'md5'],
    ['max_client_conn', '100'],
    ['default_pool_size', '20'],
    ['reserve_pool_timeout', '5'],
    ['server_reset_query', 'DISCARD ALL'],
    ['server_check_query', 'select 1'],
    ['server_check_delay', '30'],
    ['server_lifetime', '3600'],
    ['server_idle_timeout', '600'],
    ['query_wait_timeout', '120'],
    ['client_login_timeout', '60'],
    ['max_packet_size', '2147483647'],
    ['server_tls_sslmode', 'disable'],
    ['client_tls_ciphers', 'fast'],
    ['log_connections', '1'],
    ['stats_period', '60'],
    ['pkt_buf', '4096'],
    ['track_extra_parameters', 'IntervalStyle'],
  ] as const)('%s is %j', (name, shown) => {
    const row = findSetting(name);
    if (row === undefined) throw new Error(`no row ${name}`);
    expect(formatSetting(row, d[name])).toBe(shown);
  });

  it('types values by row: numbers, booleans, lists and enum unions', () => {
    // These assignments are the compile-time half of the spec: tsc rejects them if the mapped
    // Settings type drifts from the table.
    const port: number = d.listen_port;
    const addrs: string[] = d.listen_addr;
    const logs: boolean = d.log_connections;
    const mode: 'session' | 'transaction' | 'statement' = d.pool_mode;
    const wait: number = d.query_wait_timeout;
    const keys: (keyof Settings)[] = ['listen_port', 'auth_type'];
    expect([port, addrs, logs, mode, wait, keys.length]).toEqual([6432, [], true, 'session', 120, 2]);
    expect('service_name' in d).toBe(false);
  });
});

describe('value syntax', () => {
  const row = (name: string) => {
    const r = findSetting(name);
    if (r === undefined) throw new Error(`no row ${name}`);
    return r;
  };

  it("reads ints as C's strtol(s, 0) does: hex, octal with a leading 0, decimal", () => {
    expect(['0x10', '0777', '42', '+7', '-3', '0'].map(parseCInt)).toEqual([16, 511, 42, 7, -3, 0]);
    expect(['08', '1.5', '', '12abc', ' 1'].map(parseCInt)).toEqual([undefined, undefined, undefined, undefined, undefined]);
  });

  it('says what range an int must be in', () => {
    expect(parseSettingValue(row('listen_port'), '70000')).toEqual({ ok: false, expected: 'an integer from 0 to 65535' });
    expect(parseSettingValue(row('default_pool_size'), '-1')).toEqual({ ok: false, expected: 'an integer from 0 to 2147483647' });
  });

  it('reads bools as 0/1, on/off, yes/no, true/false, and any integer as PgBouncer does', () => {
    const parse = (t: string) => parseSettingValue(row('log_stats'), t);
    for (const t of ['1', 'on', 'YES', 'true', '2']) expect(parse(t)).toEqual({ ok: true, value: true });
    for (const t of ['0', 'off', 'no', 'False']) expect(parse(t)).toEqual({ ok: true, value: false });
    expect(parse('maybe')).toMatchObject({ ok: false });
  });

  it('reads times as seconds, keeps whole microseconds, and refuses units and negatives', () => {
    const parse = (t: string) => parseSettingValue(row('server_lifetime'), t);
    expect(parse('2.5')).toEqual({ ok: true, value: 2.5 });
    expect(parse('1e-7')).toEqual({ ok: true, value: 0 });
    expect(parse('.5')).toEqual({ ok: true, value: 0.5 });
    for (const t of ['1s', '-3', 'inf', '']) expect(parse(t)).toMatchObject({ ok: false });
  });

  it('matches enum values case-insensitively and stores the canonical spelling', () => {
    expect(parseSettingValue(row('pool_mode'), 'Transaction')).toEqual({ ok: true, value: 'transaction' });
    expect(parseSettingValue(row('pool_mode'), 'txn')).toEqual({ ok: false, expected: 'one of: session, transaction, statement' });
  });

  it('splits lists on commas, trimming items and dropping empty ones', () => {
    expect(parseSettingValue(row('admin_users'), ' a, b ,,c ')).toEqual({ ok: true, value: ['a', 'b', 'c'] });
    expect(parseSettingValue(row('admin_users'), '')).toEqual({ ok: true, value: [] });
  });

  /** Expected strings are what C's printf("%g") prints for each value. */
  it('prints times like printf("%g")', () => {
    const cases: [number, string][] = [
      [0, '0'], [5, '5'], [2.5, '2.5'], [0.001, '0.001'], [1.23456789, '1.23457'], [1e8, '1e+08'],
      [123456.7, '123457'], [1234567, '1.23457e+06'], [0.00001, '1e-05'], [0.0001, '0.0001'], [3600, '3600'],
    ];
    expect(cases.map(([v]) => formatG(v))).toEqual(cases.map(([, s]) => s));
  });
});
