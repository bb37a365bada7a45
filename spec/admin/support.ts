// Owns what the admin console specs share: a raw simple-query client that reports exactly what
// a console sends (every RowDescription attribute, the CommandComplete tag as sent, errors and
// notices with their fields, the welcome's ParameterStatus list), since node-postgres keeps
// only the first word of a tag and hides the welcome.

import * as net from 'node:net';
import { serialize } from 'pg-protocol';
import { Parser } from 'pg-protocol/dist/parser';
import {
  AuthenticationMD5Password,
  CommandCompleteMessage,
  DatabaseError,
  DataRowMessage,
  NoticeMessage,
  ParameterStatusMessage,
  RowDescriptionMessage,
  type BackendMessage,
} from 'pg-protocol/dist/messages';
import { createHash } from 'node:crypto';

export interface FieldInfo {
  name: string;
  tableID: number;
  columnID: number;
  dataTypeID: number;
  dataTypeSize: number;
  dataTypeModifier: number;
  format: string;
}

export interface ErrorInfo {
  severity: string | undefined;
  code: string | undefined;
  message: string;
  detail: string | undefined;
}

/** Everything one simple Query got back, up to its ReadyForQuery. */
export interface Reply {
  fields: FieldInfo[] | null;
  rows: (string | null)[][];
  /** The CommandComplete tag exactly as sent, e.g. "SET default_pool_size=4". */
  tag: string | null;
  error: ErrorInfo | null;
  notices: ErrorInfo[];
}

function info(m: DatabaseError | NoticeMessage): ErrorInfo {
  return { severity: m.severity, code: m.code, message: m.message ?? '', detail: m.detail };
}

/** A console (or any) connection speaking the simple query protocol by hand. */
export class RawConsole {
  /** ParameterStatus of the welcome, in order. */
  readonly params: [string, string][] = [];
  private readonly parser = new Parser();
  private waiting: { resolve: (m: BackendMessage) => void } | null = null;
  private readonly inbox: BackendMessage[] = [];
  private closed: Error | null = null;
  /** Bytes written to and read from the socket since the login finished. */
  bytesSent = 0;
  bytesReceived = 0;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.bytesReceived += chunk.length;
      this.parser.parse(chunk, (m) => this.deliver(m));
    });
    const gone = (err?: Error) => {
      this.closed = err ?? new Error('connection closed');
      this.waiting?.resolve({ name: 'error', length: 0 });
    };
    socket.on('error', gone);
    socket.on('close', () => gone());
  }

  /** Logs in (cleartext, md5 or trust); rejects with the server's error text on refusal. */
  static async open(port: number, user: string, password: string, database = 'pgbouncer', startup: Record<string, string> = {}): Promise<RawConsole> {
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const c = new RawConsole(socket);
    socket.write(serialize.startup({ ...startup, user, database }));
    for (;;) {
      const m = await c.next();
      if (m.name === 'authenticationCleartextPassword') socket.write(serialize.password(password));
      else if (m instanceof AuthenticationMD5Password) socket.write(serialize.password(md5(password, user, m.salt)));
      else if (m instanceof ParameterStatusMessage) c.params.push([m.parameterName, m.parameterValue]);
      else if (m instanceof DatabaseError) {
        socket.destroy();
        throw m;
      } else if (m.name === 'readyForQuery') {
        c.bytesReceived = 0;
        return c;
      } else if (c.closed !== null) throw c.closed;
    }
  }

  /** Sends raw protocol bytes (pipelines, extended protocol) and counts them. */
  send(bytes: Buffer): void {
    this.bytesSent += bytes.length;
    this.socket.write(bytes);
  }

  /** Reads until `n` ReadyForQuery messages have arrived; returns every message seen. */
  async readUntilReady(n: number): Promise<BackendMessage[]> {
    const seen: BackendMessage[] = [];
    while (n > 0) {
      const m = await this.next();
      if (this.closed !== null && m.length === 0) throw this.closed;
      seen.push(m);
      if (m.name === 'readyForQuery') n--;
    }
    return seen;
  }

  async query(sql: string): Promise<Reply> {
    this.send(serialize.query(sql));
    const reply: Reply = { fields: null, rows: [], tag: null, error: null, notices: [] };
    for (;;) {
      const m = await this.next();
      if (m instanceof RowDescriptionMessage) {
        reply.fields = m.fields.map((f) => ({
          name: f.name,
          tableID: f.tableID,
          columnID: f.columnID,
          dataTypeID: f.dataTypeID,
          dataTypeSize: f.dataTypeSize,
          dataTypeModifier: f.dataTypeModifier,
          format: f.format,
        }));
      } else if (m instanceof DataRowMessage) reply.rows.push(m.fields.map((v: unknown) => (v === null ? null : String(v))));
      else if (m instanceof CommandCompleteMessage) reply.tag = m.text;
      else if (m instanceof NoticeMessage) reply.notices.push(info(m));
      else if (m instanceof DatabaseError) {
        reply.error = info(m);
        if (m.severity === 'FATAL') return reply;
      } else if (m.name === 'readyForQuery') return reply;
      else if (this.closed !== null) throw this.closed;
    }
  }

  /** Rows as objects keyed by column name (text values). */
  static objects(r: Reply): Record<string, string | null>[] {
    const names = (r.fields ?? []).map((f) => f.name);
    return r.rows.map((row) => Object.fromEntries(names.map((n, i) => [n, row[i] ?? null])));
  }

  close(): void {
    if (this.closed === null && !this.socket.destroyed) this.socket.end(serialize.end());
  }

  private deliver(m: BackendMessage): void {
    if (this.waiting !== null) {
      const w = this.waiting;
      this.waiting = null;
      w.resolve(m);
    } else this.inbox.push(m);
  }

  private next(): Promise<BackendMessage> {
    const m = this.inbox.shift();
    if (m !== undefined) return Promise.resolve(m);
    if (this.closed !== null) return Promise.resolve({ name: 'error', length: 0 });
    return new Promise((resolve) => (this.waiting = { resolve }));
  }
}

function md5(password: string, user: string, salt: Buffer): string {
  const inner = createHash('md5').update(password + user).digest('hex');
  return 'md5' + createHash('md5').update(inner).update(salt).digest('hex');
}

