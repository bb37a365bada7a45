// Owns the hand-built protocol client of the client specs: raw bytes on a net.Socket, for what
// no driver will send (protocol 3.2, GSSENCRequest, a truncated packet, an HTTP request).
//
// Deliberately independent of lib/protocol: every message is written out byte by byte here, so
// the specs check pgmux against the protocol as PostgreSQL documents it, not against itself.

import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export interface Frame {
  /** The type byte as a character ('R', 'E', 'Z', ...). */
  readonly type: string;
  readonly body: Buffer;
}

const cstr = (s: string): Buffer => Buffer.from(`${s}\0`, 'utf8');

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

/** One typed message: type byte, int32 length (counting itself), body. */
export function frame(type: string, body: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([Buffer.from(type, 'latin1'), int32(body.length + 4), body]);
}

/** An untyped startup-phase packet: int32 length (counting itself), then `body`. */
export function untyped(body: Buffer): Buffer {
  return Buffer.concat([int32(body.length + 4), body]);
}

/** StartupMessage for protocol 3.<minor> with these parameters, in order. */
export function startupMessage(params: Record<string, string>, minor = 0): Buffer {
  const pairs = Object.entries(params).map(([k, v]) => Buffer.concat([cstr(k), cstr(v)]));
  return untyped(Buffer.concat([int32((3 << 16) | minor), ...pairs, Buffer.from([0])]));
}

export const SSL_REQUEST = untyped(int32(80877103));
export const GSSENC_REQUEST = untyped(int32(80877104));

export function cancelRequest(pid: number, secret: number): Buffer {
  return untyped(Buffer.concat([int32(80877102), int32(pid), int32(secret)]));
}

export const query = (sql: string): Buffer => frame('Q', cstr(sql));
export const TERMINATE = frame('X');

/** ErrorResponse/NoticeResponse fields by code letter: S, V, C (SQLSTATE), M, D, ... */
export function errorFields(body: Buffer): Record<string, string> {
  const fields: Record<string, string> = {};
  let i = 0;
  while (i < body.length && body[i] !== 0) {
    const end = body.indexOf(0, i + 1);
    fields[String.fromCharCode(body[i]!)] = body.toString('utf8', i + 1, end);
    i = end + 1;
  }
  return fields;
}

/**
 * NegotiateProtocolVersion: the newest version offered and the options not recognized. The docs
 * call the first field a minor version, but PostgreSQL sends its full code (PG_PROTOCOL_LATEST,
 * 3 << 16 | minor) and libpq reads it so; `major`/`minor` are split from it.
 */
export function negotiateProtocolVersion(body: Buffer): { major: number; minor: number; unrecognized: string[] } {
  const count = body.readInt32BE(4);
  const unrecognized: string[] = [];
  let i = 8;
  for (let n = 0; n < count; n++) {
    const end = body.indexOf(0, i);
    unrecognized.push(body.toString('utf8', i, end));
    i = end + 1;
  }
  const version = body.readInt32BE(0);
  return { major: version >>> 16, minor: version & 0xffff, unrecognized };
}

/** ParameterStatus name and value. */
export function parameterStatus(body: Buffer): [string, string] {
  const mid = body.indexOf(0);
  return [body.toString('utf8', 0, mid), body.toString('utf8', mid + 1, body.length - 1)];
}

/** What PostgreSQL's md5 method wants: 'md5' + md5(md5(password + user) + salt). */
export function md5Password(user: string, password: string, salt: Buffer): string {
  const inner = createHash('md5').update(password + user).digest('hex');
  return `md5${createHash('md5').update(Buffer.concat([Buffer.from(inner), salt])).digest('hex')}`;
}

/**
 * A socket read one frame (or, after SSLRequest/GSSENCRequest, one byte) at a time, with a
 * deadline on every read. `closedAt` records when the peer closed, for "closed within a second".
 */
export class RawClient {
  private buffered = Buffer.alloc(0);
  private readonly wake = new Set<() => void>();
  private closed = false;
  /** Date.now() when the socket closed, or null while open. */
  closedAt: number | null = null;
  /** A socket error (e.g. ECONNRESET), if one happened. */
  error: Error | null = null;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.notify();
    });
    socket.on('error', (err) => {
      this.error = err;
    });
    socket.on('close', () => {
      this.closed = true;
      this.closedAt = Date.now();
      this.notify();
    });
  }

  /** Connects over TCP to 127.0.0.1:port, or to a unix socket path. */
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

  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** One byte: the answer to SSLRequest or GSSENCRequest. */
  async readByte(timeoutMs = 5000): Promise<string> {
    await this.until(() => this.buffered.length >= 1, 'one byte', timeoutMs);
    const b = this.buffered[0]!;
    this.buffered = this.buffered.subarray(1);
    return String.fromCharCode(b);
  }

  /** The next whole frame. Rejects if the socket closes first or timeoutMs passes. */
  async next(timeoutMs = 5000): Promise<Frame> {
    await this.until(() => this.frameLength() !== null, 'a frame', timeoutMs);
    const length = this.frameLength() as number;
    const f = { type: String.fromCharCode(this.buffered[0]!), body: this.buffered.subarray(5, length + 1) };
    this.buffered = this.buffered.subarray(length + 1);
    return f;
  }

  /** Frames up to and including the first of type `type`. */
  async readUntil(type: string, timeoutMs = 5000): Promise<Frame[]> {
    const out: Frame[] = [];
    for (;;) {
      const f = await this.next(timeoutMs);
      out.push(f);
      if (f.type === type) return out;
    }
  }

  /** Resolves with Date.now() at close once the peer has closed; rejects after timeoutMs. */
  async waitClosed(timeoutMs = 5000): Promise<number> {
    await this.until(() => this.closed, 'the connection to close', timeoutMs, true);
    return this.closedAt as number;
  }

  isClosed(): boolean {
    return this.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private frameLength(): number | null {
    if (this.buffered.length < 5) return null;
    const length = this.buffered.readInt32BE(1);
    return this.buffered.length >= length + 1 ? length : null;
  }

  /** Waits for `done`, woken by socket events; fails when the socket closes (unless awaited). */
  private until(done: () => boolean, what: string, timeoutMs: number, closeIsDone = false): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (done()) finish();
        else if (this.closed && !closeIsDone) {
          finish(new Error(`connection closed while waiting for ${what} (unread: ${this.buffered.toString('latin1')})`));
        }
      };
      const timer = setTimeout(() => finish(new Error(`no ${what} within ${timeoutMs} ms`)), timeoutMs);
      const finish = (err?: Error): void => {
        clearTimeout(timer);
        this.wake.delete(check);
        if (err) reject(err);
        else resolve();
      };
      this.wake.add(check);
      check();
    });
  }

  private notify(): void {
    for (const check of [...this.wake]) check();
  }
}

export interface Welcome {
  /** Everything from the first server answer through ReadyForQuery. */
  frames: Frame[];
  params: Map<string, string>;
  pid: number;
  secret: number;
}

/**
 * Sends `startup` (already built) and answers a cleartext or md5 challenge with `password`.
 * Resolves with the welcome, or rejects with the ErrorResponse's fields in the message.
 */
export async function login(conn: RawClient, startup: Buffer, user: string, password: string): Promise<Welcome> {
  conn.send(startup);
  const frames: Frame[] = [];
  const welcome: Welcome = { frames, params: new Map(), pid: 0, secret: 0 };
  for (;;) {
    const f = await conn.next();
    frames.push(f);
    switch (f.type) {
      case 'R': {
        const code = f.body.readInt32BE(0);
        if (code === 3) conn.send(frame('p', cstr(password)));
        else if (code === 5) conn.send(frame('p', cstr(md5Password(user, password, f.body.subarray(4, 8)))));
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
        throw new Error(`login failed: ${JSON.stringify(errorFields(f.body))}`);
      case 'Z':
        return welcome;
    }
  }
}

/**
 * Reads until the connection closes and returns the one ErrorResponse pgmux must have sent
 * before closing, with how long after `since` the close came.
 */
export async function fatalThenClose(conn: RawClient, since: number, timeoutMs = 5000): Promise<{ fields: Record<string, string>; closedAfterMs: number }> {
  const frames: Frame[] = [];
  for (;;) {
    try {
      frames.push(await conn.next(timeoutMs));
    } catch (err) {
      if (!conn.isClosed()) throw err;
      break;
    }
  }
  const closedAt = await conn.waitClosed(timeoutMs);
  const errors = frames.filter((f) => f.type === 'E');
  if (errors.length !== 1) {
    throw new Error(`expected one ErrorResponse before the close, got frames ${frames.map((f) => f.type).join(',') || '(none)'}`);
  }
  return { fields: errorFields(errors[0]!.body), closedAfterMs: closedAt - since };
}
