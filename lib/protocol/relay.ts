// Owns the forwarding path: splits a byte stream into frames by header only and hands runs of
// bytes on, so that what pgmux does not inspect is never copied or decoded.
//
// For each frame the handler decides, from the header alone, whether to forward it, drop it, or
// see it whole. Forwarded frames are written as whole runs (a slice of the chunk they arrived
// in); a frame bigger than the chunk streams through without being buffered, so memory per
// connection stays bounded whatever the result size. Only inspected frames (ReadyForQuery,
// ParameterStatus, Terminate, ...) are assembled when they straddle chunks, and those are small
// or bounded by max_packet_size.

import { HEADER_LENGTH } from './codes';
import type { FrameLimits } from './limits';

/** What to do with one frame. NOTIFY may be or-ed onto an inspected frame's answer. */
export const Action = {
  Forward: 0,
  Swallow: 1,
  /** Only from onHeader: call onFrame with the whole frame, which then decides. */
  Inspect: 2,
  /** Or-ed on by onFrame: flush what is forwarded so far, then call afterFrame(). */
  Notify: 4,
  /**
   * Or-ed on by onFrame with Swallow: also drop what this chunk would have forwarded before the
   * frame and has not yet (a server refusing a request at shutdown makes its first frames moot:
   * the request goes to another server, which answers it whole).
   */
  Discard: 8,
} as const;

export interface RelayHandler {
  /** Decide from the header alone; `length` is the declared length (counts itself). */
  onHeader(type: number, length: number): number;
  /** A whole inspected frame, buf[start] is its type byte. Returns Forward or Swallow, maybe | Notify. */
  onFrame(type: number, buf: Buffer, start: number, end: number): number;
  /** Called after a Notify frame has been flushed. Return true to stop reading this chunk. */
  afterFrame(): boolean;
  /** A run of bytes to forward, in order. */
  write(bytes: Buffer): void;
}

/** Why a stream was refused (the refused frame's type, and why); the relay stops for good after one. */
export type RelayError = { type: number; reason: string };

export class Relay {
  /**
   * A header split across chunks, made the first time one is: most connections never need it,
   * and a small pooled slice would keep a whole 8 KiB pool slab alive for the connection's life.
   */
  private header: Buffer | null = null;
  private headerFill = 0;
  /** Bytes of the current frame not seen yet. */
  private remaining = 0;
  /** Whether the rest of the current (non-inspected) frame is forwarded or dropped. */
  private bodySwallowed = false;
  /** An inspected frame being assembled across chunks. */
  private partial: Buffer | null = null;
  private partialFill = 0;
  private failed: RelayError | null = null;

  constructor(
    private readonly handler: RelayHandler,
    /** Which types are read and how long each may declare itself (lib/protocol/limits). */
    private readonly limits: FrameLimits,
  ) {}

  /** Back to a frame boundary with nothing held (a header check starting a new stretch). */
  reset(): void {
    this.headerFill = 0;
    this.remaining = 0;
    this.bodySwallowed = false;
    this.partial = null;
    this.partialFill = 0;
    this.failed = null;
  }

  /** True between frames: nothing of a started frame is outstanding. */
  atBoundary(): boolean {
    return this.remaining === 0 && this.headerFill === 0;
  }

  /** Feeds one chunk. Returns an error when a frame header is impossible; the caller closes. */
  feed(chunk: Buffer): RelayError | null {
    if (this.failed) return this.failed;
    const h = this.handler;
    const len = chunk.length;
    let pos = 0;
    let runStart = 0;

    while (pos < len) {
      if (this.remaining > 0) {
        const take = this.remaining < len - pos ? this.remaining : len - pos;
        if (this.partial !== null) {
          chunk.copy(this.partial, this.partialFill, pos, pos + take);
          this.partialFill += take;
          pos += take;
          this.remaining -= take;
          runStart = pos;
          if (this.remaining === 0 && this.completePartial()) return null;
          continue;
        }
        pos += take;
        this.remaining -= take;
        if (this.bodySwallowed) runStart = pos;
        continue;
      }

      // At a frame start, or in the middle of a header split across chunks.
      if (this.headerFill > 0 || len - pos < HEADER_LENGTH) {
        if (this.headerFill === 0 && pos > runStart) h.write(chunk.subarray(runStart, pos));
        const take = Math.min(HEADER_LENGTH - this.headerFill, len - pos);
        const header = (this.header ??= Buffer.alloc(HEADER_LENGTH));
        chunk.copy(header, this.headerFill, pos, pos + take);
        this.headerFill += take;
        pos += take;
        runStart = pos;
        if (this.headerFill < HEADER_LENGTH) {
          const early = this.limits.earlyRefusal(header, 0, this.headerFill);
          if (early !== null) return (this.failed = { type: header[0], reason: early });
          break;
        }
        this.headerFill = 0;
        const type = header[0];
        const length = header.readInt32BE(1);
        if (!this.validLength(type, length)) return this.failed;
        const action = h.onHeader(type, length);
        const bodyLength = length - 4;
        if (action === Action.Inspect) {
          this.partial = Buffer.allocUnsafe(length + 1);
          header.copy(this.partial, 0);
          this.partialFill = HEADER_LENGTH;
          this.remaining = bodyLength;
          if (bodyLength === 0 && this.completePartial()) return null;
          continue;
        }
        this.bodySwallowed = action === Action.Swallow;
        if (!this.bodySwallowed) h.write(Buffer.from(header));
        this.remaining = bodyLength;
        continue;
      }

      const type = chunk[pos];
      const length = chunk.readInt32BE(pos + 1);
      if (!this.validLength(type, length)) return this.failed;
      const end = pos + 1 + length;
      const action = h.onHeader(type, length);

      if (action === Action.Forward) {
        if (end <= len) pos = end;
        else {
          this.remaining = end - len;
          this.bodySwallowed = false;
          pos = len;
        }
        continue;
      }

      if (action === Action.Swallow) {
        if (pos > runStart) h.write(chunk.subarray(runStart, pos));
        if (end <= len) pos = end;
        else {
          this.remaining = end - len;
          this.bodySwallowed = true;
          pos = len;
        }
        runStart = pos;
        continue;
      }

      // Inspect.
      if (end > len) {
        if (pos > runStart) h.write(chunk.subarray(runStart, pos));
        this.partial = Buffer.allocUnsafe(length + 1);
        chunk.copy(this.partial, 0, pos, len);
        this.partialFill = len - pos;
        this.remaining = end - len;
        pos = len;
        runStart = len;
        continue;
      }
      const verdict = h.onFrame(type, chunk, pos, end);
      if ((verdict & Action.Discard) !== 0) runStart = end;
      else if ((verdict & Action.Swallow) !== 0) {
        if (pos > runStart) h.write(chunk.subarray(runStart, pos));
        runStart = end;
      }
      pos = end;
      if ((verdict & Action.Notify) !== 0) {
        if (pos > runStart) h.write(chunk.subarray(runStart, pos));
        runStart = pos;
        if (h.afterFrame()) return null;
      }
    }

    if (pos > runStart) h.write(chunk.subarray(runStart, pos));
    return null;
  }

  /** Hands an assembled inspected frame to the handler. Returns true to stop reading. */
  private completePartial(): boolean {
    const frame = this.partial as Buffer;
    this.partial = null;
    this.partialFill = 0;
    const verdict = this.handler.onFrame(frame[0], frame, 0, frame.length);
    if ((verdict & Action.Swallow) === 0) this.handler.write(frame);
    return (verdict & Action.Notify) !== 0 && this.handler.afterFrame();
  }

  /** Checked on the header alone: a refused frame is never waited for, buffered or forwarded. */
  private validLength(type: number, length: number): boolean {
    if (this.limits.accepts(type, length)) return true;
    this.failed = { type, reason: this.limits.refusal(type, length) };
    return false;
  }
}

/** Drops every frame unread: a relay over it only checks headers (SKIP_ALL below). */
const SKIP_ALL: RelayHandler = {
  onHeader: () => Action.Swallow,
  onFrame: () => Action.Swallow,
  afterFrame: () => false,
  write: () => undefined,
};

/**
 * A relay that forwards nothing and keeps nothing: fed a stream, it checks each header against
 * `limits` as the bytes come, however they are split, and says why the first bad one is refused.
 */
export function headerCheck(limits: FrameLimits): Relay {
  return new Relay(SKIP_ALL, limits);
}
