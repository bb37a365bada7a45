// Owns a small query connection to one PostgreSQL node (the failover layer's health probe, the
// user-function volatility lookup): connect through the node's dialer (so server TLS applies),
// log in (ServerLogin: cleartext, md5, SCRAM), then run one simple query at a time and hand back
// its rows as text. It is not a pooled ServerConnection: it serves no client, forwards nothing,
// and lives as long as the node answers. Timeouts are the owner's (it checks them on its tick).

import type * as net from 'node:net';
import type { Connect, ConnectEvents, PendingConnect } from '../connect';
import { BackendCode, HEADER_LENGTH } from '../protocol/codes';
import { Framer } from '../protocol/framer';
import { anyTypeLimits } from '../protocol/limits';
import { decodeErrorFields, type ErrorFields } from '../protocol/backend';
import { query, startupMessage, terminate } from '../protocol/frontend';
import { ServerLogin, type ServerCredential } from '../auth/server-login';

/** Who the monitor logs in as. */
export interface MonitorLogin {
  readonly user: string;
  readonly database: string;
  readonly credential: ServerCredential;
}

/** A result row: one text value (or SQL NULL) per column. */
export type MonitorRow = readonly (string | null)[];

/** What the monitor tells its owner; each arrives at most once per connect / query. */
export interface MonitorHandler {
  /** Logged in: query() may be called. */
  monitorReady(monitor: MonitorClient): void;
  /** The query finished: its rows, or the error message PostgreSQL sent (rows are then partial). */
  monitorResult(monitor: MonitorClient, rows: MonitorRow[], error: string | null): void;
  /** The connection is gone (refused, login failed, lost, or closed by the owner), once. */
  monitorClosed(monitor: MonitorClient, reason: string): void;
}

/** Rows of a poll are a few dozen bytes; anything near this is not PostgreSQL talking. */
const MONITOR_LIMITS = anyTypeLimits(1 << 20, 'the limit for lag poll answers');

export const MONITOR_APPLICATION_NAME = 'pgmux health probe';

export class MonitorClient implements ConnectEvents {
  private socket: net.Socket | null = null;
  private dial: PendingConnect | null;
  private readonly framer: Framer;
  private login: ServerLogin | null;
  private rows: MonitorRow[] = [];
  private error: string | null = null;
  private busy = false;
  private closed = false;
  /** The server's refusal when login failed (its SQLSTATE tells a bad password from a server starting up). */
  loginError: ErrorFields | null = null;

  constructor(
    connect: Connect,
    private readonly who: MonitorLogin,
    private readonly handler: MonitorHandler,
  ) {
    this.login = new ServerLogin(who.user, who.credential);
    this.framer = new Framer((t, b, s, e) => this.onFrame(t, b, s, e), MONITOR_LIMITS);
    this.dial = connect(this);
  }

  /** ConnectEvents: up (after TLS when server_tls_sslmode asks for it): log in. */
  connected(socket: net.Socket): void {
    this.dial = null;
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      const fault = this.framer.feed(chunk);
      if (fault !== null) this.close(`bad message from server: ${fault.reason}`);
    });
    socket.on('error', (err: Error) => this.close(`connection error: ${err.message}`));
    socket.on('close', () => this.close('server closed the connection'));
    socket.write(startupMessage({ user: this.who.user, database: this.who.database, application_name: MONITOR_APPLICATION_NAME }));
  }

  /** ConnectEvents. */
  connectFailed(reason: string): void {
    this.dial = null;
    this.close(reason);
  }

  get ready(): boolean {
    return this.login === null && !this.closed;
  }

  /** Sends one simple query; the answer comes through monitorResult. One at a time. */
  query(sql: string): void {
    if (!this.ready || this.busy) throw new Error('MonitorClient.query: not ready or a query is running');
    this.busy = true;
    this.rows = [];
    this.error = null;
    (this.socket as net.Socket).write(query(sql));
  }

  /** Ends the connection (politely once logged in); the handler hears monitorClosed once. */
  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.framer.halt();
    this.dial?.abort();
    this.dial = null;
    const socket = this.socket;
    if (socket !== null) {
      if (this.login === null && !socket.destroyed) socket.end(terminate());
      else socket.destroy();
      // A polite end may never be answered by a hung server.
      socket.setTimeout(1000, () => socket.destroy());
    }
    this.handler.monitorClosed(this, reason);
  }

  private onFrame(type: number, buf: Buffer, start: number, end: number): void {
    if (this.closed) return;
    const login = this.login;
    if (login !== null) {
      const step = login.onFrame(type, buf, start, end);
      if (step.kind === 'send') this.socket?.write(step.bytes);
      else if (step.kind === 'failed') {
        this.loginError = step.error;
        this.close(`login failed: ${step.error.message}`);
      }
      else if (step.kind === 'done') {
        this.login = null;
        this.handler.monitorReady(this);
      }
      return;
    }
    switch (type) {
      case BackendCode.DataRow: {
        const row = decodeTextRow(buf, start, end);
        if (row === undefined) this.close('malformed DataRow from server');
        else this.rows.push(row);
        return;
      }
      case BackendCode.ErrorResponse: {
        const fields = decodeErrorFields(buf, start, end);
        const message = fields.kind === 'invalid' ? fields.reason : fields.message;
        // A FATAL outside a query is the server going away (shutdown, terminate); the socket's
        // close follows, and reporting it now keeps the reason.
        if (!this.busy || (fields.kind !== 'invalid' && fields.severity === 'FATAL')) this.close(`server error: ${message}`);
        else this.error = message;
        return;
      }
      case BackendCode.ReadyForQuery: {
        if (!this.busy) return;
        this.busy = false;
        const rows = this.rows;
        this.rows = [];
        this.handler.monitorResult(this, rows, this.error);
        return;
      }
      default:
        // RowDescription, CommandComplete, NoticeResponse, ParameterStatus, EmptyQueryResponse:
        // nothing the owner needs.
        return;
    }
  }
}

/** A DataRow's columns as text (the simple protocol sends text); undefined if malformed. */
export function decodeTextRow(buf: Buffer, start: number, end: number): (string | null)[] | undefined {
  let pos = start + HEADER_LENGTH;
  if (pos + 2 > end) return undefined;
  const n = buf.readInt16BE(pos);
  pos += 2;
  const out: (string | null)[] = [];
  for (let i = 0; i < n; i++) {
    if (pos + 4 > end) return undefined;
    const len = buf.readInt32BE(pos);
    pos += 4;
    if (len === -1) {
      out.push(null);
      continue;
    }
    if (len < 0 || pos + len > end) return undefined;
    out.push(buf.toString('utf8', pos, pos + len));
    pos += len;
  }
  return pos === end ? out : undefined;
}

/**
 * Runs one query over a monitor connection of its own and closes it: `done` gets the rows, or
 * null and why not (refused, login failed, an error, no answer within `timeoutMs`), once.
 */
export function queryOnce(connect: Connect, who: MonitorLogin, sql: string, timeoutMs: number, done: (rows: MonitorRow[] | null, reason: string) => void): void {
  let answered = false;
  let timer: NodeJS.Timeout | null = null;
  const finish = (rows: MonitorRow[] | null, reason: string): void => {
    if (answered) return;
    answered = true;
    if (timer !== null) clearTimeout(timer);
    done(rows, reason);
  };
  const m = new MonitorClient(connect, who, {
    monitorReady: (c) => c.query(sql),
    monitorResult: (c, rows, error) => {
      finish(error === null ? rows : null, error ?? 'done');
      c.close('query done');
    },
    monitorClosed: (_c, reason) => finish(null, reason),
  });
  timer = setTimeout(() => m.close(`no answer in ${timeoutMs} ms`), timeoutMs);
  timer.unref();
}
