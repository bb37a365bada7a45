// Owns the byte-level building of outgoing frames: one growable buffer per Writer, never shared.
//
// pg-protocol keeps one module-level writer that every serializer shares, so a builder that
// throws halfway (or two builders that interleave) leaves junk for the next caller. Here every
// builder makes its own Writer (or a connection keeps one), so no state outlives a frame.
//
// The first 5 bytes are reserved for the header. finish(code) fills in the type byte and the
// length; finishUntyped() writes only the length, for startup-phase packets, by returning the
// bytes from offset 1. With an exact size hint the buffer is handed over without a copy.

import { HEADER_LENGTH } from './codes';

const EMPTY = Buffer.alloc(0);

export class Writer {
  private buf: Buffer;
  private pos = HEADER_LENGTH;
  private readonly sizeHint: number;

  /** `sizeHint` is the whole frame's expected size, header included; exact means no copy. */
  constructor(sizeHint = 256) {
    this.sizeHint = Math.max(HEADER_LENGTH, sizeHint | 0);
    this.buf = Buffer.allocUnsafe(this.sizeHint);
  }

  /** Bytes written so far after the header. */
  get bodyLength(): number {
    return this.pos - HEADER_LENGTH;
  }

  /** Writes the low 8 bits of n (so both -1 and 255 write 0xFF). */
  int8(n: number): this {
    this.ensure(1);
    this.buf[this.pos++] = n & 0xff;
    return this;
  }

  /** Writes the low 16 bits of n, big-endian: counts up to 65535 and signed codes both fit. */
  int16(n: number): this {
    this.ensure(2);
    this.buf.writeUInt16BE(n & 0xffff, this.pos);
    this.pos += 2;
    return this;
  }

  /** Writes the low 32 bits of n, big-endian: int32 values and uint32 OIDs both fit. */
  int32(n: number): this {
    this.ensure(4);
    this.buf.writeInt32BE(n | 0, this.pos);
    this.pos += 4;
    return this;
  }

  /**
   * Writes s as UTF-8 followed by NUL. A NUL inside s would end the field early on the wire and
   * shift every later field, so s is cut at its first NUL, exactly as a C string would be.
   */
  cstring(s: string): this {
    const nul = s.indexOf('\u0000');
    const text = nul === -1 ? s : s.slice(0, nul);
    const len = Buffer.byteLength(text);
    this.ensure(len + 1);
    this.buf.write(text, this.pos, len, 'utf8');
    this.pos += len;
    this.buf[this.pos++] = 0;
    return this;
  }

  /** Writes s as UTF-8 without a terminator (for length-delimited fields). */
  string(s: string): this {
    const len = Buffer.byteLength(s);
    this.ensure(len);
    this.buf.write(s, this.pos, len, 'utf8');
    this.pos += len;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** Completes a typed frame: type byte, int32 length (counting itself), body. Then resets. */
  finish(code: number): Buffer {
    const out = this.take(0);
    out[0] = code;
    out.writeInt32BE(out.length - 1, 1);
    return out;
  }

  /** Completes an untyped startup-phase packet: int32 length (counting itself), body. Then resets. */
  finishUntyped(): Buffer {
    const out = this.take(1);
    out.writeInt32BE(out.length, 0);
    return out;
  }

  /** Discards what was written, keeping the buffer for reuse. */
  reset(): void {
    this.pos = HEADER_LENGTH;
  }

  /** Returns bytes [from, pos) as a buffer of their own and resets. */
  private take(from: number): Buffer {
    let out: Buffer;
    if (this.pos === this.buf.length) {
      // Exactly full: hand the buffer over instead of copying, start afresh on next use.
      out = from === 0 ? this.buf : this.buf.subarray(from);
      this.buf = EMPTY;
    } else {
      out = Buffer.allocUnsafe(this.pos - from);
      this.buf.copy(out, 0, from, this.pos);
    }
    this.pos = HEADER_LENGTH;
    return out;
  }

  private ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let size = Math.max(this.buf.length, this.sizeHint);
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
}
