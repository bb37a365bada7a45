// Owns the client's view of a rewritten Query's responses (SqlRewrite): swallowing the
// CommandCompletes of what pgmux put first, replacing a stand-in's tag or error, undoing cache
// and name effects on failure, and mapping error positions and statement names back.
//
// ./sql-planner builds one per Query (or per Bind/Describe sent to the failing stand-in).

import { BackendCode, HEADER_LENGTH } from '../protocol/codes';
import { Action } from '../protocol/relay';
import type { SqlCommand } from './sql-lexer';
import type { ServerStatementCache, Statement } from './statements';

/** What one statement of a rewritten Query changes in the server's cache when it completes. */
export interface Part {
  readonly evicted: Statement | null;
  readonly prepared: Statement | null;
  /** Deallocates the server's stale copy of this statement. */
  readonly stale?: Statement;
}

/** A lone EXECUTE of a statement the server held: what to plan again if its plan went stale. */
export interface ExecuteAgain {
  readonly sql: string;
  readonly cmd: SqlCommand;
  readonly stmt: Statement;
}

/**
 * How to treat the responses to one rewritten request: swallow the CommandCompletes of what
 * pgmux put first, replace a stand-in's tag or error, and undo on failure. Also used for a
 * protocol-level Bind or Describe sent to the failing stand-in (only `error` then).
 */
export class SqlRewrite {
  /** CommandCompletes seen so far: statements of the Query that completed. */
  private seen = 0;
  private undone = false;

  constructor(
    /** Per statement of the server's Query, in order; the last is the client's own. */
    private readonly parts: readonly Part[],
    /** Replaces the client statement's CommandComplete (the server ran a stand-in). */
    private readonly tag: Buffer | null,
    /** Replaces the stand-in's 26000: the error PostgreSQL gives for the client's statement. */
    private readonly error: Buffer | null,
    /** Client names this Query added (removed again if it fails). */
    private readonly added: Map<string, Statement> | null,
    /** Client names this Query dropped (put back if it fails). */
    private readonly dropped: Map<string, Statement> | null,
    /** Where the client's own text continues in the server's Query, for error positions. */
    private readonly shift: PositionShift | null,
    /** The statement's server-side name, and the client's name for it in errors (EXECUTE). */
    private readonly rename: Statement | null = null,
    private readonly clientName = '',
    /** A lone EXECUTE with nothing prepared ahead of it. */
    private readonly again: ExecuteAgain | null = null,
  ) {}

  /** The EXECUTE to plan again after a stale plan, while nothing of it has completed; else null. */
  rerunnable(): ExecuteAgain | null {
    return this.seen === 0 ? this.again : null;
  }

  /** A CommandComplete: Action.Swallow, Action.Forward, or the bytes to send instead. */
  commandComplete(): number | Buffer {
    const i = this.seen++;
    if (i < this.parts.length - 1) return Action.Swallow;
    return i === this.parts.length - 1 && this.tag !== null ? this.tag : Action.Forward;
  }

  /**
   * The request failed: what did not complete is undone. Returns the error to send instead
   * (PostgreSQL's for the client's statement, or the server's with its position moved onto
   * the client's text), or null to forward the server's as it is.
   */
  failed(buf: Buffer, start: number, end: number, cache: ServerStatementCache, names: Map<string, Statement>): Buffer | null {
    this.undo(cache, names);
    if (this.error !== null) return errorField(buf, start, end, 0x43) === '26000' ? this.error : null;
    const position = this.shift === null ? null : errorField(buf, start, end, 0x50);
    const moved = position === null || this.shift === null ? undefined : this.shift.map(Number(position));
    return patchError(buf, start, end, moved, this.rename, this.clientName);
  }

  /**
   * What did not complete is undone: the request failed, or the server skipped it after an
   * earlier error. Once only (a rewrite may ride on a Parse and on the Execute of its portal).
   */
  undo(cache: ServerStatementCache, names: Map<string, Statement>): void {
    if (this.undone) return;
    this.undone = true;
    for (let i = this.seen; i < this.parts.length; i++) {
      const part = this.parts[i];
      if (part.prepared !== null) cache.remove(part.prepared);
      if (part.evicted !== null) cache.restore(part.evicted);
      if (part.stale !== undefined) cache.restoreStale(part.stale);
    }
    this.seen = this.parts.length;
    if (this.added !== null) for (const [name, stmt] of this.added) if (names.get(name) === stmt) names.delete(name);
    if (this.dropped !== null) for (const [name, stmt] of this.dropped) if (!names.has(name)) names.set(name, stmt);
  }
}

/** Maps an error position in the server's Query onto the client's text (1-based, in characters). */
export class PositionShift {
  constructor(
    private readonly server: string,
    private readonly serverFrom: number,
    private readonly serverTo: number,
    private readonly client: string,
    private readonly clientFrom: number,
  ) {}

  /** The client's position, or null where the server's text is pgmux's own (the field is dropped). */
  map(p: number): string | null {
    const from = codePoints(this.server, 0, this.serverFrom);
    const to = from + codePoints(this.server, this.serverFrom, this.serverTo);
    // "at end of input" points just past the text.
    if (p === codePoints(this.server, 0, this.server.length) + 1) return String(codePoints(this.client, 0, this.client.length) + 1);
    if (!(p > from && p <= to)) return null;
    return String(p - from + codePoints(this.client, 0, this.clientFrom));
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
