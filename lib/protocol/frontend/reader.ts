// Owns bounds-checked reading of one frame's fields, and the `invalid` result every decoder
// returns instead of throwing. Shared by the frontend and backend decoders.
//
// Decoders read a frame in place: (buf, start, end) is the whole frame, header included, and may
// sit inside a bigger chunk. So nothing here may look past `end`, and a missing NUL must be
// noticed even when the bytes after the frame happen to contain one.

import { HEADER_LENGTH } from '../codes';

/** What a decoder returns for a malformed frame; the caller answers 08P01 with `reason`. */
export interface Invalid {
  readonly kind: 'invalid';
  readonly reason: string;
}

export function invalid(reason: string): Invalid {
  return { kind: 'invalid', reason };
}

/**
 * Checks a typed frame's header: the type byte is `code` and the declared length covers exactly
 * [start + 1, end). Returns null when it does, else the reason (prefixed with `what`).
 */
export function typedFrameError(buf: Buffer, start: number, end: number, code: number, what: string): string | null {
  if (start < 0 || end > buf.length || end - start < HEADER_LENGTH) return `${what}: frame shorter than its header`;
  if (buf[start] !== code) return `${what}: unexpected message type 0x${buf[start].toString(16)}`;
  const declared = buf.readInt32BE(start + 1);
  if (declared !== end - start - 1) return `${what}: declared length ${declared} but frame holds ${end - start - 1}`;
  return null;
}

/**
 * A cursor over [pos, end). Every read returns undefined when the field would run past `end`
 * (or a C string has no NUL before `end`) and then leaves the cursor where it was.
 */
export class Reader {
  pos: number;

  constructor(
    readonly buf: Buffer,
    pos: number,
    readonly end: number,
  ) {
    this.pos = pos;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  get atEnd(): boolean {
    return this.pos === this.end;
  }

  byte(): number | undefined {
    if (this.pos + 1 > this.end) return undefined;
    return this.buf[this.pos++];
  }

  /** Unsigned 16-bit, as PostgreSQL reads counts (pq_getmsgint(msg, 2)). */
  uint16(): number | undefined {
    if (this.pos + 2 > this.end) return undefined;
    const n = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return n;
  }

  /** Signed 16-bit, for format codes. */
  int16(): number | undefined {
    if (this.pos + 2 > this.end) return undefined;
    const n = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return n;
  }

  int32(): number | undefined {
    if (this.pos + 4 > this.end) return undefined;
    const n = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return n;
  }

  /** Unsigned 32-bit, for OIDs. */
  uint32(): number | undefined {
    if (this.pos + 4 > this.end) return undefined;
    const n = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return n;
  }

  /** A NUL-terminated UTF-8 string; the NUL must lie before `end`. Bytes that are not UTF-8 become U+FFFD (see notUtf8). */
  cstring(): string | undefined {
    // The empty name (unnamed portal or statement) is the usual one: no search, no decoding.
    if (this.pos < this.end && this.buf[this.pos] === 0) {
      this.pos++;
      return '';
    }
    const nul = this.buf.indexOf(0, this.pos);
    // indexOf searches the whole buffer: a NUL beyond `end` belongs to the next frame.
    if (nul === -1 || nul >= this.end) return undefined;
    const s = this.buf.toString('utf8', this.pos, nul);
    this.pos = nul + 1;
    return s;
  }

  /** n bytes as a view of the frame (no copy). */
  bytes(n: number): Buffer | undefined {
    if (n < 0 || this.pos + n > this.end) return undefined;
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  /** Everything up to `end` as a view of the frame (no copy). */
  rest(): Buffer {
    const b = this.buf.subarray(this.pos, this.end);
    this.pos = this.end;
    return b;
  }
}

/**
 * A string cstring() decoded held bytes that are not UTF-8 (or a U+FFFD of its own): it is not
 * the client's name, and two such names may have decoded alike. PostgreSQL refuses such a name
 * from a UTF8 client with 22021; pgmux sends it to the server as it came.
 */
export function notUtf8(s: string): boolean {
  return s.includes('\uFFFD');
}
