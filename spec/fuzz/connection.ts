// Owns one fuzz case's connection: a raw socket to pgmux that records every byte back and when
// it closed, waits on those events (never on fixed sleeps), and writes a case's bytes in the
// chunks and with the pauses the case says.

import * as net from 'node:net';
import { createHash } from 'node:crypto';
import type { Case } from './families';

export class FuzzConnection {
  received: Buffer = Buffer.alloc(0);
  closedAt: number | null = null;
  /** The socket refused or reset the connection before it opened. */
  error: Error | null = null;
  private wake: (() => void) | null = null;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.received = this.received.length === 0 ? chunk : Buffer.concat([this.received, chunk]);
      this.wake?.();
    });
    socket.on('error', (err) => {
      this.error = err;
    });
    socket.on('close', () => {
      this.closedAt = Date.now();
      this.wake?.();
    });
  }

  static open(port: number): Promise<FuzzConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
      socket.once('connect', () => {
        socket.removeListener('error', reject);
        resolve(new FuzzConnection(socket));
      });
      socket.once('error', reject);
    });
  }

  get closed(): boolean {
    return this.closedAt !== null;
  }

  /** Resolves true once `done()` holds, false at the deadline (Date.now() based) or when closed without it. */
  until(done: () => boolean, deadline: number): Promise<boolean> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (done()) finish(true);
        else if (this.closed || Date.now() >= deadline) finish(false);
      };
      const timer = setTimeout(check, Math.max(0, deadline - Date.now()));
      const finish = (ok: boolean): void => {
        clearTimeout(timer);
        this.wake = null;
        resolve(ok);
      };
      this.wake = check;
      check();
    });
  }

  /** Resolves at close, or false at the deadline. */
  untilClosed(deadline: number): Promise<boolean> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.closed) finish(true);
        else if (Date.now() >= deadline) finish(false);
      };
      const timer = setTimeout(check, Math.max(0, deadline - Date.now()));
      const finish = (ok: boolean): void => {
        clearTimeout(timer);
        this.wake = null;
        resolve(ok);
      };
      this.wake = check;
      check();
    });
  }

  /** Writes `bytes` as the case says; stops early if pgmux closed the connection meanwhile. */
  async deliver(bytes: Buffer, c: Pick<Case, 'chunks' | 'pause'>): Promise<void> {
    let pos = 0;
    for (let i = 0; pos < bytes.length; i++) {
      if (this.closed || this.socket.destroyed) return;
      const size = c.chunks[i % c.chunks.length]!;
      this.socket.write(bytes.subarray(pos, pos + size));
      pos += size;
      if (pos >= bytes.length) break;
      if (c.pause === 'immediate') await new Promise((r) => setImmediate(r));
      else if (c.pause === 'timer') await new Promise((r) => setTimeout(r, 1));
    }
  }

  /** FIN (end) or RST (resetAndDestroy). */
  finish(how: 'fin' | 'rst'): void {
    if (how === 'fin') this.socket.end();
    else this.socket.resetAndDestroy();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Frames of `buf` from `offset` on, as far as they are whole: [type, body]. */
export function framesOf(buf: Buffer, offset = 0): { type: string; body: Buffer }[] {
  const out: { type: string; body: Buffer }[] = [];
  let pos = offset;
  while (buf.length - pos >= 5) {
    const len = buf.readInt32BE(pos + 1);
    if (len < 4 || buf.length - pos < len + 1) break;
    out.push({ type: String.fromCharCode(buf[pos]!), body: buf.subarray(pos + 5, pos + 1 + len) });
    pos += 1 + len;
  }
  return out;
}

/** The fields of an ErrorResponse body (S, C, M, ...). */
export function errorFields(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < body.length && body[pos] !== 0) {
    const code = String.fromCharCode(body[pos]!);
    const end = body.indexOf(0, pos + 1);
    if (end < 0) break;
    out[code] = body.toString('utf8', pos + 1, end);
    pos = end + 1;
  }
  return out;
}

/** PostgreSQL's md5 answer: 'md5' + md5(md5(password + user) + salt). */
export function md5Answer(user: string, password: string, salt: Buffer): string {
  const inner = createHash('md5').update(password + user).digest('hex');
  return `md5${createHash('md5').update(Buffer.concat([Buffer.from(inner), salt])).digest('hex')}`;
}
