// Owns what pgmux keeps of a client's batch so it can run it again after a server answers
// 0A000 "cached plan must not change result type" (a table's columns changed under one of
// pgmux's shared statements): the frames as sent to the server from the batch's first named
// Bind or Describe on, bounded, and how to recognise that error. ./link decides when a re-run
// is safe and drives it.
//
// Frames are kept by reference, the client's own as views of the chunk they came in: a client
// socket hands each read over in a buffer of its own (no `onread` buffer reuse, unlike server
// sockets), and a frame assembled across chunks gets a buffer of its own (lib/protocol/relay), so
// nothing overwrites them while the batch is held. Holding a view keeps that chunk alive only
// until the batch's responses are in.

import { HEADER_LENGTH } from '../protocol/codes';

/** The most bytes of one batch kept for a re-run; a larger batch gets the error instead. */
export const HOLD_LIMIT = 64 * 1024;

/** One batch's frames as sent, each with the queue index of the request it stands for. */
export class HeldBatch {
  private readonly at: number[] = [];
  private readonly frames: Buffer[] = [];
  private size = 0;
  /** The batch's Sync was sent: a further request means a pipelined batch, which ends the hold. */
  synced = false;

  /** Keeps a frame; false when the batch grew past HOLD_LIMIT (the caller drops the hold). */
  keep(index: number, frame: Buffer): boolean {
    this.size += frame.length;
    if (this.size > HOLD_LIMIT) return false;
    this.at.push(index);
    this.frames.push(frame);
    return true;
  }

  /** Every request before the queue emptied has completed: what follows starts again at index 0. */
  drained(): void {
    // pop() stays inline for a batch's few frames; setting length is a runtime call (every batch).
    while (this.at.length > 0) {
      this.at.pop();
      this.frames.pop();
    }
  }

  /** Empty, for a new batch. */
  reset(): void {
    this.drained();
    this.size = 0;
    this.synced = false;
  }

  /** The frame of the request at `index`, or null when none was kept for it. */
  frameAt(index: number): Buffer | null {
    const i = this.at.indexOf(index);
    return i < 0 ? null : this.frames[i];
  }

  /** The frames from the request at `index` on, or null when that request's frame was not kept. */
  from(index: number): Buffer[] | null {
    const i = this.at.indexOf(index);
    return i < 0 ? null : this.frames.slice(i);
  }
}

/**
 * Whether a server ErrorResponse is PostgreSQL's "cached plan must not change result type":
 * SQLSTATE 0A000 raised in RevalidateCachedQuery (the routine field does not depend on
 * lc_messages; an error without one is taken by its SQLSTATE alone).
 */
export function isStalePlan(buf: Buffer, start: number, end: number): boolean {
  let code = false;
  let routine: boolean | null = null;
  let i = start + HEADER_LENGTH;
  while (i < end && buf[i] !== 0) {
    const nul = buf.indexOf(0, i + 1);
    if (nul < 0 || nul >= end) return false;
    if (buf[i] === 0x43) code = nul - i === 6 && buf.toString('latin1', i + 1, nul) === '0A000'; // 'C'
    else if (buf[i] === 0x52) routine = buf.toString('latin1', i + 1, nul) === 'RevalidateCachedQuery'; // 'R'
    i = nul + 1;
  }
  return code && routine !== false;
}

/** The portal a Bind frame names (its first field). */
export function bindPortal(frame: Buffer): string {
  return cstring(frame, HEADER_LENGTH);
}

/** The portal a Describe 'P' frame names, or null for a Describe of a statement. */
export function describedPortal(frame: Buffer): string | null {
  return frame[HEADER_LENGTH] === 0x50 ? cstring(frame, HEADER_LENGTH + 1) : null;
}

function cstring(frame: Buffer, at: number): string {
  const nul = frame.indexOf(0, at);
  return frame.toString('utf8', at, nul < 0 ? frame.length : nul);
}
