// Owns a scripted raw-socket peer for specs: send exact bytes, await the server's frames one by
// one, and read the ErrorResponse it closes with. For refusals no driver would provoke (a v2
// packet, a password before the startup packet, an empty password).

import { createConnection, type Socket } from 'node:net';
import { decodeErrorFields, type DecodedErrorFields } from '../../lib/protocol/backend';

const HOST = '127.0.0.1';

export class Wire {
  private pending = Buffer.alloc(0);
  private readonly frames: Buffer[] = [];
  private wake: (() => void) | null = null;
  private ended = false;
  /** Resolves when the peer has closed the connection (or it failed). */
  readonly closed: Promise<void>;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.pending = Buffer.concat([this.pending, chunk]);
      for (;;) {
        if (this.pending.length < 5) break;
        const total = 1 + this.pending.readInt32BE(1);
        if (this.pending.length < total) break;
        this.frames.push(this.pending.subarray(0, total));
        this.pending = this.pending.subarray(total);
      }
      this.notify();
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.ended = true;
        this.notify();
        resolve();
      });
    });
    socket.on('error', () => {
      // 'close' follows; a reset after a FATAL is an ordinary ending here.
    });
  }

  static connect(port: number): Promise<Wire> {
    return new Promise((resolve, reject) => {
      const socket = createConnection({ host: HOST, port });
      socket.once('connect', () => {
        socket.removeListener('error', reject);
        resolve(new Wire(socket));
      });
      socket.once('error', reject);
    });
  }

  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** The next frame from the peer (whole, header included), or null if it closed first. */
  async next(): Promise<Buffer | null> {
    while (this.frames.length === 0 && !this.ended) await new Promise<void>((r) => (this.wake = r));
    return this.frames.shift() ?? null;
  }

  /** Skips frames until one of type `letter` arrives; fails if the peer errors or closes first. */
  async expect(letter: string): Promise<Buffer> {
    const code = letter.charCodeAt(0);
    for (;;) {
      const f = await this.next();
      if (f === null) throw new Error(`connection closed while waiting for '${letter}'`);
      if (f[0] === code) return f;
      if (f[0] === 0x45) throw new Error(`got an error while waiting for '${letter}': ${describeError(f)}`);
    }
  }

  /** The first ErrorResponse the peer sends, after which it must close the connection. */
  async refusal(): Promise<DecodedErrorFields> {
    for (;;) {
      const f = await this.next();
      if (f === null) throw new Error('connection closed without an ErrorResponse');
      if (f[0] !== 0x45) continue;
      const e = decodeErrorFields(f, 0, f.length);
      if (e.kind === 'invalid') throw new Error(e.reason);
      await this.closed;
      return e;
    }
  }

  destroy(): void {
    this.socket.destroy();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }
}

function describeError(f: Buffer): string {
  const e = decodeErrorFields(f, 0, f.length);
  return e.kind === 'invalid' ? e.reason : `${e.code} ${e.message}`;
}
