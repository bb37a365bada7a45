// Owns auth_query: looking up the secret of a user missing from auth_file on the server, as auth_user, over a dedicated connection, with a short cache.
//
// One lookup opens one connection: ServerLogin logs in as auth_user (whose secret comes from
// auth_file), then Parse/Bind/Describe/Execute/Sync runs auth_query with the user name as $1
// (never spliced into the SQL), and the connection ends with Terminate. The first row's second
// column is the secret (md5 hash or SCRAM verifier, any salt length; plain text works too). As
// PgBouncer, the query must return two columns. Unlike PgBouncer 1.18, which tells the client
// "no such user", a missing row is reported as `missing` and the caller runs the same doomed
// challenge as for an unknown auth_file user, so user names cannot be probed. A NULL secret
// (e.g. past rolvaliduntil) is an empty password: the user exists, no password matches.
//
// Results are cached for AUTH_QUERY_TTL_MS per (target, user), misses included, and concurrent
// lookups of one key share one connection: a burst of logins costs the server one query.
// Logs in with ServerLogin (./server-login), the same state machine ServerConnection uses.

import type * as net from 'node:net';
import type { Connect, ConnectEvents, PendingConnect } from '../connect';
import { LRUCache } from 'lru-cache';
import { BackendCode } from '../protocol/codes';
import { Framer } from '../protocol/framer';
import { anyTypeLimits } from '../protocol/limits';
import { decodeErrorFields } from '../protocol/backend';
import { bind, describe, execute, parse, Reader, startupMessage, sync, terminate } from '../protocol/frontend';
import { ServerLogin, type ServerCredential } from './server-login';
import { parseSecret, type Secret } from './secret';

/** How long a lookup's answer is reused: long enough to absorb a burst, short enough to see a password change soon. */
export const AUTH_QUERY_TTL_MS = 5000;
/** Distinct (target, user) answers kept; user names come from unauthenticated clients, so it is bounded. */
const CACHE_MAX = 10000;
/** Frames from the server during a lookup are small; anything larger is not a secret. */
const LIMITS = anyTypeLimits(1 << 20, 'the limit for auth_query answers');

export interface AuthQueryTarget {
  /** Opens a connection to the database's primary (lib/failover/dialer: server TLS applies). */
  readonly connect: Connect;
  /** The server as logs and the cache key name it (`host:port`). */
  readonly label: string;
  /** The database on the server the query runs in. */
  readonly database: string;
  readonly authUser: string;
  readonly credential: ServerCredential;
  readonly query: string;
  /** The whole lookup (connect, login, query) must finish within this. */
  readonly timeoutMs: number;
}

export type AuthQueryResult =
  | { readonly kind: 'found'; readonly secret: Secret }
  | { readonly kind: 'missing' }
  /** For the log: never includes a secret. */
  | { readonly kind: 'error'; readonly reason: string };

/** Runs auth_query once for `user` on a fresh connection. Never rejects. */
export function runAuthQuery(target: AuthQueryTarget, user: string): Promise<AuthQueryResult> {
  return new Promise((resolve) => new Lookup(target, user, resolve));
}

/** One connection's life: connect, log in, query, read the row, terminate. */
class Lookup implements ConnectEvents {
  private socket: net.Socket | null = null;
  private dial: PendingConnect | null;
  private readonly framer: Framer;
  private login: ServerLogin | null;
  private result: AuthQueryResult = { kind: 'missing' };
  private done = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly target: AuthQueryTarget,
    private readonly user: string,
    private readonly resolve: (r: AuthQueryResult) => void,
  ) {
    this.login = new ServerLogin(target.authUser, target.credential);
    this.framer = new Framer((t, b, s, e) => this.onFrame(t, b, s, e), LIMITS);
    this.timer = setTimeout(() => this.finish({ kind: 'error', reason: `auth_query timed out after ${target.timeoutMs} ms` }), target.timeoutMs);
    this.dial = target.connect(this);
  }

  /** ConnectEvents: up (after TLS when server_tls_sslmode asks for it): log in as auth_user. */
  connected(socket: net.Socket): void {
    this.dial = null;
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      const fault = this.framer.feed(chunk);
      if (fault !== null) this.finish({ kind: 'error', reason: `bad message from server: ${fault.reason}` });
    });
    socket.on('error', (err) => this.finish({ kind: 'error', reason: `auth_query connection failed: ${err.message}` }));
    socket.on('close', () => this.finish({ kind: 'error', reason: 'server closed the auth_query connection' }));
    socket.write(startupMessage({ user: this.target.authUser, database: this.target.database }));
  }

  /** ConnectEvents. */
  connectFailed(reason: string): void {
    this.dial = null;
    this.finish({ kind: 'error', reason: `auth_query connection failed: ${reason}` });
  }

  private onFrame(type: number, buf: Buffer, start: number, end: number): void {
    if (this.done) return;
    const login = this.login;
    if (login !== null) {
      const step = login.onFrame(type, buf, start, end);
      if (step.kind === 'send') this.socket?.write(step.bytes);
      else if (step.kind === 'failed') this.finish({ kind: 'error', reason: `auth_user "${this.target.authUser}" login failed: ${step.error.message}` });
      else if (step.kind === 'done') {
        this.login = null;
        this.socket?.write(
          Buffer.concat([
            parse('', this.target.query, []),
            bind({ params: [this.user] }),
            describe('P', ''),
            execute('', 0),
            sync(),
          ]),
        );
      }
      return;
    }
    switch (type) {
      case BackendCode.RowDescription: {
        const columns = end - start >= 7 ? buf.readUInt16BE(start + 5) : -1;
        if (columns !== 2) this.finish({ kind: 'error', reason: `expected 2 columns from auth_query, not ${columns}` });
        return;
      }
      case BackendCode.DataRow:
        if (this.result.kind === 'missing') this.result = readRow(buf, start, end);
        return;
      case BackendCode.ErrorResponse: {
        const f = decodeErrorFields(buf, start, end);
        this.result = { kind: 'error', reason: `auth_query failed: ${f.kind === 'invalid' ? f.reason : f.message}` };
        return;
      }
      case BackendCode.ReadyForQuery:
        this.finish(this.result);
        return;
      default:
        // ParseComplete, BindComplete, CommandComplete, NoticeResponse, ParameterStatus.
        return;
    }
  }

  private finish(result: AuthQueryResult): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this.framer.halt();
    this.dial?.abort();
    this.dial = null;
    const socket = this.socket;
    if (socket !== null) {
      if (this.login === null && !socket.destroyed) socket.end(terminate());
      else socket.destroy();
    }
    this.resolve(result);
  }
}

/** The DataRow of (name, secret): a NULL secret is an empty password, which nothing matches. */
function readRow(buf: Buffer, start: number, end: number): AuthQueryResult {
  const r = new Reader(buf, start + 5, end);
  const columns = r.uint16();
  if (columns !== 2) return { kind: 'error', reason: `expected 2 columns from auth_query, not ${columns ?? 'none'}` };
  const nameLength = r.int32();
  if (nameLength === undefined || nameLength < 0 || r.remaining < nameLength) {
    return { kind: 'error', reason: nameLength === -1 ? 'auth_query response contained null user name' : 'bad DataRow from auth_query' };
  }
  r.pos += nameLength;
  const length = r.int32();
  if (length === undefined || length < -1 || r.remaining < Math.max(length, 0)) return { kind: 'error', reason: 'bad DataRow from auth_query' };
  if (length === -1) return { kind: 'found', secret: { kind: 'plain', password: '' } };
  return { kind: 'found', secret: parseSecret(buf.toString('utf8', r.pos, r.pos + length)) };
}

/** The short-lived cache of lookups, with one connection per key at a time. */
export class AuthQueryCache {
  private readonly answers = new LRUCache<string, AuthQueryResult>({ max: CACHE_MAX, ttl: AUTH_QUERY_TTL_MS });
  private readonly running = new Map<string, Promise<AuthQueryResult>>();

  constructor(private readonly run: (target: AuthQueryTarget, user: string) => Promise<AuthQueryResult> = runAuthQuery) {}

  /** The cached answer, or the running lookup's, or a new lookup's. Errors are not kept. */
  lookup(target: AuthQueryTarget, user: string): Promise<AuthQueryResult> {
    const key = `${target.label}\0${target.database}\0${target.authUser}\0${target.query}\0${user}`;
    const known = this.answers.get(key);
    if (known !== undefined) return Promise.resolve(known);
    let pending = this.running.get(key);
    if (pending === undefined) {
      pending = this.run(target, user).then((result) => {
        this.running.delete(key);
        if (result.kind !== 'error') this.answers.set(key, result);
        return result;
      });
      this.running.set(key, pending);
    }
    return pending;
  }

  /** RELOAD: auth_user, auth_query or the userlist may have changed. */
  clear(): void {
    this.answers.clear();
  }
}
