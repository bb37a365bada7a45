// Owns what the admin console specs share: a console (or any) session over the specs' raw client
// (spec/support/wire.ts) that reports exactly what a console sends (every RowDescription
// attribute, the CommandComplete tag as sent, errors and notices with their fields, the welcome's
// ParameterStatus list), since node-postgres keeps only the first word of a tag and hides the welcome.

import { RawClient, commandTag, dataRow, errorFields, msg, parameterStatus, rowDescription, type FieldInfo, type Frame } from '../support/wire';

/** A reply's wait may be a PAUSE or WAIT_CLOSE held for a while; the admin specs allow 30 s a test. */
const REPLY_TIMEOUT_MS = 25000;

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

function info(body: Buffer): ErrorInfo {
  const f = errorFields(body);
  return { severity: f.S, code: f.C, message: f.M ?? '', detail: f.D };
}

/** A console (or any) connection speaking the simple query protocol by hand. */
export class RawConsole {
  private constructor(
    /** The connection; its bytesSent/bytesReceived count from the end of the login. */
    readonly wire: RawClient,
    /** ParameterStatus of the welcome, in order. */
    readonly params: [string, string][],
  ) {}

  /**
   * Logs in (cleartext, md5 or trust); rejects with the server's error text on refusal. The
   * startup packet is node-postgres's: `startup`, user, database, then client_encoding UTF8.
   */
  static async open(port: number, user: string, password: string, database = 'pgbouncer', startup: Record<string, string> = {}): Promise<RawConsole> {
    const wire = await RawClient.open(port);
    try {
      const params: [string, string][] = [...Object.entries({ ...startup, user, database }), ['client_encoding', 'UTF8']];
      const welcome = await wire.login(msg.startup(params), user, password);
      const status = welcome.frames.filter((f) => f.type === 'S').map((f) => parameterStatus(f.body));
      wire.bytesSent = 0;
      wire.bytesReceived = 0;
      return new RawConsole(wire, status);
    } catch (err) {
      wire.destroy();
      throw err;
    }
  }

  /** Sends raw protocol bytes (pipelines, extended protocol) and counts them. */
  send(bytes: Buffer): void {
    this.wire.send(bytes);
  }

  /** Reads until `n` ReadyForQuery messages have arrived; returns every frame seen. */
  async readUntilReady(n: number): Promise<Frame[]> {
    const seen: Frame[] = [];
    for (let i = 0; i < n; i++) seen.push(...(await this.wire.until('Z', REPLY_TIMEOUT_MS)));
    return seen;
  }

  async query(sql: string): Promise<Reply> {
    this.wire.send(msg.query(sql));
    const reply: Reply = { fields: null, rows: [], tag: null, error: null, notices: [] };
    for (;;) {
      const f = await this.wire.next(REPLY_TIMEOUT_MS);
      switch (f.type) {
        case 'T':
          reply.fields = rowDescription(f.body);
          break;
        case 'D':
          reply.rows.push(dataRow(f.body));
          break;
        case 'C':
          reply.tag = commandTag(f.body);
          break;
        case 'N':
          reply.notices.push(info(f.body));
          break;
        case 'E':
          reply.error = info(f.body);
          if (reply.error.severity === 'FATAL') return reply;
          break;
        case 'Z':
          return reply;
      }
    }
  }

  /** Rows as objects keyed by column name (text values). */
  static objects(r: Reply): Record<string, string | null>[] {
    const names = (r.fields ?? []).map((f) => f.name);
    return r.rows.map((row) => Object.fromEntries(names.map((n, i) => [n, row[i] ?? null])));
  }

  /** Sends Terminate and ends the connection without waiting for the close. */
  close(): void {
    void this.wire.close();
  }
}
