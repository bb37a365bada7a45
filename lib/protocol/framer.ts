// Owns whole-frame splitting for the phases where every frame is read: a client's startup and
// authentication, and pgmux's own login to a server. The forwarding path uses relay.ts instead.
//
// feed(chunk) calls the sink once per complete frame with (type, buf, start, end), the frame
// whole (header included). Frames inside one chunk are passed as views of it; a frame that
// straddles chunks is assembled once. In startup mode the first packets have no type byte: they
// are mapped to StartupCode values above 0xFF so one switch serves both phases.

import { HEADER_LENGTH, StartupCode, StartupMagic } from './codes';

export type FrameSink = (type: number, buf: Buffer, start: number, end: number) => void;

/** Longest startup packet accepted, as PostgreSQL's MAX_STARTUP_PACKET_LENGTH. */
export const MAX_STARTUP_PACKET = 10000;

export class Framer {
  private pending: Buffer | null = null;
  /** Untyped packets (startup phase) until the owner switches this off. */
  startupMode: boolean;
  /** Set by the sink to stop delivering the rest of the current chunk; leftover bytes are kept. */
  private halted = false;

  constructor(
    private readonly sink: FrameSink,
    /** Longest frame accepted; the owner may change it (a client's limit grows once logged in). */
    public maxLength: number,
    startupMode = false,
  ) {
    this.startupMode = startupMode;
  }

  /** Stops delivering frames from the current feed; the unread bytes are kept for resume(). */
  halt(): void {
    this.halted = true;
  }

  /** Bytes received but not yet delivered (e.g. pipelined after the startup phase ended). */
  takeRemainder(): Buffer | null {
    const rest = this.pending;
    this.pending = null;
    return rest;
  }

  /** Feeds one chunk. Returns an error text when a frame is impossible; the caller closes. */
  feed(chunk: Buffer): string | null {
    let buf = chunk;
    if (this.pending !== null) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    this.halted = false;
    let pos = 0;
    while (!this.halted) {
      const avail = buf.length - pos;
      if (this.startupMode) {
        if (avail < 8) break;
        const length = buf.readInt32BE(pos);
        if (length < 8 || length > MAX_STARTUP_PACKET) return `invalid startup packet length ${length}`;
        if (avail < length) break;
        const code = startupCode(buf.readInt32BE(pos + 4));
        this.sink(code, buf, pos, pos + length);
        pos += length;
        continue;
      }
      if (avail < HEADER_LENGTH) break;
      const length = buf.readInt32BE(pos + 1);
      if (length < 4 || length > this.maxLength) {
        return `invalid length ${length} for message type 0x${buf[pos].toString(16)}`;
      }
      if (avail < length + 1) break;
      this.sink(buf[pos], buf, pos, pos + 1 + length);
      pos += 1 + length;
    }
    // A copy: the chunk may live in a read buffer that the next read overwrites (lib/server).
    if (pos < buf.length) this.pending = Buffer.from(buf.subarray(pos));
    return null;
  }
}

function startupCode(magic: number): number {
  switch (magic) {
    case StartupMagic.SSLRequest:
      return StartupCode.SSLRequest;
    case StartupMagic.GSSENCRequest:
      return StartupCode.GSSENCRequest;
    case StartupMagic.CancelRequest:
      return StartupCode.CancelRequest;
    default:
      return magic >>> 16 === 3 ? StartupCode.Startup : StartupCode.Unknown;
  }
}
