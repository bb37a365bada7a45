// Owns the specs' one raw PostgreSQL-protocol client: a socket to pgmux, PgBouncer or PostgreSQL
// that sends exact bytes and hands back the peer's frames one awaited read at a time. For what no
// driver does on demand: a truncated or unknown packet, protocol 3.2, SSLRequest answered 'N',
// pipelined Syncs, a refusal read with its close, a SCRAM exchange driven step by step.
//
// The API, all of it (messages and decoders come from ./messages, re-exported here):
//   RawClient.open(port | {path})             connect, nothing sent
//   RawClient.login(port, user, pw, db)       connect + StartupMessage + password; after ReadyForQuery
//   c.login(startupBytes, user, pw)           answer cleartext/md5 up to ReadyForQuery -> Welcome
//   c.send(...bytes)                          write (counted in bytesSent)
//   c.next() / c.readByte()                   one frame / one byte (the answer to SSLRequest)
//   c.until('Z') / c.waitFor('R')             frames through the first of a type / that frame, failing on an error first
//   c.roundTrip(...bytes)                     send, then the frames through ReadyForQuery
//   c.refusal() / c.untilClosed()             read to the close: its ErrorResponse / every frame
//   c.waitClosed() / c.close() / c.destroy()  await the peer's close / Terminate and await it / drop
// Every read has a deadline (10 s unless given) and fails at once if the peer closes first, so a
// spec fails with what it was waiting for instead of at the jest timeout.

import { connect, type Socket } from 'node:net';
import { authRequest, errorFields, dataRow, md5Password, msg, parameterStatus } from './messages';

export * from './messages';

/** How long one read waits unless the caller says otherwise. */
const READ_TIMEOUT_MS = 10000;

export interface Frame {
  /** The type byte as a character ('R', 'E', 'Z', ...). */
  readonly type: string;
  /** What follows the 5-byte header. */
  readonly body: Buffer;
  /** The whole frame, header included: for lib/protocol decoders, which take (buf, start, end). */
  readonly bytes: Buffer;
}

/** What a login got, from the first answer to the startup packet through ReadyForQuery. */
export interface Welcome {
  frames: Frame[];
  params: Map<string, string>;
  /** BackendKeyData. */
  pid: number;
  secret: number;
}

/** The ErrorResponse a peer closed a connection with. */
export interface Refusal {
  fields: Record<string, string>;
  frame: Frame;
  /** Every frame read before the close, the ErrorResponse included. */
  frames: Frame[];
  /** Date.now() when the socket closed. */
  closedAt: number;
}

/** An ErrorResponse that ended a login: `message` is its M field, `code` its SQLSTATE. */
export class ServerError extends Error {
  readonly code: string | undefined;
  readonly severity: string | undefined;

  constructor(readonly fields: Record<string, string>) {
    super(fields.M ?? JSON.stringify(fields));
    this.code = fields.C;
    this.severity = fields.S;
  }
}

export class RawClient {
  private buffered: Buffer = Buffer.alloc(0);
  private readonly waiters = new Set<() => void>();
  /** Date.now() when the socket closed, or null while open. */
  closedAt: number | null = null;
  /** The socket error that preceded the close (e.g. ECONNRESET), if any. */
  error: Error | null = null;
  /** Bytes written by send() and read from the socket; a spec may zero them to count from a point on. */
  bytesSent = 0;
  bytesReceived = 0;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.bytesReceived += chunk.length;
      this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
      this.wake();
    });
    socket.on('error', (err) => {
      // 'close' follows; a reset after a FATAL is an ordinary ending.
      this.error = err;
    });
    socket.on('close', () => {
      this.closedAt = Date.now();
      this.wake();
    });
  }

  /** Connects over TCP to 127.0.0.1:port, or to a unix socket path; sends nothing. */
  static open(target: number | { path: string }): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = typeof target === 'number' ? connect(target, '127.0.0.1') : connect(target.path);
      socket.once('connect', () => {
        socket.removeListener('error', reject);
        resolve(new RawClient(socket));
      });
      socket.once('error', reject);
    });
  }

  /** Connects and logs in as `user` to `database` (trust, cleartext or md5); rejects with a ServerError on refusal. */
  static async login(port: number, user: string, password = '', database = 'app'): Promise<RawClient> {
    const c = await RawClient.open(port);
    try {
      await c.login(msg.startup({ user, database }), user, password);
      return c;
    } catch (err) {
      c.destroy();
      throw err;
    }
  }

  /**
   * Sends `startup` (empty if it was sent already) and answers a cleartext or md5 challenge with
   * `password` (md5 salts with `user`). Resolves at ReadyForQuery; rejects with a ServerError.
   */
  async login(startup: Buffer, user: string, password: string): Promise<Welcome> {
    this.send(startup);
    const welcome: Welcome = { frames: [], params: new Map(), pid: 0, secret: 0 };
    for (;;) {
      const f = await this.next();
      welcome.frames.push(f);
      switch (f.type) {
        case 'R': {
          const { code, data } = authRequest(f.body);
          if (code === 3) this.send(msg.password(password));
          else if (code === 5) this.send(msg.password(md5Password(user, password, data.subarray(0, 4))));
          else if (code !== 0) throw new Error(`raw client cannot answer authentication request ${code}`);
          break;
        }
        case 'S': {
          const [name, value] = parameterStatus(f.body);
          welcome.params.set(name, value);
          break;
        }
        case 'K':
          welcome.pid = f.body.readInt32BE(0);
          welcome.secret = f.body.readInt32BE(4);
          break;
        case 'E':
          throw new ServerError(errorFields(f.body));
        case 'Z':
          return welcome;
      }
    }
  }

  send(...bytes: Buffer[]): void {
    const b = bytes.length === 1 ? bytes[0]! : Buffer.concat(bytes);
    this.bytesSent += b.length;
    this.socket.write(b);
  }

  /** One byte: the answer to SSLRequest or GSSENCRequest. */
  async readByte(timeoutMs = READ_TIMEOUT_MS): Promise<string> {
    await this.waitUntil(() => this.buffered.length >= 1, 'one byte', timeoutMs);
    const b = this.buffered[0]!;
    this.buffered = this.buffered.subarray(1);
    return String.fromCharCode(b);
  }

  /** The next whole frame. Rejects if the socket closes first or `timeoutMs` passes. */
  async next(timeoutMs = READ_TIMEOUT_MS): Promise<Frame> {
    await this.waitUntil(() => this.frameLength() !== null, 'a frame', timeoutMs);
    const bytes = this.buffered.subarray(0, this.frameLength()!);
    this.buffered = this.buffered.subarray(bytes.length);
    return { type: String.fromCharCode(bytes[0]!), body: bytes.subarray(5), bytes };
  }

  /** Frames up to and including the first of type `type`. */
  async until(type: string, timeoutMs = READ_TIMEOUT_MS): Promise<Frame[]> {
    const out: Frame[] = [];
    for (;;) {
      const f = await this.next(timeoutMs);
      out.push(f);
      if (f.type === type) return out;
    }
  }

  /** Skips frames until one of type `type`; fails if an ErrorResponse comes first. */
  async waitFor(type: string, timeoutMs = READ_TIMEOUT_MS): Promise<Frame> {
    for (;;) {
      const f = await this.next(timeoutMs);
      if (f.type === type) return f;
      if (f.type === 'E') throw new ServerError(errorFields(f.body));
    }
  }

  /** Sends `bytes`, returns the frames up to the ReadyForQuery that ends them. */
  async roundTrip(...bytes: Buffer[]): Promise<Frame[]> {
    this.send(...bytes);
    return this.until('Z');
  }

  /** Every frame the peer sends until it closes the connection, and when it closed. */
  async untilClosed(timeoutMs = READ_TIMEOUT_MS): Promise<{ frames: Frame[]; closedAt: number }> {
    const frames: Frame[] = [];
    for (;;) {
      try {
        frames.push(await this.next(timeoutMs));
      } catch (err) {
        if (this.closedAt === null) throw err;
        return { frames, closedAt: this.closedAt };
      }
    }
  }

  /**
   * Reads to the close and returns the ErrorResponse before it (the first, if several). With
   * `sole`, it must be the only one: a FATAL, then the close.
   */
  async refusal(opts: { sole?: boolean; timeoutMs?: number } = {}): Promise<Refusal> {
    const { frames, closedAt } = await this.untilClosed(opts.timeoutMs);
    const errors = frames.filter((f) => f.type === 'E');
    if (errors.length === 0 || (opts.sole === true && errors.length > 1)) {
      const got = frames.map((f) => f.type).join(',') || '(none)';
      throw new Error(`expected ${opts.sole === true ? 'one ErrorResponse' : 'an ErrorResponse'} before the close, got frames ${got}`);
    }
    return { fields: errorFields(errors[0]!.body), frame: errors[0]!, frames, closedAt };
  }

  /** Resolves with Date.now() at close once the peer has closed; rejects after `timeoutMs`. */
  async waitClosed(timeoutMs = READ_TIMEOUT_MS): Promise<number> {
    await this.waitUntil(() => this.closedAt !== null, 'the connection to close', timeoutMs, true);
    return this.closedAt!;
  }

  isClosed(): boolean {
    return this.closedAt !== null;
  }

  /** Sends Terminate, ends the socket and waits until it has closed. */
  async close(): Promise<void> {
    if (this.closedAt !== null) return;
    const closed = new Promise<void>((resolve) => this.socket.once('close', () => resolve()));
    this.socket.end(msg.terminate());
    await closed;
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** The length of the whole first frame in the buffer (header included), or null while it is incomplete. */
  private frameLength(): number | null {
    if (this.buffered.length < 5) return null;
    const total = 1 + this.buffered.readInt32BE(1);
    return this.buffered.length >= total ? total : null;
  }

  /** Waits for `done`, woken by socket events; fails when the socket closes first (unless `closeIsDone`). */
  private waitUntil(done: () => boolean, what: string, timeoutMs: number, closeIsDone = false): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (done()) finish();
        else if (this.closedAt !== null && !closeIsDone) {
          const why = this.error === null ? '' : ` (${this.error.message})`;
          finish(new Error(`connection closed${why} while waiting for ${what} (unread: ${this.buffered.toString('latin1')})`));
        }
      };
      const timer = setTimeout(() => finish(new Error(`no ${what} within ${timeoutMs} ms`)), timeoutMs);
      const finish = (err?: Error): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (err) reject(err);
        else resolve();
      };
      this.waiters.add(check);
      check();
    });
  }

  private wake(): void {
    for (const check of [...this.waiters]) check();
  }
}

/** Values of the DataRows among `frames`, one array per row. */
export function rowsOf(frames: readonly Frame[]): (string | null)[][] {
  return frames.filter((f) => f.type === 'D').map((f) => dataRow(f.body));
}
