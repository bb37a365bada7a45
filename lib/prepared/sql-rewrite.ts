// Owns the client's view of a rewritten Query's responses (SqlRewrite): swallowing the
// CommandCompletes of what pgmux put first, replacing a stand-in's tag or error, undoing cache
// and name effects on failure, and mapping error positions and statement names back.
//
// ./sql-planner builds one per Query (or per Bind/Describe sent to the failing stand-in).

import { BackendCode, HEADER_LENGTH } from '../protocol/codes';
import { Action } from '../protocol/relay';
import type { SqlCommand } from './sql-lexer';
import type { ServerStatementCache, Statement } from './statements';

/**
 * One statement of a rewritten Query as the server runs it: what it changes in the server's
 * cache and in the client's names when it completes (undone when it does not), and how its
 * answer reaches the client.
 */
export interface Part {
  readonly evicted: Statement | null;
  readonly prepared: Statement | null;
  /** Deallocates the server's stale copy of this statement. */
  readonly stale?: Statement;
  /** A statement of the client's: its CommandComplete reaches the client. Else pgmux's, swallowed. */
  readonly own?: boolean;
  /** Replaces its CommandComplete (the server ran a stand-in for the client's statement). */
  readonly tag?: Buffer;
  /** Replaces the failing stand-in's 26000: the error PostgreSQL gives for the client's statement. */
  readonly error?: Buffer;
  /** Client names it added (removed again if it does not complete) and dropped (put back). */
  readonly added?: ReadonlyMap<string, Statement>;
  readonly dropped?: ReadonlyMap<string, Statement>;
  /** The statement whose server-side name its errors show, and the client's name for it. */
  readonly rename?: Statement;
  readonly clientName?: string;
}

/** A lone EXECUTE of a statement the server held: what to plan again if its plan went stale. */
export interface ExecuteAgain {
  readonly sql: string;
  readonly cmd: SqlCommand;
  readonly stmt: Statement;
}

/**
 * How to treat the responses to one rewritten request: swallow the CommandCompletes of what
 * pgmux put in, replace a stand-in's tag or error, and undo what did not complete. Also used
 * for a protocol-level Bind or Describe sent to the failing stand-in, and for the Parse and
 * Execute of a SQL DEALLOCATE sent through the extended protocol (./sql-extended).
 */
export class SqlRewrite {
  /** CommandCompletes seen so far: statements of the Query that completed. */
  private seen = 0;
  private undone = false;

  constructor(
    /** Per statement of the server's Query, in order. */
    private readonly parts: readonly Part[],
    /** Where the client's own text is in the server's Query, for error positions. */
    private readonly shift: PositionShift | null,
    /** A lone EXECUTE with nothing prepared ahead of it. */
    private readonly again: ExecuteAgain | null = null,
  ) {}

  /** The EXECUTE to plan again after a stale plan, while nothing of it has completed; else null. */
  rerunnable(): ExecuteAgain | null {
    return this.seen === 0 ? this.again : null;
  }

  /** A CommandComplete: Action.Swallow, Action.Forward, or the bytes to send instead. */
  commandComplete(): number | Buffer {
    const part = this.parts[this.seen++] as Part | undefined;
    if (part === undefined) return Action.Forward;
    if (part.own !== true) return Action.Swallow;
    return part.tag ?? Action.Forward;
  }

  /**
   * The request failed: what did not complete is undone. Returns the error to send instead
   * (PostgreSQL's for the client's statement, or the server's with its position moved onto
   * the client's text and pgmux's names replaced by the client's), or null to forward it.
   */
  failed(buf: Buffer, start: number, end: number, cache: ServerStatementCache, names: Map<string, Statement>): Buffer | null {
    // The statement that failed: the first that did not complete (a syntax error fails them all).
    const part = this.parts[Math.min(this.seen, this.parts.length - 1)];
    this.undo(cache, names);
    if (part.error !== undefined) return errorField(buf, start, end, 0x43) === '26000' ? part.error : null;
    const position = this.shift === null ? null : errorField(buf, start, end, 0x50);
    const moved = position === null || this.shift === null ? undefined : this.shift.map(Number(position));
    return patchError(buf, start, end, moved, part.rename ?? null, part.clientName ?? '');
  }

  /**
   * What did not complete is undone: the request failed, or the server skipped it after an
   * earlier error. Once only (a rewrite may ride on a Parse and on the Execute of its portal).
   */
  undo(cache: ServerStatementCache, names: Map<string, Statement>): void {
    if (this.undone) return;
    this.undone = true;
    // Latest first, so that a name a later statement dropped and an earlier one added ends as before both.
    for (let i = this.parts.length - 1; i >= this.seen; i--) {
      const part = this.parts[i];
      if (part.prepared !== null) cache.remove(part.prepared);
      if (part.evicted !== null) cache.restore(part.evicted);
      if (part.stale !== undefined) cache.restoreStale(part.stale);
      if (part.added !== undefined) for (const [name, stmt] of part.added) if (names.get(name) === stmt) names.delete(name);
      if (part.dropped !== undefined) for (const [name, stmt] of part.dropped) if (!names.has(name)) names.set(name, stmt);
    }
    this.seen = this.parts.length;
  }
}

/** A stretch of the server's Query copied from the client's text: code-unit indexes into each. */
export interface ShiftPiece {
  readonly serverFrom: number;
  readonly serverTo: number;
  readonly clientFrom: number;
}

/** Maps an error position in the server's Query onto the client's text (1-based, in characters). */
export class PositionShift {
  constructor(
    private readonly server: string,
    private readonly client: string,
    /** In order; the server's text outside them is pgmux's own. */
    readonly pieces: readonly ShiftPiece[],
  ) {}

  /** The client's position, or null where the server's text is pgmux's own (the field is dropped). */
  map(p: number): string | null {
    // "at end of input" points just past the text.
    if (p === codePoints(this.server, 0, this.server.length) + 1) return String(codePoints(this.client, 0, this.client.length) + 1);
    for (const piece of this.pieces) {
      const from = codePoints(this.server, 0, piece.serverFrom);
      const to = from + codePoints(this.server, piece.serverFrom, piece.serverTo);
      if (p > from && p <= to) return String(p - from + codePoints(this.client, 0, piece.clientFrom));
    }
    return null;
  }
}

function codePoints(s: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xdc00 || c > 0xdfff) n++; // a low surrogate belongs to the character before it
  }
  return n;
}

// ---- ErrorResponse fields, read and patched in place ----

/** One field of an ErrorResponse frame by its code letter, or null. */
function errorField(buf: Buffer, start: number, end: number, code: number): string | null {
  let i = start + HEADER_LENGTH;
  while (i < end && buf[i] !== 0) {
    const nul = buf.indexOf(0, i + 1);
    if (nul < 0 || nul >= end) return null;
    if (buf[i] === code) return buf.toString('utf8', i + 1, nul);
    i = nul + 1;
  }
  return null;
}

/**
 * A server error about a statement pgmux renamed, as the client should see it: its 'P' field
 * set to `position` (undefined: as it is, null: removed), and the server-side name in the
 * message and detail replaced by the client's (`prepared statement "pgmux_3"`). Null when
 * nothing changes.
 */
export function patchError(buf: Buffer, start: number, end: number, position: string | null | undefined, stmt: Statement | null, clientName: string): Buffer | null {
  const quoted = stmt === null ? null : `"${stmt.serverName}"`;
  const parts: Buffer[] = [Buffer.from([BackendCode.ErrorResponse, 0, 0, 0, 0])];
  let changed = false;
  let i = start + HEADER_LENGTH;
  while (i < end && buf[i] !== 0) {
    const nul = buf.indexOf(0, i + 1);
    if (nul < 0 || nul >= end) return null;
    const code = buf[i];
    if (code === 0x50 && position !== undefined) {
      if (position !== null) parts.push(Buffer.from(`P${position}\0`, 'utf8'));
      changed = true;
    } else if (quoted !== null && (code === 0x4d || code === 0x44) && buf.toString('utf8', i + 1, nul).includes(quoted)) {
      const text = buf.toString('utf8', i + 1, nul).split(quoted).join(`"${clientName}"`);
      parts.push(Buffer.from(String.fromCharCode(code) + text + '\0', 'utf8'));
      changed = true;
    } else parts.push(buf.subarray(i, nul + 1));
    i = nul + 1;
  }
  if (!changed) return null;
  parts.push(Buffer.from([0]));
  const out = Buffer.concat(parts);
  out.writeInt32BE(out.length - 1, 1);
  return out;
}
