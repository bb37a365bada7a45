// Owns whole-frame splitting for the phases where every frame is read: a client's startup and
// authentication, the admin console, and pgmux's own logins to servers. The forwarding path uses
// relay.ts instead.
//
// feed(chunk) calls the sink once per complete frame with (type, buf, start, end), the frame
// whole (header included). Frames inside one chunk are passed as views of it; a frame that
// straddles chunks is assembled once, into a buffer of its declared size. Every header is
// checked against the FrameLimits before its body is waited for. In startup mode the first
// packets have no type byte: they are mapped to StartupCode values above 0xFF so one switch
// serves both phases, and bytes that cannot begin a startup packet are handed over as
// StartupCode.Invalid the moment they are in, whatever the declared length promised.

import { HEADER_LENGTH, StartupCode, StartupMagic } from './codes';
import type { FrameLimits } from './limits';
import { startupPrefixValid } from './frontend/startup-prefix';

/** Frames longer than this that straddle chunks get a buffer of their own (below: concatenation). */
const BIG_FRAME = 65536;

export type FrameSink = (type: number, buf: Buffer, start: number, end: number) => void;

/** A header the limits refuse: the caller closes with `reason`. */
export interface FrameFault {
  readonly type: number;
  readonly length: number;
  readonly reason: string;
}

export class Framer {
  /** Bytes of an incomplete header or frame start (small), or null. */
  private pending: Buffer | null = null;
  /** A frame longer than what has arrived, filled as its bytes come: allocated once. */
  private big: Buffer | null = null;
  private bigFill = 0;
  /** Untyped packets (startup phase) until the owner switches this off. */
  startupMode: boolean;
  /** Set by the sink to stop delivering the rest of the current chunk; leftover bytes are kept. */
  private halted = false;

  constructor(
    private readonly sink: FrameSink,
    /** Which types are read and how long each may be; the owner may change it (a client's login ends). */
    public limits: FrameLimits,
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
    let rest = this.pending;
    if (this.big !== null) {
      rest = this.big.subarray(0, this.bigFill);
      this.big = null;
      this.bigFill = 0;
    }
    this.pending = null;
    return rest;
  }

  /** Feeds one chunk. Returns a fault when a header is refused; the caller closes. */
  feed(chunk: Buffer): FrameFault | null {
    this.halted = false;
    let buf = chunk;
    if (this.big !== null) {
      const big = this.big;
      const take = Math.min(big.length - this.bigFill, chunk.length);
      chunk.copy(big, this.bigFill, 0, take);
      this.bigFill += take;
      if (this.bigFill < big.length) return null;
      this.big = null;
      this.bigFill = 0;
      this.sink(big[0], big, 0, big.length);
      if (take === chunk.length) return null;
      buf = chunk.subarray(take);
      if (this.halted) {
        this.pending = Buffer.from(buf);
        return null;
      }
    } else if (this.pending !== null) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    let pos = 0;
    while (!this.halted && pos < buf.length) {
      const avail = buf.length - pos;
      let length: number;
      let frameLength: number;
      if (this.startupMode) {
        if (!startupPrefixValid(buf, pos, avail)) {
          // Nothing that follows can make these bytes a startup packet: decide now.
          this.sink(StartupCode.Invalid, buf, pos, buf.length);
          return null;
        }
        if (avail < 8) break;
        length = buf.readInt32BE(pos);
        frameLength = length;
      } else {
        if (avail < HEADER_LENGTH) {
          const early = this.limits.earlyRefusal(buf, pos, avail);
          if (early !== null) return { type: buf[pos], length: -1, reason: early };
          break;
        }
        const type = buf[pos];
        length = buf.readInt32BE(pos + 1);
        if (!this.limits.accepts(type, length)) return { type, length, reason: this.limits.refusal(type, length) };
        frameLength = length + 1;
      }
      if (avail < frameLength) {
        // A big frame is assembled once in a buffer of its size, not re-concatenated per chunk.
        // (Startup packets are never that big: what follows an SSLRequest stays visible.)
        if (frameLength > BIG_FRAME) {
          this.big = Buffer.allocUnsafe(frameLength);
          buf.copy(this.big, 0, pos);
          this.bigFill = avail;
          return null;
        }
        break;
      }
      const type = this.startupMode ? startupCode(buf.readInt32BE(pos + 4)) : buf[pos];
      this.sink(type, buf, pos, pos + frameLength);
      pos += frameLength;
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
      return StartupCode.Startup;
  }
}
