// Owns a raw protocol client for the pool and prepared-statement specs: what drivers will not do on demand, such as
// several Syncs in one write or an Execute with a row limit followed by Flush (a suspended
// portal). Messages are written byte by byte here, independent of lib/protocol.

import { connect, type Socket } from 'node:net';

export interface Frame {
  readonly type: string;
  readonly body: Buffer;
}

const cstr = (s: string): Buffer => Buffer.from(s + '\0', 'utf8');

function i16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
}

function i32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

function frame(type: string, ...body: Buffer[]): Buffer {
  const payload = Buffer.concat(body);
  return Buffer.concat([Buffer.from(type, 'latin1'), i32(payload.length + 4), payload]);
}

/** Frontend messages (text formats, no parameters). */
export const msg = {
  query: (sql: string) => frame('Q', cstr(sql)),
  parse: (sql: string, name = '') => frame('P', cstr(name), cstr(sql), i16(0)),
  bind: (portal = '', statement = '') => frame('B', cstr(portal), cstr(statement), i16(0), i16(0), i16(0)),
  execute: (maxRows = 0, portal = '') => frame('E', cstr(portal), i32(maxRows)),
  describePortal: (portal = '') => frame('D', Buffer.from('P'), cstr(portal)),
  flush: () => frame('H'),
  sync: () => frame('S'),
  terminate: () => frame('X'),
  /** Parse, Bind, Execute (all rows), Sync: one extended-protocol statement. */
  extended: (sql: string) => Buffer.concat([frame('P', cstr(''), cstr(sql), i16(0)), frame('B', cstr(''), cstr(''), i16(0), i16(0), i16(0)), frame('E', cstr(''), i32(0)), frame('S')]),
};

/** The text values of a DataRow body (null for SQL NULL). */
export function dataRow(body: Buffer): (string | null)[] {
  const n = body.readInt16BE(0);
  const out: (string | null)[] = [];
  let pos = 2;
  for (let i = 0; i < n; i++) {
    const len = body.readInt32BE(pos);
    pos += 4;
    if (len < 0) out.push(null);
    else {
      out.push(body.toString('utf8', pos, pos + len));
      pos += len;
    }
  }
  return out;
}

/** ErrorResponse fields by code letter (S, C, M, ...). */
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

/** A logged-in raw connection that hands out whole frames in arrival order. */
export class RawClient {
  private buffered = Buffer.alloc(0);
  private readonly frames: Frame[] = [];
  private waiter: (() => void) | undefined;
  private ended: Error | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.end(err));
    socket.on('close', () => this.end(new Error('connection closed')));
  }

  /** Connects and logs in (trust or cleartext); resolves after the first ReadyForQuery. */
  static async login(port: number, user: string, password = '', database = 'app'): Promise<RawClient> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
    const c = new RawClient(socket);
    const body = Buffer.concat([i32(196608), cstr('user'), cstr(user), cstr('database'), cstr(database), Buffer.from([0])]);
    c.send(Buffer.concat([i32(body.length + 4), body]));
    for (;;) {
      const f = await c.next();
      if (f.type === 'E') throw new Error(`login failed: ${JSON.stringify(errorFields(f.body))}`);
      if (f.type === 'R' && f.body.readInt32BE(0) === 3) c.send(frame('p', cstr(password)));
      if (f.type === 'Z') return c;
    }
  }

  send(...bytes: Buffer[]): void {
    this.socket.write(Buffer.concat(bytes));
  }

  /** The next frame; rejects after `timeoutMs` or when the connection ends first. */
  async next(timeoutMs = 10000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const f = this.frames.shift();
      if (f !== undefined) return f;
      if (this.ended !== undefined) throw this.ended;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame from pgmux within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  /** Frames up to and including the next one of `type`. */
  async until(type: string, timeoutMs = 10000): Promise<Frame[]> {
    const out: Frame[] = [];
    for (;;) {
      const f = await this.next(timeoutMs);
      out.push(f);
      if (f.type === type) return out;
    }
  }

  /** Sends `bytes`, returns the frames up to the ReadyForQuery that ends them. */
  async roundTrip(...bytes: Buffer[]): Promise<Frame[]> {
    this.send(...bytes);
    return this.until('Z');
  }

  async close(): Promise<void> {
    if (this.socket.destroyed) return;
    const closed = new Promise<void>((resolve) => this.socket.once('close', () => resolve()));
    this.socket.end(frame('X'));
    await closed;
  }

  private onData(chunk: Buffer): void {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    while (this.buffered.length >= 5) {
      const length = this.buffered.readInt32BE(1);
      if (this.buffered.length < length + 1) break;
      this.frames.push({ type: String.fromCharCode(this.buffered[0]!), body: this.buffered.subarray(5, length + 1) });
      this.buffered = this.buffered.subarray(length + 1);
    }
    this.wake();
  }

  private end(err: Error): void {
    this.ended ??= err;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
}

/** Values of the DataRows among `frames`, one array per row. */
export function rowsOf(frames: readonly Frame[]): (string | null)[][] {
  return frames.filter((f) => f.type === 'D').map((f) => dataRow(f.body));
}
