// The refusals table: one SQLSTATE and one text per condition, every one a FATAL that clients
// can read, except the [rules] ones, which refuse one statement (ERROR) and the session goes on. The texts themselves are compared with PgBouncer 1.18 in refusals-pgbouncer.spec.ts.

import { Parser } from 'pg-protocol/dist/parser';
import type { BackendMessage } from 'pg-protocol/dist/messages';
import { errorResponse, type ErrorFields } from '../../lib/protocol/backend';
import { SqlState } from '../../lib/protocol/codes';
import * as refusals from '../../lib/protocol/refusals';

type Name = keyof typeof refusals;

/** Every refusal with sample arguments, the SQLSTATE and the exact text it must produce. */
const EXPECTED: Record<Name, { args: unknown[]; code: string; message: string; severity?: 'ERROR' | 'WARNING' }> = {
  tooManyConnections: { args: [], code: '53300', message: 'no more connections allowed (max_client_conn)' },
  authFailed: { args: [], code: '28P01', message: 'password authentication failed' },
  trustAuthFailed: { args: [], code: '28000', message: '"trust" authentication failed' },
  certAuthFailed: { args: [], code: '28000', message: 'certificate authentication failed' },
  peerAuthFailed: { args: [], code: '28000', message: 'unix socket login rejected' },
  loginRejected: { args: [], code: '28000', message: 'login rejected' },
  invalidSaslMechanism: { args: [], code: '08P01', message: 'client selected an invalid SASL authentication mechanism' },
  emptyPassword: { args: [], code: '28P01', message: 'empty password returned by client' },
  authQueryFailed: { args: [], code: '57P03', message: 'could not look up the user: auth_query failed' },
  noUser: { args: [], code: '28000', message: 'no username supplied' },
  noSuchDatabase: { args: ['shop'], code: '3D000', message: 'no such database: shop' },
  databaseDisabled: { args: ['shop'], code: '55000', message: 'database "shop" is disabled' },
  databaseRemoved: { args: [], code: '57P01', message: 'database removed' },
  adminForcedDisconnect: { args: [], code: '57P01', message: 'admin forced disconnect' },
  adminNotAllowed: { args: [], code: '28000', message: 'not allowed' },
  unsupportedStartupParameter: { args: ['search_path'], code: '08P01', message: 'unsupported startup parameter: search_path' },
  replicationNotSupported: { args: [], code: '0A000', message: 'unsupported startup parameter: replication' },
  unsupportedProtocolVersion: { args: [2, 0], code: '0A000', message: 'old V2 protocol not supported' },
  sslRequired: { args: [], code: '28000', message: 'SSL required' },
  clientLoginTimeout: { args: [], code: '08P01', message: 'client_login_timeout' },
  clientLoginTimeoutServerDown: { args: [], code: '08P01', message: 'client_login_timeout (server down)' },
  protocolViolation: { args: ['Parse: query string is not NUL-terminated'], code: '08P01', message: 'Parse: query string is not NUL-terminated' },
  partialStartupPacket: { args: [], code: '08P01', message: 'client sent partial pkt in startup phase' },
  passwordBeforeStartup: { args: [], code: '08P01', message: 'client password pkt before startup packet' },
  startupResent: { args: [], code: '08P01', message: 'client re-sent startup pkt' },
  pqexecDisallowed: { args: [], code: '08P01', message: 'PQexec disallowed' },
  queryWaitTimeout: { args: [], code: '08P01', message: 'query_wait_timeout' },
  clientIdleTimeout: { args: [], code: '57P05', message: 'client_idle_timeout' },
  idleTransactionTimeout: { args: [], code: '25P03', message: 'idle transaction timeout' },
  queryTimeout: { args: [], code: '57014', message: 'query timeout' },
  canceledWhileWaiting: { args: [], code: '57014', message: 'canceling statement due to user request', severity: 'ERROR' },
  statementModeTransaction: { args: [], code: '08P01', message: 'transaction blocks not allowed in statement pooling mode' },
  statementColumnsChanged: { args: [], code: '0A000', message: 'cached plan must not change result type', severity: 'ERROR' },
  serverConnLost: { args: [], code: '08006', message: 'server conn crashed?' },
  serverConnectTimeout: { args: [], code: '08006', message: 'connect timeout' },
  hostUnreachable: { args: ['127.0.0.1:5432', 'connect ECONNREFUSED 127.0.0.1:5432'], code: '08006', message: 'connect ECONNREFUSED 127.0.0.1:5432' },
  noPrimary: {
    args: ['app', 30, ['10.0.0.1:5432', '10.0.0.2:5432']],
    code: '08006',
    message: 'no primary for database "app" after 30 s (failover_timeout): tried 10.0.0.1:5432, 10.0.0.2:5432; none accepted writes on a timeline at least as new as the last primary\'s',
  },
  serverLoginRetry: { args: [], code: '57P03', message: 'server login has been failing, try again later (server_login_retry)' },
  serverLoginFailed: {
    args: [{ severity: 'FATAL', code: '28P01', message: 'password authentication failed for user "app"' }],
    code: '28P01',
    message: 'password authentication failed for user "app"',
  },
  adminShutdown: { args: [], code: '57P01', message: 'terminating connection due to administrator command' },
  ruleDenied: { args: ['42501', 'no DROP for app'], code: '42501', message: 'no DROP for app', severity: 'ERROR' },
  rateLimited: {
    args: ['batch', '10/s', 1000],
    code: '53400',
    message: 'rate limit of pgmux rule "batch" exceeded: more than 10/s, and no slot came within rate_wait (1000 ms); try again later',
    severity: 'ERROR',
  },
  settingNotRestored: {
    args: [{ severity: 'ERROR', code: '42704', message: 'role "gone" does not exist' }],
    code: '42704',
    message: 'pgmux: a setting of this session could not be applied on the server it moved to: role "gone" does not exist',
  },
  startupSettingRefused: {
    args: [{ severity: 'FATAL', code: '22023', message: 'invalid value for parameter "statement_timeout": "bogus"' }],
    code: '22023',
    message: 'pgmux: a setting from this connection\'s startup packet could not be applied on the server: invalid value for parameter "statement_timeout": "bogus"',
  },
  ruleStatementTimeout: { args: ['slow', 5000], code: '57014', message: 'canceling statement due to statement timeout', severity: 'ERROR' },
  listenerUnavailable: {
    args: ['shop', 'connection refused'],
    code: '08006',
    message: 'pgmux could not LISTEN: the listener connection to database "shop" is not up (connection refused); try again',
    severity: 'ERROR',
  },
  inFailedTransaction: { args: [], code: '25P02', message: 'current transaction is aborted, commands ignored until end of transaction block', severity: 'ERROR' },
  notificationsMayBeMissed: {
    args: ['shop', 'server closed the connection'],
    code: '01000',
    message: 'pgmux: the listener connection to database "shop" was lost (server closed the connection) and is back; notifications sent in between may have been missed',
    severity: 'WARNING',
  },
  notificationsDropped: { args: [3], code: '01000', message: 'pgmux: 3 notifications were dropped because this client did not read them in time', severity: 'WARNING' },
  pinnedClientsLimit: {
    args: [2, 'temp-table'],
    code: '53400',
    message: 'pgmux: max_pinned_clients_per_pool (2) reached: this statement would keep a server for this client alone (temp-table); retry later, or raise max_pinned_clients_per_pool',
    severity: 'ERROR',
  },
};

function call(name: Name, args: unknown[]): ErrorFields {
  return (refusals[name] as (...a: unknown[]) => ErrorFields)(...args);
}

function pgReadError(bytes: Buffer): BackendMessage & Record<string, unknown> {
  const out: BackendMessage[] = [];
  new Parser().parse(bytes, (msg) => out.push(msg));
  expect(out).toHaveLength(1);
  return out[0] as BackendMessage & Record<string, unknown>;
}

describe('refusals', () => {
  const names = Object.keys(refusals) as Name[];
  const knownCodes = new Set<string>(Object.values(SqlState));

  it('has an expectation here for every refusal it exports (and no stale ones)', () => {
    expect(names.sort()).toEqual((Object.keys(EXPECTED) as Name[]).sort());
  });

  it.each(Object.keys(EXPECTED) as Name[])('%s: one SQLSTATE, the exact text, FATAL (ERROR for a rule)', (name) => {
    const { args, code, message, severity = 'FATAL' } = EXPECTED[name];
    const r = call(name, args);
    expect(r).toMatchObject({ severity, code, message });
    expect(r.code).toMatch(/^[0-9A-Z]{5}$/);
    // A server's code (a login's, a replayed setting's), or a deny rule's own: data, not pgmux's table.
    if (name !== 'serverLoginFailed' && name !== 'ruleDenied' && name !== 'settingNotRestored' && name !== 'startupSettingRefused') expect(knownCodes.has(r.code)).toBe(true);
    // Returns a fresh object: a caller adding a detail must not change the next refusal.
    expect(call(name, args)).not.toBe(r);
  });

  it.each(Object.keys(EXPECTED) as Name[])('%s: node-postgres reads it with that severity, code and text', (name) => {
    const { args, code, message, severity = 'FATAL' } = EXPECTED[name];
    const e = pgReadError(errorResponse(call(name, args)));
    expect(e).toMatchObject({ name: 'error', severity, code, message });
  });

  it('never lets a pooler-only condition fall back to a catch-all code', () => {
    const codes = names.map((n) => call(n, EXPECTED[n].args).code);
    expect(codes).not.toContain('58000');
    expect(codes).not.toContain('XX000');
  });

  it('unsupportedProtocolVersion uses PostgreSQL text for versions other than 2', () => {
    expect(refusals.unsupportedProtocolVersion(4, 0).message).toBe('unsupported frontend protocol 4.0: server supports 3.0 to 3.0');
    expect(refusals.unsupportedProtocolVersion(1234, 5681).message).toBe('unsupported frontend protocol 1234.5681: server supports 3.0 to 3.0');
  });

  it("serverLoginFailed passes the server's code, text, detail and hint, as FATAL", () => {
    const server: ErrorFields = {
      severity: 'ERROR',
      code: '3D000',
      message: 'database "gone" does not exist',
      detail: 'd',
      hint: 'h',
      routine: 'InitPostgres',
    };
    expect(refusals.serverLoginFailed(server)).toEqual({ severity: 'FATAL', code: '3D000', message: 'database "gone" does not exist', detail: 'd', hint: 'h' });
  });
});
