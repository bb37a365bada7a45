// Owns the one table of [pgbouncer] settings: name, type, PgBouncer 1.18 default, reloadability,
// whether pgmux acts on it yet, and help. Parsing, validation, RELOAD, SHOW CONFIG and the docs
// all derive from these rows; the `Settings` type is mapped from them so no name is written twice.
//
// Defaults and the `reloadable` column were read off a running PgBouncer 1.18.0 (SHOW CONFIG's
// `default` and `changeable` columns), which is the CF_ABS table of its src/main.c. `default: null`
// marks keys PgBouncer has no default for (NULL in CF_ABS): SHOW CONFIG prints an empty default and
// a repeated [pgbouncer] header does not reset them. Rows stay in alphabetical order because that
// order is SHOW CONFIG's. To add a setting, add a row; nothing else needs to learn its name.

export type SettingType = 'int' | 'bool' | 'string' | 'list' | 'enum' | 'time' | 'lag';

export interface SettingRow {
  readonly name: string;
  /**
   * int: C-style integer (decimal, 0x hex, 0 octal, as PgBouncer's strtol(..., 0)).
   * bool: 0/1, on/off, yes/no, true/false (PgBouncer itself takes integers; nonzero is true).
   * string: verbatim. list: comma-separated, items trimmed, empty items dropped.
   * enum: one of `values`, case-insensitive. time: seconds as a non-negative float.
   * lag (pgmux only): a size and/or a time with units, e.g. '16MB,5s' (lib/config/routing.ts),
   * kept as its canonical text.
   */
  readonly type: SettingType;
  /** PgBouncer's default text, exactly as its table has it (e.g. '0777'); null where it has none. */
  readonly default: string | null;
  /** false: a RELOAD keeps the running value (PgBouncer's CF_NO_RELOAD). */
  readonly reloadable: boolean;
  /** false: accepted only at its default; pgmux does not act on the setting yet. */
  readonly supported: boolean;
  /**
   * A supported setting no code reads, because every value of it already holds for pgmux: why.
   * (spec/config/promises.spec.ts fails for a supported row that lib/ does not read and has none.)
   */
  readonly inert?: string;
  readonly help: string;
  /** enum only: every value PgBouncer accepts; the first spelling is the canonical one. */
  readonly values?: readonly string[];
  /** enum only: the subset pgmux acts on now (absent means all of `values`). */
  readonly supportedValues?: readonly string[];
  /** int and time only: inclusive bounds (ints default to 0 ... 2147483647). */
  readonly min?: number;
  readonly max?: number;
  /** Another name for the setting it points at; it has no value of its own. */
  readonly aliasOf?: string;
}

const SSLMODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;

/** pool_mode's values; also what [databases] and [users] lines accept for pool_mode. */
export const POOL_MODES = ['session', 'transaction', 'statement'] as const;

// PgBouncer sets TCP_DEFER_ACCEPT by default only where the OS has it (Linux).
const DEFER_ACCEPT_DEFAULT = process.platform === 'linux' ? '1' : '0';

const TABLE = [
  { name: 'admin_users', type: 'list', default: '', reloadable: true, supported: true,
    help: 'Users allowed to connect to the admin console and run every command.' },
  { name: 'application_name_add_host', type: 'bool', default: '0', reloadable: true, supported: true,
    help: "Append the client's host and port to application_name at login." },
  { name: 'auth_file', type: 'string', default: null, reloadable: true, supported: true,
    help: 'File of "user" "password" lines; relative paths are taken from the current directory.' },
  { name: 'auth_hba_file', type: 'string', default: '', reloadable: true, supported: true,
    help: 'pg_hba.conf-style rules used when auth_type = hba (PgBouncer\'s subset: local, host, hostssl, hostnossl; trust, reject, md5, password, scram-sha-256, cert).' },
  { name: 'auth_query', type: 'string',
    default: 'SELECT rolname, CASE WHEN rolvaliduntil < now() THEN NULL ELSE rolpassword END FROM pg_authid WHERE rolname=$1 AND rolcanlogin',
    reloadable: true, supported: true,
    help: 'Query that looks up a password for users missing from auth_file; used only with auth_user.' },
  { name: 'auth_type', type: 'enum', default: 'md5', reloadable: true, supported: true,
    values: ['cert', 'md5', 'scram-sha-256', 'plain', 'trust', 'any', 'hba', 'pam'],
    supportedValues: ['trust', 'any', 'plain', 'md5', 'scram-sha-256', 'cert', 'hba'],
    help: 'How clients authenticate to pgmux.' },
  { name: 'auth_user', type: 'string', default: null, reloadable: true, supported: true,
    help: 'User that runs auth_query for users missing from auth_file.' },
  { name: 'autodb_idle_timeout', type: 'time', default: '3600', reloadable: true, supported: true,
    help: 'Seconds after which an unused database made from the "*" entry is dropped.' },
  { name: 'client_idle_timeout', type: 'time', default: '0', reloadable: true, supported: true,
    help: 'Seconds an idle client may stay connected; 0 disables.' },
  { name: 'client_login_timeout', type: 'time', default: '60', reloadable: true, supported: true,
    help: 'Seconds a client has to finish logging in.' },
  // The client_tls_* and server_tls_* rows become node:tls contexts in lib/auth/tls.ts (read at
  // start and on every RELOAD; a RELOAD that cannot load them keeps the previous TLS setup).
  { name: 'client_tls_ca_file', type: 'string', default: '', reloadable: true, supported: true,
    help: 'CA certificate used to validate client certificates.' },
  { name: 'client_tls_cert_file', type: 'string', default: '', reloadable: true, supported: true,
    help: 'Certificate pgmux presents to TLS clients.' },
  { name: 'client_tls_ciphers', type: 'string', default: 'fast', reloadable: true, supported: true,
    help: 'Allowed TLS ciphers for client connections: fast, normal, secure, compat, legacy, all, or an OpenSSL list.' },
  { name: 'client_tls_dheparams', type: 'string', default: 'auto', reloadable: true, supported: true,
    help: 'DHE key exchange for client TLS: none, auto or legacy.' },
  { name: 'client_tls_ecdhcurve', type: 'string', default: 'auto', reloadable: true, supported: true,
    help: 'Elliptic curve for ECDH key exchange with TLS clients.' },
  { name: 'client_tls_key_file', type: 'string', default: '', reloadable: true, supported: true,
    help: 'Private key for client_tls_cert_file.' },
  { name: 'client_tls_protocols', type: 'string', default: 'secure', reloadable: true, supported: true,
    help: 'TLS versions allowed for clients (tlsv1.0 ... tlsv1.3, all, secure, legacy).' },
  { name: 'client_tls_sslmode', type: 'enum', default: 'disable', reloadable: true, supported: true,
    values: SSLMODES,
    help: 'TLS for client connections: disable, allow/prefer (offered), require, verify-ca/verify-full (client certificate required).' },
  { name: 'conffile', type: 'string', default: null, reloadable: true, supported: true,
    help: 'Config file read on RELOAD; starts as the file named on the command line.' },
  { name: 'default_pool_size', type: 'int', default: '20', reloadable: true, supported: true,
    help: 'Server connections allowed per (database, user) pool unless the database sets pool_size.' },
  { name: 'disable_pqexec', type: 'bool', default: '0', reloadable: false, supported: true,
    help: 'Refuse the simple query protocol, so each packet carries one statement: a Query message closes the client with "PQexec disallowed" (the admin console still takes its commands).' },
  { name: 'dns_max_ttl', type: 'time', default: '15', reloadable: true, supported: true,
    inert: 'pgmux caches no DNS answer: every server connection looks its host up afresh, within any bound',
    help: 'Seconds a successful DNS lookup may be cached (pgmux caches none).' },
  { name: 'dns_nxdomain_ttl', type: 'time', default: '15', reloadable: true, supported: true,
    inert: 'pgmux caches no DNS answer: every server connection looks its host up afresh, within any bound',
    help: 'Seconds a failed DNS lookup may be cached (pgmux caches none).' },
  // PgBouncer re-resolves zones whose serial changed and drops connections to hosts that moved.
  { name: 'dns_zone_check_period', type: 'time', default: '0', reloadable: true, supported: false,
    help: 'Seconds between DNS zone serial checks; 0 disables.' },
  { name: 'failover_timeout', type: 'time', default: '30', reloadable: true, supported: true,
    help: 'pgmux only: seconds new transactions wait, held in the queue, while the primary is lost and pgmux looks for a new one (a promoted standby on a newer timeline, or the same server back); then they fail naming the hosts tried. 0 fails them at once.' },
  { name: 'http_listen_addr', type: 'string', default: '127.0.0.1', reloadable: true, supported: true,
    help: 'pgmux only: address of the HTTP listener (GET /metrics, /status, /healthz, /readyz) when http_listen_port is set; * means all addresses. Loopback by default: the status page and the metrics are not for the open network.' },
  { name: 'http_listen_port', type: 'int', default: '0', reloadable: true, supported: true, min: 0, max: 65535,
    help: 'pgmux only: port of the HTTP listener for Prometheus metrics, the live status page and health checks; 0 (the default) turns it off, and with it the per-query histograms. A RELOAD with another address or port moves the listener.' },
  { name: 'idle_transaction_timeout', type: 'time', default: '0', reloadable: true, supported: true,
    help: 'Seconds a client may sit idle inside a transaction before it is disconnected; 0 disables.' },
  { name: 'ignore_startup_parameters', type: 'list', default: '', reloadable: true, supported: true,
    help: 'Startup parameters accepted from clients and then ignored (e.g. extra_float_digits).' },
  { name: 'job_name', type: 'string', default: 'pgbouncer', reloadable: false, supported: true,
    inert: 'the name of the Windows service; PgBouncer does nothing with it elsewhere either',
    help: 'Windows service name; also settable as service_name. No effect elsewhere.' },
  { name: 'listen_addr', type: 'list', default: '', reloadable: false, supported: true,
    help: 'TCP addresses to listen on; * means all; empty means Unix socket only.' },
  { name: 'listen_backlog', type: 'int', default: '128', reloadable: false, supported: true,
    help: 'Backlog passed to listen(2).' },
  { name: 'listen_port', type: 'int', default: '6432', reloadable: false, supported: true, min: 0, max: 65535,
    help: 'Port for TCP and the Unix socket name.' },
  { name: 'load_balance', type: 'enum', default: 'round_robin', reloadable: true, supported: true,
    values: ['round_robin', 'least_connections', 'random', 'least_outstanding', 'latency'],
    help: "pgmux only: how reads pick among a database's healthy replicas: round_robin (weighted), least_connections (fewest server connections per unit of weight), random (weighted), least_outstanding (fewest requests running or queued per unit of weight) or latency (lowest moving average of probe round trips). Weights come from replicas=host:port@weight; replicas in pgmux's own zone are used first." },
  { name: 'log_connections', type: 'bool', default: '1', reloadable: true, supported: true,
    help: 'Log successful logins.' },
  { name: 'log_disconnections', type: 'bool', default: '1', reloadable: true, supported: true,
    help: 'Log disconnections and their reasons.' },
  { name: 'log_pooler_errors', type: 'bool', default: '1', reloadable: true, supported: true,
    help: 'Log the errors pgmux sends to clients.' },
  { name: 'log_stats', type: 'bool', default: '1', reloadable: true, supported: true,
    help: 'Log aggregated statistics every stats_period.' },
  { name: 'logfile', type: 'string', default: '', reloadable: true, supported: true,
    help: 'Log file; relative paths are taken from the current directory.' },
  { name: 'max_client_conn', type: 'int', default: '100', reloadable: true, supported: true,
    help: 'Maximum number of client connections.' },
  { name: 'max_db_connections', type: 'int', default: '0', reloadable: true, supported: true,
    help: 'Maximum server connections per database, over all its pools; 0 is unlimited.' },
  { name: 'max_packet_size', type: 'int', default: '2147483647', reloadable: true, supported: true, max: 4294967295,
    help: 'Largest protocol packet pgmux lets through, in bytes.' },
  { name: 'max_pinned_clients_per_pool', type: 'int', default: '0', reloadable: true, supported: true,
    help: 'pgmux only: in transaction and statement mode, clients per pool that may hold a server for themselves because of session state that cannot move (a session advisory lock, a temporary table, a WITH HOLD cursor, a prepared transaction); a statement that would pin one more client gets an error (53400) and the session goes on; 0 is unlimited.' },
  { name: 'max_prepared_statements', type: 'int', default: '200', reloadable: true, supported: true,
    help: 'pgmux only (PgBouncer 1.21 semantics): named prepared statements kept per server connection in transaction and statement mode, re-prepared on whichever server a client lands on; 0 passes them through unchanged.' },
  { name: 'max_replica_lag', type: 'lag', default: '64MB,10s', reloadable: true, supported: true,
    help: 'pgmux only: a replica further behind the primary than this takes no reads until it is back under half of it. A size (B, kB, MB, GB, TB: bytes of WAL not yet replayed) and/or a time (ms, s, min, h: since the oldest unreplayed WAL was seen on the primary), e.g. 16MB, 5s or 16MB,5s; 0 for no limit.' },
  { name: 'max_user_connections', type: 'int', default: '0', reloadable: true, supported: true,
    help: 'Maximum server connections per user, over all its pools; 0 is unlimited.' },
  { name: 'metrics_fingerprints', type: 'int', default: '20', reloadable: true, supported: true, max: 1000,
    help: 'pgmux only: query fingerprints (statements alike but for their literals) that get their own latency histogram on /metrics: the ones with the most total time lately; every other statement is counted in one "other" series, so the series stay bounded.' },
  { name: 'min_pool_size', type: 'int', default: '0', reloadable: true, supported: true,
    help: 'Keep at least this many server connections per pool; 0 disables.' },
  { name: 'peer_id', type: 'int', default: '0', reloadable: false, supported: true, max: 65535,
    help: 'pgmux only (PgBouncer 1.19 semantics): the id of this pgmux among the [peers]; it goes into every cancel key handed out, so a peer that receives a cancel for this instance forwards it here; 0 turns peering off.' },
  { name: 'pidfile', type: 'string', default: '', reloadable: false, supported: true,
    help: 'PID file; relative paths are taken from the current directory.' },
  { name: 'pkt_buf', type: 'int', default: '4096', reloadable: false, supported: true,
    help: 'Size of internal packet buffers, in bytes.' },
  { name: 'pool_mode', type: 'enum', default: 'session', reloadable: true, supported: true,
    values: POOL_MODES,
    help: 'When a server connection returns to the pool: after the session, transaction or statement.' },
  { name: 'query_timeout', type: 'time', default: '0', reloadable: true, supported: true,
    help: 'Seconds after which a running query is cancelled; 0 disables.' },
  { name: 'query_wait_timeout', type: 'time', default: '120', reloadable: true, supported: true,
    help: 'Seconds a client may wait for a server connection; 0 waits forever.' },
  { name: 'read_only_functions', type: 'list', default: '', reloadable: true, supported: true,
    help: 'pgmux only: functions that never send a statement to the primary, even when pg_proc marks them volatile.' },
  { name: 'read_your_writes', type: 'enum', default: 'connection', reloadable: true, supported: true,
    values: ['connection', 'user', 'database', 'key', 'off'],
    help: "pgmux only: after a write commits, later reads of the same client connection (or user, or database) go only to a replica that has replayed it; key: of the same application key (/*pgmux_key='…'*/ or SET pgmux.key), on any connection, falling back to the connection for statements without one; off allows stale reads." },
  { name: 'read_your_writes_keys', type: 'int', default: '100000', reloadable: true, supported: true, min: 1,
    help: 'pgmux only: application keys (read_your_writes = key) remembered per database, least recently used forgotten first; a forgotten key\'s reads wait for its last write anyway (the safe side).' },
  { name: 'read_your_writes_timeout', type: 'time', default: '0.5', reloadable: true, supported: true,
    help: 'pgmux only: seconds a read may wait for a replica to replay its scope\'s last write (checked at every lag poll) before it runs on the primary; 0 sends it to the primary at once.' },
  { name: 'replica_lag_poll_interval', type: 'time', default: '0.1', reloadable: true, supported: true, min: 0.01, max: 60,
    help: "pgmux only: seconds between polls of each replica's replay position and the primary's WAL position." },
  { name: 'reserve_pool_size', type: 'int', default: '0', reloadable: true, supported: true,
    help: 'Extra server connections a pool may open when clients wait too long; 0 disables.' },
  { name: 'reserve_pool_timeout', type: 'time', default: '5', reloadable: true, supported: true,
    help: 'Seconds a client waits before the reserve pool is used.' },
  { name: 'resolv_conf', type: 'string', default: '', reloadable: false, supported: false,
    help: 'Custom resolv.conf for DNS lookups.' },
  { name: 'result_cache_max_answer', type: 'int', default: '1048576', reloadable: true, supported: true,
    help: 'pgmux only: largest answer, in bytes, the result cache keeps (lib/rules); a bigger one is passed on and not cached.' },
  { name: 'result_cache_size', type: 'int', default: '0', reloadable: false, supported: true,
    help: 'pgmux only: bytes of answers the result cache holds over all databases, least recently used dropped first; 0 (the default) turns it off. While it is on, pgmux follows every transaction\'s writes to drop stale answers, and cache_ttl rules and pgmux:cache hints are honoured.' },
  { name: 'sbuf_loopcnt', type: 'int', default: '5', reloadable: true, supported: true,
    inert: 'node reads each socket once per turn of its event loop (at most 64 KiB), so no connection holds up the others whatever the value',
    help: 'Buffers processed per connection before serving others; 0 is unlimited. pgmux serves each socket once per event-loop turn.' },
  { name: 'server_check_delay', type: 'time', default: '30', reloadable: true, supported: true,
    help: 'Seconds a released server may be reused without running server_check_query.' },
  { name: 'server_check_query', type: 'string', default: 'select 1', reloadable: true, supported: true,
    help: 'Query that checks an idle server is alive; empty disables the check.' },
  { name: 'server_connect_timeout', type: 'time', default: '15', reloadable: true, supported: true,
    help: 'Seconds allowed to connect to and log in to a server.' },
  { name: 'server_fast_close', type: 'bool', default: '0', reloadable: true, supported: false,
    help: 'In session mode, close servers marked for reconnect at the end of the transaction.' },
  { name: 'server_idle_timeout', type: 'time', default: '600', reloadable: true, supported: true,
    help: 'Seconds an idle server connection is kept; 0 disables.' },
  { name: 'server_lifetime', type: 'time', default: '3600', reloadable: true, supported: true,
    help: 'Seconds after which an unused server connection is closed; 0 means use once.' },
  { name: 'server_login_retry', type: 'time', default: '15', reloadable: true, supported: true,
    help: 'Seconds to wait before retrying a server after a failed login.' },
  { name: 'server_reset_query', type: 'string', default: 'DISCARD ALL', reloadable: true, supported: true,
    help: 'Query run on a server when a client releases it (session mode unless _always).' },
  { name: 'server_reset_query_always', type: 'bool', default: '0', reloadable: true, supported: true,
    help: 'Run server_reset_query in every pool mode, not only session.' },
  { name: 'server_round_robin', type: 'bool', default: '0', reloadable: true, supported: true,
    help: 'Reuse idle servers in round-robin order instead of LIFO.' },
  { name: 'server_tls_ca_file', type: 'string', default: '', reloadable: true, supported: true,
    help: 'CA certificate used to validate server certificates (verify-ca, verify-full).' },
  { name: 'server_tls_cert_file', type: 'string', default: '', reloadable: true, supported: true,
    help: 'Client certificate pgmux presents to servers.' },
  { name: 'server_tls_ciphers', type: 'string', default: 'fast', reloadable: true, supported: true,
    help: 'Allowed TLS ciphers for server connections: fast, normal, secure, compat, legacy, all, or an OpenSSL list.' },
  { name: 'server_tls_key_file', type: 'string', default: '', reloadable: true, supported: true,
    help: 'Private key for server_tls_cert_file.' },
  { name: 'server_tls_protocols', type: 'string', default: 'secure', reloadable: true, supported: true,
    help: 'TLS versions allowed for server connections.' },
  { name: 'server_tls_sslmode', type: 'enum', default: 'disable', reloadable: true, supported: true,
    values: SSLMODES,
    help: 'TLS for server connections: allow/prefer use it when offered, require insists, verify-ca/verify-full check the certificate.' },
  { name: 'service_name', type: 'string', default: null, reloadable: false, supported: true, aliasOf: 'job_name',
    help: 'Another name for job_name.' },
  { name: 'slow_query_threshold', type: 'time', default: '0', reloadable: true, supported: true,
    help: 'pgmux only: seconds from a request to its answer (waiting for a server included) beyond which pgmux logs one line for it: fingerprint, destination, wait and run time, user, database, application_name and trace id; 0 (the default) logs none.' },
  // Node 20 cannot set SO_REUSEPORT on a listening socket, so only the default is honest.
  { name: 'so_reuseport', type: 'bool', default: '0', reloadable: false, supported: false,
    help: 'Set SO_REUSEPORT so several instances can share a port.' },
  { name: 'stats_period', type: 'int', default: '60', reloadable: true, supported: true, min: 1,
    help: 'Seconds between statistics averages and log_stats lines.' },
  { name: 'stats_users', type: 'list', default: '', reloadable: true, supported: true,
    help: 'Users allowed read-only SHOW commands on the admin console.' },
  { name: 'suspend_timeout', type: 'time', default: '10', reloadable: true, supported: false,
    help: 'Seconds to wait for buffers to flush on SUSPEND or online restart.' },
  // Node has no Unix datagram sockets, so /dev/log cannot be written without a native module.
  { name: 'syslog', type: 'bool', default: '0', reloadable: true, supported: false,
    help: 'Also log to syslog.' },
  { name: 'syslog_facility', type: 'enum', default: 'daemon', reloadable: true, supported: false,
    values: ['auth', 'authpriv', 'daemon', 'user', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7'],
    help: 'Syslog facility.' },
  { name: 'syslog_ident', type: 'string', default: 'pgbouncer', reloadable: true, supported: false,
    help: 'Program name used in syslog.' },
  { name: 'tcp_defer_accept', type: 'bool', default: DEFER_ACCEPT_DEFAULT, reloadable: true, supported: false,
    help: 'Set TCP_DEFER_ACCEPT on listening sockets (Linux).' },
  { name: 'tcp_keepalive', type: 'bool', default: '1', reloadable: true, supported: true,
    help: 'Turn on TCP keepalive with OS defaults.' },
  { name: 'tcp_keepcnt', type: 'int', default: '0', reloadable: true, supported: false,
    help: 'TCP keepalive probe count; 0 keeps the OS default.' },
  { name: 'tcp_keepidle', type: 'int', default: '0', reloadable: true, supported: true,
    help: 'Seconds idle before TCP keepalive probes start; 0 keeps the OS default.' },
  { name: 'tcp_keepintvl', type: 'int', default: '0', reloadable: true, supported: false,
    help: 'Seconds between TCP keepalive probes; 0 keeps the OS default.' },
  { name: 'tcp_socket_buffer', type: 'int', default: '0', reloadable: true, supported: false,
    help: 'Socket send/receive buffer size in bytes; 0 keeps the OS default.' },
  { name: 'tcp_user_timeout', type: 'int', default: '0', reloadable: true, supported: false,
    help: 'TCP_USER_TIMEOUT in milliseconds; 0 keeps the OS default.' },
  { name: 'track_extra_parameters', type: 'list', default: 'IntervalStyle', reloadable: false, supported: true,
    help: 'pgmux only (from PgBouncer 1.20): extra client parameters remembered and synced to servers.' },
  { name: 'unix_socket_dir', type: 'string', default: '/tmp', reloadable: false, supported: true,
    help: 'Directory of the Unix socket, also used for Unix-socket servers; empty disables it.' },
  // Node has no getgrnam(), so a group name cannot be turned into a gid from the config alone.
  { name: 'unix_socket_group', type: 'string', default: '', reloadable: false, supported: false,
    help: 'Group owning the Unix socket.' },
  { name: 'unix_socket_mode', type: 'int', default: '0777', reloadable: false, supported: true, max: 0o7777,
    help: 'File mode of the Unix socket (octal with a leading 0).' },
  { name: 'user', type: 'string', default: null, reloadable: false, supported: false,
    help: 'Unix user to switch to after startup.' },
  { name: 'verbose', type: 'int', default: null, reloadable: true, supported: true,
    help: 'Log verbosity; like -v on the command line.' },
  { name: 'workers', type: 'string', default: '1', reloadable: false, supported: true,
    help: 'pgmux only: processes serving the same port and unix socket (node:cluster), a number or auto (one per CPU); 1 runs everything in one process as before. Cancels, pool limits, the admin console and metrics answer for the whole pgmux (README, Workers).' },
  { name: 'write_functions', type: 'list', default: '', reloadable: true, supported: true,
    help: 'pgmux only: functions whose call sends a statement to the primary, in addition to the built-in ones and volatile ones.' },
  { name: 'zone', type: 'string', default: '', reloadable: true, supported: true,
    help: "pgmux only: the zone pgmux runs in; reads go to replicas of the same zone (zones= on the database line) first, to others only when none of those is healthy and fresh enough." },
] as const satisfies readonly SettingRow[];

/** The table, in SHOW CONFIG order. */
export const SETTINGS: readonly SettingRow[] = TABLE;

type Row = (typeof TABLE)[number];

type ValueOf<R> = R extends { readonly type: 'enum'; readonly values: readonly (infer V)[] }
  ? V
  : R extends { readonly type: 'int' | 'time' }
    ? number
    : R extends { readonly type: 'bool' }
      ? boolean
      : R extends { readonly type: 'list' }
        ? string[]
        : string;

/** The loaded [pgbouncer] values, one property per (non-alias) row, typed by the row. */
export type Settings = {
  readonly [R in Row as R extends { readonly aliasOf: string } ? never : R['name']]: ValueOf<R>;
};

export type SettingName = keyof Settings;

/** A value of any setting, before its row says which. */
export type SettingValue = Settings[SettingName];

const BY_NAME: ReadonlyMap<string, SettingRow> = new Map(TABLE.map((row) => [row.name, row]));

/** The row for an exact (case-sensitive, as PgBouncer) name, or undefined. */
export function findSetting(name: string): SettingRow | undefined {
  return BY_NAME.get(name);
}
