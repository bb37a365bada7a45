// Owns every refusal pgmux sends a client: one named constructor per condition, each with one
// SQLSTATE and PgBouncer 1.18's exact message text where PgBouncer has one.
//
// This module is the table: `import * as refusals from '../protocol/refusals'` and call
// refusals.tooManyConnections(). Turn the result into bytes with backend errorResponse().
//
// Texts were checked against the PgBouncer 1.18.0 binary (spec/protocol/refusals-pgbouncer
// .spec.ts runs it), because drivers and apps match on them. SQLSTATEs differ on purpose:
// PgBouncer 1.18 sends 08P01 (protocol_violation) for every refusal, with no 'V' field, from
// one hard-coded send_pooler_error(). pgmux keeps 08P01 where it is part of what clients match
// on or where no PostgreSQL condition corresponds (pooler-only timeouts, startup policy,
// statement mode: PostgREST matches 08P01 plus that text), and uses PostgreSQL's own SQLSTATE
// where PostgreSQL refuses for the same reason (53300, 28P01, 3D000, 57P01, 08006, ...), so
// drivers that retry or report by SQLSTATE behave as they do against PostgreSQL itself.
// Every refusal here closes the connection, hence FATAL, as in PgBouncer, except those of the
// [rules] section (the last group): they refuse one statement and the session goes on (ERROR).

import type { ErrorFields } from './backend/error-response';
import { SqlState, type SqlStateCode } from './codes';

function fatal(code: SqlStateCode, message: string): ErrorFields {
  return { severity: 'FATAL', code, message };
}

function error(code: string, message: string, detail?: string): ErrorFields {
  return detail === undefined ? { severity: 'ERROR', code, message } : { severity: 'ERROR', code, message, detail };
}

// ---- startup and login ----

/** max_client_conn reached. PostgreSQL's too_many_connections. */
export const tooManyConnections = (): ErrorFields =>
  fatal(SqlState.TooManyConnections, 'no more connections allowed (max_client_conn)');

/**
 * Wrong password (cleartext, md5 or SCRAM), and also an unknown user when auth_file has none: PgBouncer
 * fakes the exchange and fails it the same way, so user names cannot be probed. pgmux sends
 * PostgreSQL's own text with the user name (what drivers and people expect from PostgreSQL, and
 * what the core issue asks for), also for SCRAM where PgBouncer says "SASL authentication
 * failed"; without a user it is PgBouncer 1.18's bare text, which the PgBouncer comparison spec
 * checks.
 */
export const authFailed = (user?: string): ErrorFields =>
  fatal(SqlState.InvalidPassword, user === undefined ? 'password authentication failed' : `password authentication failed for user "${user}"`);

/** auth_type=trust (or hba trust) but the user is not in auth_file. */
export const trustAuthFailed = (): ErrorFields =>
  fatal(SqlState.InvalidAuthorizationSpecification, '"trust" authentication failed');

/** hba `cert`: no TLS, no client certificate, or its name does not match the user. */
export const certAuthFailed = (): ErrorFields =>
  fatal(SqlState.InvalidAuthorizationSpecification, 'certificate authentication failed');

/** hba `peer` over a unix socket: the peer's OS user is not the requested user. */
export const peerAuthFailed = (): ErrorFields =>
  fatal(SqlState.InvalidAuthorizationSpecification, 'unix socket login rejected');

/** hba `reject`, or no hba line matched. */
export const loginRejected = (): ErrorFields => fatal(SqlState.InvalidAuthorizationSpecification, 'login rejected');

/**
 * The SASL mechanism the client chose is not the one offered. PgBouncer's text; 08P01 because
 * PostgreSQL treats it as a protocol violation too.
 */
export const invalidSaslMechanism = (): ErrorFields =>
  fatal(SqlState.ProtocolViolation, 'client selected an invalid SASL authentication mechanism');

/** A PasswordMessage holding an empty string (PostgreSQL refuses those too). */
export const emptyPassword = (): ErrorFields => fatal(SqlState.InvalidPassword, 'empty password returned by client');

/**
 * auth_query could not be run (server down, auth_user refused, a bad query): the password cannot
 * be checked now. The reason goes to the log only. PostgreSQL's code for "cannot connect now".
 */
export const authQueryFailed = (): ErrorFields =>
  fatal(SqlState.CannotConnectNow, 'could not look up the user: auth_query failed');

/** Startup packet without `user` (or with an empty one). */
export const noUser = (): ErrorFields => fatal(SqlState.InvalidAuthorizationSpecification, 'no username supplied');

/** The database is not in [databases] and there is no '*' fallback. */
export const noSuchDatabase = (db: string): ErrorFields => fatal(SqlState.InvalidCatalogName, `no such database: ${db}`);

/** DISABLE <db> was issued on the admin console. */
export const databaseDisabled = (db: string): ErrorFields =>
  fatal(SqlState.ObjectNotInPrerequisiteState, `database "${db}" is disabled`);

/** KILL <db> on the admin console dropped this client (PgBouncer's text; PostgreSQL's code for a terminated backend). */
export const databaseRemoved = (): ErrorFields => fatal(SqlState.AdminShutdown, 'database removed');

/** KILL_CLIENT <id> on the admin console (PgBouncer 1.21's text). */
export const adminForcedDisconnect = (): ErrorFields => fatal(SqlState.AdminShutdown, 'admin forced disconnect');

/** Login to the admin console by a user in neither admin_users nor stats_users. */
export const adminNotAllowed = (): ErrorFields => fatal(SqlState.InvalidAuthorizationSpecification, 'not allowed');

/**
 * A startup `options` holding a switch other than `-c` (`-e`), not in ignore_startup_parameters:
 * PgBouncer 1.18's text, which it sends for any parameter it neither tracks nor ignores.
 */
export const unsupportedStartupParameter = (name: string): ErrorFields =>
  fatal(SqlState.ProtocolViolation, `unsupported startup parameter: ${name}`);

/**
 * A `replication` startup parameter. PgBouncer 1.18 knows no such parameter and answers with its
 * generic text; pgmux keeps the text and says 0A000, as PostgreSQL does for unsupported features.
 */
export const replicationNotSupported = (): ErrorFields =>
  fatal(SqlState.FeatureNotSupported, 'unsupported startup parameter: replication');

/**
 * A startup packet for a protocol other than 3.x. Protocol 2 gets PgBouncer's text; any other
 * version gets PostgreSQL's (PgBouncer 1.18 only prints the packet header in hex there).
 */
export const unsupportedProtocolVersion = (major: number, minor: number): ErrorFields =>
  fatal(
    SqlState.FeatureNotSupported,
    major === 2 ? 'old V2 protocol not supported' : `unsupported frontend protocol ${major}.${minor}: server supports 3.0 to 3.0`,
  );

/** client_tls_sslmode=require (or stricter) and the client did not start TLS. */
export const sslRequired = (): ErrorFields => fatal(SqlState.InvalidAuthorizationSpecification, 'SSL required');

/** client_login_timeout passed before the client finished logging in. */
export const clientLoginTimeout = (): ErrorFields => fatal(SqlState.ProtocolViolation, 'client_login_timeout');

/** client_login_timeout passed while the pool has never reached its server (no welcome yet). */
export const clientLoginTimeoutServerDown = (): ErrorFields =>
  fatal(SqlState.ProtocolViolation, 'client_login_timeout (server down)');

// ---- protocol violations ----

/** Malformed or unexpected input; `what` says what was wrong (a decoder's reason, ...). */
export const protocolViolation = (what: string): ErrorFields => fatal(SqlState.ProtocolViolation, what);

/** A startup-phase packet that ended before its declared length. */
export const partialStartupPacket = (): ErrorFields =>
  fatal(SqlState.ProtocolViolation, 'client sent partial pkt in startup phase');

/** A 'p' message before the startup packet. */
export const passwordBeforeStartup = (): ErrorFields =>
  fatal(SqlState.ProtocolViolation, 'client password pkt before startup packet');

/** A second StartupMessage after login began. */
export const startupResent = (): ErrorFields => fatal(SqlState.ProtocolViolation, 'client re-sent startup pkt');

/** A simple-protocol Query while disable_pqexec is on. */
export const pqexecDisallowed = (): ErrorFields => fatal(SqlState.ProtocolViolation, 'PQexec disallowed');

// ---- while logged in ----

/** Waited longer than query_wait_timeout for a server. No PostgreSQL equivalent: 08P01 kept. */
export const queryWaitTimeout = (): ErrorFields => fatal(SqlState.ProtocolViolation, 'query_wait_timeout');

/** Idle (not linked to a server) longer than client_idle_timeout. PostgreSQL's idle_session_timeout code. */
export const clientIdleTimeout = (): ErrorFields => fatal(SqlState.IdleSessionTimeout, 'client_idle_timeout');

/** Idle inside a transaction longer than idle_transaction_timeout. PostgreSQL's idle-in-transaction code. */
export const idleTransactionTimeout = (): ErrorFields =>
  fatal(SqlState.IdleInTransactionTimeout, 'idle transaction timeout');

/**
 * A CancelRequest came while the client's request waited for a server (held through a failover,
 * queued for a full pool): it never reached a server, so it did not run. PostgreSQL's text for a
 * cancelled statement, so drivers treat it as one; the session goes on.
 */
export const canceledWhileWaiting = (): ErrorFields =>
  error(SqlState.QueryCanceled, 'canceling statement due to user request', 'pgmux had not sent it to a server yet: it did not run');

/** A query ran longer than query_timeout (pgmux then closes the server too). PostgreSQL's query_canceled code. */
export const queryTimeout = (): ErrorFields => fatal(SqlState.QueryCanceled, 'query timeout');

/**
 * A transaction block began in statement pooling mode. 08P01 kept: clients match on it
 * (PostgREST checks for exactly this SQLSTATE and text).
 */
export const statementModeTransaction = (): ErrorFields =>
  fatal(SqlState.ProtocolViolation, 'transaction blocks not allowed in statement pooling mode');

/**
 * A session setting of the client (SET, set_config, startup options) failed when pgmux replayed
 * it on another server in transaction pooling (lib/session/settings): the value became invalid,
 * a role was dropped, a privilege revoked. PostgreSQL's own SQLSTATE and words, so the client
 * sees which setting and why; the request did not run, and the session ends, since every later
 * statement would run without the setting.
 */
export const settingNotRestored = (server: ErrorFields): ErrorFields => ({
  severity: 'FATAL',
  code: server.code,
  message: `pgmux: a setting of this session could not be applied on the server it moved to: ${server.message}`,
  hint: 'The request did not run. Reconnect and set a valid value, or RESET the setting.',
});

/**
 * A setting from the client's startup packet (options=-c .., PGOPTIONS, a driver's parameter)
 * failed on the first server that applied it: PostgreSQL would have refused the connection
 * itself, but pgmux's welcome does not wait for a server. The server's SQLSTATE and words.
 */
export const startupSettingRefused = (server: ErrorFields): ErrorFields => ({
  severity: 'FATAL',
  code: server.code,
  message: `pgmux: a setting from this connection's startup packet could not be applied on the server: ${server.message}`,
  hint: 'The request did not run. Connect again with a valid value (the startup parameter of that name, or the options connection parameter, PGOPTIONS).',
});

/** The linked server connection closed or failed under the client; `detail`: why, when pgmux knows (PgBouncer's text stays the message). */
export const serverConnLost = (detail?: string): ErrorFields =>
  detail === undefined ? fatal(SqlState.ConnectionFailure, 'server conn crashed?') : { ...fatal(SqlState.ConnectionFailure, 'server conn crashed?'), detail };

/**
 * failover_timeout passed while the database had no primary (lost, none found among its hosts).
 * 08006 as for a lost server: drivers and pools treat the 08 class as "connect again later".
 */
export const noPrimary = (db: string, seconds: number, tried: readonly string[]): ErrorFields =>
  fatal(
    SqlState.ConnectionFailure,
    `no primary for database "${db}" after ${seconds} s (failover_timeout): tried ${tried.join(', ')}; none accepted writes on a timeline at least as new as the last primary's`,
  );

/**
 * A database's single host has not answered since pgmux started, and its circuit breaker is
 * open, so no pool dials it: the client gets the probe's own reason (a refused connect, a
 * certificate that does not verify) at once instead of waiting for client_login_timeout.
 */
export const hostUnreachable = (host: string, reason: string): ErrorFields => ({
  ...fatal(SqlState.ConnectionFailure, reason),
  detail: `pgmux has not reached ${host} since it started; it keeps trying in the background.`,
});

/** A new server connection did not complete within server_connect_timeout. */
export const serverConnectTimeout = (): ErrorFields => fatal(SqlState.ConnectionFailure, 'connect timeout');

/** The pool's last server login failed and server_login_retry has not passed yet. */
export const serverLoginRetry = (): ErrorFields =>
  fatal(SqlState.CannotConnectNow, 'server login has been failing, try again later (server_login_retry)');

/**
 * A server refused pgmux's login: the server's own text, passed on to the clients waiting for
 * that pool. PgBouncer 1.18 sends it as 08P01; pgmux keeps the server's SQLSTATE too (as later
 * PgBouncer versions do), so a wrong password still reads as 28P01.
 */
export const serverLoginFailed = (server: ErrorFields): ErrorFields => {
  const out: ErrorFields = { severity: 'FATAL', code: server.code, message: server.message };
  if (server.detail !== undefined) out.detail = server.detail;
  if (server.hint !== undefined) out.hint = server.hint;
  return out;
};

/**
 * pgmux is shutting down (SIGTERM, SIGINT after its wait, or SHUTDOWN). PgBouncer 1.18 just
 * closes the socket, so there is no text to copy: this is PostgreSQL's own for the same event.
 */
export const adminShutdown = (): ErrorFields =>
  fatal(SqlState.AdminShutdown, 'terminating connection due to administrator command');

// ---- [rules]: one statement refused, the session goes on ----

/**
 * A rule with deny=yes matched. Its SQLSTATE and message are the rule's own (sqlstate=, message=;
 * 42501 insufficient_privilege and "statement denied by pgmux rule ..." unless it says otherwise).
 */
export const ruleDenied = (code: string, message: string): ErrorFields => error(code, message);

/**
 * A rule's rate= had no token within its rate_wait. 53400 (configuration_limit_exceeded): a
 * limit the configuration sets, in the class drivers and pools read as "try again later".
 */
export const rateLimited = (rule: string, rate: string, waitMs: number): ErrorFields =>
  error(
    SqlState.ConfigurationLimitExceeded,
    `rate limit of pgmux rule "${rule}" exceeded: more than ${rate}, and no slot came within rate_wait (${waitMs} ms); try again later`,
  );

/**
 * A rule's statement_timeout passed and pgmux cancelled the statement: PostgreSQL's own 57014 and
 * text for statement_timeout (in place of the cancel's "due to user request"), and which rule.
 */
export const ruleStatementTimeout = (rule: string, ms: number): ErrorFields =>
  error(SqlState.QueryCanceled, 'canceling statement due to statement timeout', `pgmux rule "${rule}" sets statement_timeout = ${ms} ms`);

// ---- LISTEN in transaction pooling (lib/session/channels) ----

/**
 * LISTEN could not take effect: the listener connection of the client's database and user is
 * not up (its server refused or is unreachable). 08006 as a lost connection: try again later.
 */
export const listenerUnavailable = (database: string, reason: string): ErrorFields =>
  error(SqlState.ConnectionFailure, `pgmux could not LISTEN: the listener connection to database "${database}" is not up (${reason}); try again`);

/** A LISTEN-handled statement in a failed transaction: PostgreSQL's own 25P02 and text. */
export const inFailedTransaction = (): ErrorFields =>
  error(SqlState.InFailedSqlTransaction, 'current transaction is aborted, commands ignored until end of transaction block');

/**
 * Sent as a NoticeResponse (WARNING) to each listening client when the listener connection came
 * back after it was lost: nothing can replay what was notified meanwhile.
 */
export const notificationsMayBeMissed = (database: string, reason: string): ErrorFields => ({
  severity: 'WARNING',
  code: SqlState.Warning,
  message: `pgmux: the listener connection to database "${database}" was lost (${reason}) and is back; notifications sent in between may have been missed`,
});

/** Sent as a NoticeResponse (WARNING) when a client's queue of notifications overflowed while it was busy. */
export const notificationsDropped = (count: number): ErrorFields => ({
  severity: 'WARNING',
  code: SqlState.Warning,
  message: `pgmux: ${count} notifications were dropped because this client did not read them in time`,
});
// ---- session pins: one statement refused, the session goes on ----

/**
 * max_pinned_clients_per_pool reached: the statement would keep a server for this client alone
 * (lib/session/pins). 53400 (configuration_limit_exceeded), as for a rule's rate: a cap the
 * configuration sets, in class 53 that drivers and pools read as "try again later"; not 53300,
 * which says the connection itself was refused, nor 0A000, which says it never works.
 */
export const pinnedClientsLimit = (limit: number, reasons: string): ErrorFields =>
  error(
    SqlState.ConfigurationLimitExceeded,
    `pgmux: max_pinned_clients_per_pool (${limit}) reached: this statement would keep a server for this client alone (${reasons}); retry later, or raise max_pinned_clients_per_pool`,
    'In transaction pooling, session advisory locks, temporary tables, WITH HOLD cursors and prepared transactions keep their server until they are released.',
  );

// ---- prepared statements ----

/**
 * A client's prepared statement that pgmux prepared again on a server that lacked it now
 * returns other columns than the client was told when it described it (DDL changed a table
 * under it; lib/prepared/link). PostgreSQL's own error for a stale plan, routine field
 * included: drivers recognise it by that (pgJDBC, asyncpg) and prepare the statement again.
 * ERROR: the request did not run (pgmux held it back), and the session goes on.
 */
export const statementColumnsChanged = (): ErrorFields => ({
  severity: 'ERROR',
  code: SqlState.FeatureNotSupported,
  message: 'cached plan must not change result type',
  routine: 'RevalidateCachedQuery',
});
