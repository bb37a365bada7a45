// Owns the hand-built protocol client the auth specs use to log in to a real PostgreSQL over a raw socket.
//
// Deliberately independent of lib/protocol: the messages are written out byte by byte here so
// the specs check lib/auth against PostgreSQL, not against our own framing.

import { connect, type Socket } from 'node:net';

export interface Frame {
  readonly type: string;
  readonly body: Buffer;
}

/** One typed message: type byte, int32 length (self-inclusive), body. */
export function frame(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

const cstr = (s: string): Buffer => Buffer.from(s + '\0', 'utf8');

export function startupMessage(user: string, database: string): Buffer {
  const body = Buffer.concat([Buffer.from([0, 3, 0, 0]), cstr('user'), cstr(user), cstr('database'), cstr(database), Buffer.from([0])]);
  const length = Buffer.alloc(4);
  length.writeInt32BE(body.length + 4);
  return Buffer.concat([length, body]);
}

export function passwordMessage(password: string): Buffer {
  return frame('p', cstr(password));
}

export function saslInitialResponse(mechanism: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeInt32BE(data.length);
  return frame('p', Buffer.concat([cstr(mechanism), length, data]));
}

export function saslResponse(data: Buffer): Buffer {
  return frame('p', data);
}

/** ErrorResponse fields by code letter: S, C (SQLSTATE), M, D, ... */
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

/** The Authentication sub-code of an 'R' frame and its payload. */
export function authRequest(f: Frame): { code: number; data: Buffer } {
  if (f.type !== 'R') throw new Error(`expected Authentication, got '${f.type}' ${JSON.stringify(errorFields(f.body))}`);
  return { code: f.body.readInt32BE(0), data: f.body.subarray(4) };
}

/** A socket that hands out whole frames in order, one awaited read at a time. */
export class WireClient {
  private buffered = Buffer.alloc(0);
  private readonly frames: Frame[] = [];
  private waiter: { resolve: (f: Frame) => void; reject: (e: Error) => void } | undefined;
  private ended: Error | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.end(err));
    socket.on('close', () => this.end(new Error('connection closed')));
  }

  static open(port: number): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => resolve(new WireClient(socket)));
      socket.once('error', reject);
    });
  }

  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  next(): Promise<Frame> {
    const f = this.frames.shift();
    if (f !== undefined) return Promise.resolve(f);
    if (this.ended !== undefined) return Promise.reject(this.ended);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** Closes and waits until the socket is gone. */
  async close(): Promise<void> {
    if (this.socket.destroyed) return;
    const closed = new Promise<void>((resolve) => this.socket.once('close', () => resolve()));
    this.socket.destroy();
    await closed;
  }

  private onData(chunk: Buffer): void {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    while (this.buffered.length >= 5) {
      const length = this.buffered.readInt32BE(1);
      if (this.buffered.length < length + 1) break;
      this.push({ type: String.fromCharCode(this.buffered[0]!), body: this.buffered.subarray(5, length + 1) });
      this.buffered = this.buffered.subarray(length + 1);
    }
  }

  private push(f: Frame): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter !== undefined) waiter.resolve(f);
    else this.frames.push(f);
  }

  private end(err: Error): void {
    this.ended ??= err;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(err);
  }
}

/** How a login ended: ReadyForQuery, or the server's ErrorResponse fields. */
export type LoginOutcome = { ok: true } | { ok: false; error: Record<string, string> };

/** Reads frames after the password exchange until ReadyForQuery or an ErrorResponse. */
export async function finishLogin(conn: WireClient): Promise<LoginOutcome> {
  for (;;) {
    const f = await conn.next();
    if (f.type === 'E') return { ok: false, error: errorFields(f.body) };
    if (f.type === 'Z') return { ok: true };
  }
}
