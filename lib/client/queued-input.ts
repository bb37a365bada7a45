// Owns what a client sends while no server is linked: the chunks in order (handed over once, at
// link), how many bytes they hold against pkt_buf, and the check of their headers as they come,
// so that garbage sent while waiting is refused at once rather than when a server frees up.

import { headerCheck, type Relay, type RelayError } from '../protocol/relay';
import type { FrameLimits } from '../protocol/limits';

const NOTHING: readonly Buffer[] = [];

export class QueuedInput {
  private chunks: Buffer[] | null = null;
  private bytes = 0;
  /** Made the first time the client waits; a stretch of waiting starts at a frame boundary. */
  private check: Relay | null = null;

  /** The first chunk of a request (the client was idle: no frame is half sent). */
  begin(chunk: Buffer): void {
    this.chunks = [chunk];
    this.bytes = chunk.length;
    this.check?.reset();
  }

  add(chunk: Buffer): void {
    (this.chunks ??= []).push(chunk);
    this.bytes += chunk.length;
  }

  /** The chunks so far, for routing to look at (not handed over). */
  get all(): readonly Buffer[] {
    return this.chunks ?? NOTHING;
  }

  /**
   * A queued client stops being read once it has sent pkt_buf bytes (PgBouncer's packet buffer):
   * the usual request is one small chunk, and a client that keeps sending is held to that bound.
   */
  full(pktBuf: number): boolean {
    return this.bytes >= pktBuf;
  }

  /** Between messages: no frame of the checked bytes is half sent (true when none were checked). */
  atBoundary(): boolean {
    return this.check === null || this.check.atBoundary();
  }

  /** Checks the headers in `chunk` (the next bytes of the stretch); why one is refused, or null. */
  checkHeaders(chunk: Buffer, limits: FrameLimits): RelayError | null {
    return (this.check ??= headerCheck(limits)).feed(chunk);
  }

  /**
   * A request that went to a server and comes back unanswered, to be sent again (lib/client/resend):
   * its chunks were checked when they first came.
   */
  restore(chunks: Buffer[], bytes: number): void {
    this.chunks = chunks;
    this.bytes = bytes;
  }

  /** The chunks that waited for a server, handed over once (empty again after). */
  take(): readonly Buffer[] {
    const queued = this.chunks ?? NOTHING;
    this.chunks = null;
    this.bytes = 0;
    return queued;
  }
}
