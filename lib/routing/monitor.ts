// Owns a small query connection to one PostgreSQL node (the failover layer's health probe, the
// user-function volatility lookup): connected and logged in as every internal connection is
// (lib/auth/internal-connection), it runs one simple query at a time and hands back
// its rows as text. It is not a pooled ServerConnection: it serves no client, forwards nothing,
// and lives as long as the node answers. Timeouts are the owner's (it checks them on its tick).

import type { Connect } from '../connect';
import { BackendCode, HEADER_LENGTH } from '../protocol/codes';
import { anyTypeLimits } from '../protocol/limits';
import { decodeErrorFields } from '../protocol/backend';
import { InternalConnection, type InternalLogin } from '../auth/internal-connection';

/** Who the monitor logs in as. */
export type MonitorLogin = InternalLogin;

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

export const MONITOR_APPLICATION_NAME = 'pgmux health probe';

/** Rows of a poll are a few dozen bytes; anything near this is not PostgreSQL talking. */
const OPTIONS = { applicationName: MONITOR_APPLICATION_NAME, limits: anyTypeLimits(1 << 20, 'the limit for lag poll answers') };

export class MonitorClient extends InternalConnection {
  private rows: MonitorRow[] = [];
  private error: string | null = null;
  private busy = false;

  constructor(
    connect: Connect,
    who: MonitorLogin,
    private readonly handler: MonitorHandler,
  ) {
    super(connect, who, OPTIONS);
  }

  /** Sends one simple query; the answer comes through monitorResult. One at a time. */
  query(sql: string): void {
    if (!this.ready || this.busy) throw new Error('MonitorClient.query: not ready or a query is running');
    this.busy = true;
    this.rows = [];
    this.error = null;
    this.sendQuery(sql);
  }

  protected afterLogin(): void {
    this.handler.monitorReady(this);
  }

  protected onEnded(reason: string): void {
    this.handler.monitorClosed(this, reason);
  }

  protected frame(type: number, buf: Buffer, start: number, end: number): void {
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
