// Owns SQL-level prepared statements in transaction mode: recognising `PREPARE name [(types)] AS
// stmt`, `EXECUTE name [(args)]` and `DEALLOCATE [PREPARE] name | ALL` as the only statement of
// a simple Query, and planning the Query a server runs instead, on the same registry and server
// caches as protocol-level statements (PgBouncer forwards them raw, and they break).
//
// Client names never reach a server, and the server always runs something and answers the
// Query itself: its ReadyForQuery carries the true transaction status, and in an aborted
// transaction it refuses with 25P02 just as it would have refused the client's statement.
//
//   client sends                        server runs                          client sees
//   PREPARE foo .. (server lacks it)    PREPARE pgmux_N .. AS body           its CommandComplete
//   PREPARE foo .. (server has it)      UNLISTEN pgmux__none (a no-op)       tag made PREPARE
//   EXECUTE foo(..) (server has it)     EXECUTE pgmux_N(..)                  its results
//   EXECUTE foo(..) (server lacks it)   PREPARE pgmux_N .. ; EXECUTE ..      first tag swallowed
//   DEALLOCATE foo | ALL                UNLISTEN pgmux__none                 tag made DEALLOCATE [ALL]
//   PREPARE foo .. (foo is taken)       PREPARE pgmux_N .. AS body (fails)   42P05 naming foo
//   unknown name, a form pgmux cannot   DEALLOCATE pgmux__none (fails)       its 26000 replaced by
//     handle                                                                 the error for the client's
//
// DEALLOCATE drops the client's names only; the server keeps its statements for other clients.
// An eviction the server's cache needs goes first, as `DEALLOCATE pgmux_M;` (tag swallowed), and
// so does the server's stale copy of the statement itself (its plan's result type changed).
// Effects are applied when the Query is sent (so pipelined queries see them) and undone for
// the statements a failing Query did not complete.

import { BackendCode, HEADER_LENGTH } from '../protocol/codes';
import { commandComplete, errorResponse } from '../protocol/backend';
import { Action } from '../protocol/relay';
import type { ServerStatementCache, Statement, StatementRegistry } from './statements';

/** A recognised statement. Indexes are into the Query's text. */
export type SqlCommand =
  | { readonly kind: 'prepare'; readonly name: string; readonly types: string | null; readonly body: string; readonly bodyStart: number }
  | { readonly kind: 'execute'; readonly name: string; readonly nameEnd: number }
  | { readonly kind: 'deallocate'; readonly name: string | null }
  | { readonly kind: 'unsupported'; readonly reason: string };

// ---- the first keyword, on the frame's bytes (every Query pays this) ----

const KEYWORDS = ['prepare', 'execute', 'deallocate'].map((w) => Buffer.from(w, 'latin1'));

/**
 * Whether a Query frame may start with PREPARE, EXECUTE or DEALLOCATE: a byte check, no
 * decoding. A leading comment also says yes (the lexer looks past it).
 */
export function mayBeSqlPrepared(buf: Buffer, start: number, end: number): boolean {
  let i = start + HEADER_LENGTH;
  const stop = end - 1; // the NUL
  while (i < stop && (buf[i] === 0x20 || (buf[i] >= 0x09 && buf[i] <= 0x0d))) i++;
  if (i >= stop) return false;
  const c = buf[i];
  if (c === 0x2d || c === 0x2f) return true; // '-' or '/': maybe a comment
  for (const word of KEYWORDS) {
    if ((c | 0x20) !== word[0]) continue;
    const n = word.length;
    if (i + n > stop) return false;
    for (let k = 1; k < n; k++) if ((buf[i + k] | 0x20) !== word[k]) return false;
    return i + n === stop || !isIdentByte(buf[i + n]);
  }
  return false;
}

function isIdentByte(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x24 || c >= 0x80;
}

// ---- the lexer ----

const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);
const isIdentStart = (c: number): boolean => (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f || c >= 0x80;
const isIdentCont = (c: number): boolean => isIdentStart(c) || (c >= 0x30 && c <= 0x39) || c === 0x24;

/** Past whitespace and comments (`--` to the end of the line, nested `/* *\/`); -1 if a comment is unterminated. */
function skipFill(s: string, i: number): number {
  for (;;) {
    while (i < s.length && isSpace(s.charCodeAt(i))) i++;
    if (s.startsWith('--', i)) {
      const nl = s.indexOf('\n', i);
      if (nl < 0) return s.length;
      i = nl + 1;
    } else if (s.startsWith('/*', i)) {
      let depth = 1;
      i += 2;
      while (depth > 0) {
        if (i >= s.length) return -1;
        if (s.startsWith('/*', i)) {
          depth++;
          i += 2;
        } else if (s.startsWith('*/', i)) {
          depth--;
          i += 2;
        } else i++;
      }
    } else return i;
  }
}

/** Past one token at s[i] (string, quoted identifier, dollar quote, word, comment, or one character); -1 if unterminated. */
function skipToken(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c === 0x27) return skipQuoted(s, i, 0x27, false); // '
  if (c === 0x22) return skipQuoted(s, i, 0x22, false); // "
  if ((c === 0x2d && s.charCodeAt(i + 1) === 0x2d) || (c === 0x2f && s.charCodeAt(i + 1) === 0x2a)) return skipFill(s, i);
  if (c === 0x24) {
    // $1 is a parameter; $tag$ or $$ opens a dollar quote.
    let j = i + 1;
    if (j < s.length && isIdentStart(s.charCodeAt(j))) while (j < s.length && isIdentCont(s.charCodeAt(j)) && s.charCodeAt(j) !== 0x24) j++;
    if (s.charCodeAt(j) !== 0x24) return i + 1;
    const tag = s.slice(i, j + 1);
    const close = s.indexOf(tag, j + 1);
    return close < 0 ? -1 : close + tag.length;
  }
  if (isIdentStart(c)) {
    let j = i + 1;
    while (j < s.length && isIdentCont(s.charCodeAt(j))) j++;
    // E'...' is a string with backslash escapes.
    if (j === i + 1 && (c | 0x20) === 0x65 && s.charCodeAt(j) === 0x27) return skipQuoted(s, j, 0x27, true);
    return j;
  }
  return i + 1;
}

function skipQuoted(s: string, i: number, quote: number, backslash: boolean): number {
  let j = i + 1;
  for (;;) {
    if (j >= s.length) return -1;
    const c = s.charCodeAt(j);
    if (backslash && c === 0x5c) j += 2;
    else if (c !== quote) j++;
    else if (s.charCodeAt(j + 1) === quote) j += 2;
    else return j + 1;
  }
}

/** Index of the `;` ending the statement that starts at i (or the text's end); -1 if a token is unterminated. */
function statementEnd(s: string, i: number): number {
  while (i >= 0 && i < s.length && s.charCodeAt(i) !== 0x3b) i = skipToken(s, i);
  return i;
}

/** True when nothing but fill and semicolons follows i: the statement is alone in its Query. */
function aloneAfter(s: string, i: number): boolean {
  for (;;) {
    const j = skipFill(s, i);
    if (j < 0 || j >= s.length) return true;
    if (s.charCodeAt(j) !== 0x3b) return false;
    i = j + 1;
  }
}

/** Index of the `)` matching the `(` at i; -1 if none. */
function matchParen(s: string, i: number): number {
  let depth = 0;
  while (i >= 0 && i < s.length) {
    const c = s.charCodeAt(i);
    if (c === 0x28) depth++;
    else if (c === 0x29 && --depth === 0) return i;
    i = skipToken(s, i);
  }
  return -1;
}

/** An unquoted word at i, lowercased (ASCII only, as PostgreSQL does), or null. */
function wordAt(s: string, i: number): { word: string; end: number } | null {
  if (i < 0 || i >= s.length || !isIdentStart(s.charCodeAt(i))) return null;
  let j = i + 1;
  while (j < s.length && isIdentCont(s.charCodeAt(j))) j++;
  return { word: s.slice(i, j).replace(/[A-Z]+/g, (m) => m.toLowerCase()), end: j };
}

/** A statement name: an identifier as PostgreSQL reads it (downcased or "quoted", cut to 63 bytes). */
function nameAt(s: string, i: number): { name: string; quoted: boolean; end: number } | 'unicode' | null {
  if (i < 0 || i >= s.length) return null;
  const c = s.charCodeAt(i);
  if ((c | 0x20) === 0x75 && s.charCodeAt(i + 1) === 0x26 && s.charCodeAt(i + 2) === 0x22) return 'unicode'; // U&"..."
  if (c === 0x22) {
    const end = skipQuoted(s, i, 0x22, false);
    if (end < 0 || end === i + 2) return null; // unterminated, or "" (a syntax error either way)
    return { name: truncateName(s.slice(i + 1, end - 1).replace(/""/g, '"')), quoted: true, end };
  }
  const w = wordAt(s, i);
  return w === null ? null : { name: truncateName(w.word), quoted: false, end: w.end };
}

/** NAMEDATALEN - 1 bytes, cut on a character boundary. */
function truncateName(name: string): string {
  if (Buffer.byteLength(name) <= 63) return name;
  let out = '';
  for (const ch of name) {
    if (Buffer.byteLength(out + ch) > 63) break;
    out += ch;
  }
  return out;
}

const ALONE = 'PREPARE, EXECUTE and DEALLOCATE must be the only statement of a query under transaction pooling';
const UNICODE = 'U&"..." prepared statement names are not supported under transaction pooling';

/**
 * Recognises PREPARE / EXECUTE / DEALLOCATE alone in a query. Null means "not one of ours, or a
 * syntax error the server will report": the Query goes to the server as it is, which creates
 * nothing (PREPARE TRANSACTION lands here too).
 */
export function lexSql(s: string): SqlCommand | null {
  const first = wordAt(s, skipFill(s, 0));
  if (first === null) return null;
  switch (first.word) {
    case 'prepare':
      return lexPrepare(s, skipFill(s, first.end));
    case 'execute':
      return lexExecute(s, skipFill(s, first.end));
    case 'deallocate':
      return lexDeallocate(s, skipFill(s, first.end));
    default:
      return null;
  }
}

function lexPrepare(s: string, i: number): SqlCommand | null {
  const id = nameAt(s, i);
  if (id === 'unicode') return { kind: 'unsupported', reason: UNICODE };
  if (id === null) return null;
  let j = skipFill(s, id.end);
  let types: string | null = null;
  if (s.charCodeAt(j) === 0x28) {
    const close = matchParen(s, j);
    if (close < 0) return null;
    types = s.slice(j + 1, close).trim();
    if (types === '') return null;
    j = skipFill(s, close + 1);
  }
  const as = wordAt(s, j);
  if (as === null || as.word !== 'as') return null; // PREPARE TRANSACTION 'x', or a syntax error
  const bodyStart = skipFill(s, as.end);
  const end = statementEnd(s, bodyStart);
  if (bodyStart < 0 || end < 0) return null;
  if (!aloneAfter(s, end + 1)) return { kind: 'unsupported', reason: ALONE };
  const body = s.slice(bodyStart, end).trimEnd();
  if (body === '') return null;
  return { kind: 'prepare', name: id.name, types, body, bodyStart };
}

function lexExecute(s: string, i: number): SqlCommand | null {
  const id = nameAt(s, i);
  if (id === 'unicode') return { kind: 'unsupported', reason: UNICODE };
  if (id === null) return null;
  const end = statementEnd(s, id.end);
  if (end < 0) return null;
  if (!aloneAfter(s, end + 1)) return { kind: 'unsupported', reason: ALONE };
  return { kind: 'execute', name: id.name, nameEnd: id.end };
}

function lexDeallocate(s: string, i: number): SqlCommand | null {
  let id = nameAt(s, i);
  if (id === 'unicode') return { kind: 'unsupported', reason: UNICODE };
  if (id === null) return null;
  // DEALLOCATE PREPARE x; but a lone `DEALLOCATE prepare` names a statement "prepare".
  if (!id.quoted && id.name === 'prepare') {
    const next = skipFill(s, id.end);
    if (next >= 0 && next < s.length && s.charCodeAt(next) !== 0x3b) {
      id = nameAt(s, next);
      if (id === 'unicode') return { kind: 'unsupported', reason: UNICODE };
      if (id === null) return null;
    }
  }
  const end = skipFill(s, id.end);
  if (end < 0 || (end < s.length && s.charCodeAt(end) !== 0x3b)) return null;
  if (!aloneAfter(s, end + 1)) return { kind: 'unsupported', reason: ALONE };
  return { kind: 'deallocate', name: !id.quoted && id.name === 'all' ? null : id.name };
}

// ---- planning ----

/** What one statement of a rewritten Query changes in the server's cache when it completes. */
interface Part {
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

const NOTHING: Part = { evicted: null, prepared: null };
/** Succeeds with one CommandComplete and no other effect; fails with 25P02 in an aborted transaction. */
const NO_OP = 'UNLISTEN pgmux__none';
/** Fails with 26000 (no server has that name: pgmux's own names have no "__"). */
const FAILS = 'DEALLOCATE pgmux__none';

/**
 * How to treat the responses to one rewritten request: swallow the CommandCompletes of what
 * pgmux put first, replace a stand-in's tag or error, and undo on failure. Also used for a
 * protocol-level Bind or Describe sent to the failing stand-in (only `error` then).
 */
export class SqlRewrite {
  /** CommandCompletes seen so far: statements of the Query that completed. */
  private seen = 0;

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
    for (let i = this.seen; i < this.parts.length; i++) {
      const part = this.parts[i];
      if (part.prepared !== null) cache.remove(part.prepared);
      if (part.evicted !== null) cache.restore(part.evicted);
      if (part.stale !== undefined) cache.restoreStale(part.stale);
    }
    this.seen = this.parts.length;
    if (this.added !== null) for (const [name, stmt] of this.added) if (names.get(name) === stmt) names.delete(name);
    if (this.dropped !== null) for (const [name, stmt] of this.dropped) if (!names.has(name)) names.set(name, stmt);
    if (this.error !== null) return errorField(buf, start, end, 0x43) === '26000' ? this.error : null;
    const position = this.shift === null ? null : errorField(buf, start, end, 0x50);
    const moved = position === null || this.shift === null ? undefined : this.shift.map(Number(position));
    return patchError(buf, start, end, moved, this.rename, this.clientName);
  }
}

/** Maps an error position in the server's Query onto the client's text (1-based, in characters). */
class PositionShift {
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

export interface SqlPlan {
  /** The Query text the server runs. */
  readonly text: string;
  readonly rewrite: SqlRewrite;
  /** The server lacked a statement the client executes: pgmux prepares it first. */
  readonly injected: boolean;
}

/**
 * Plans the server's Query for a recognised statement, and applies its effects on the client's
 * names and the server's cache (undone by SqlRewrite.failed).
 */
export function planSql(
  sql: string,
  cmd: SqlCommand,
  names: Map<string, Statement>,
  registry: StatementRegistry,
  cache: ServerStatementCache,
): SqlPlan {
  switch (cmd.kind) {
    case 'prepare': {
      const taken = names.get(cmd.name);
      if (taken !== undefined) return prepareTaken(sql, cmd, taken, cache);
      const stmt = cmd.types === null ? registry.intern(cmd.body, []) : registry.internSql(cmd.body, cmd.types);
      stmt.uses++;
      names.set(cmd.name, stmt);
      const added = new Map([[cmd.name, stmt]]);
      if (cache.has(stmt)) return plan(NO_OP, [NOTHING], commandComplete('PREPARE'), null, added, null, null);
      const stale = cache.takeStale(stmt);
      const evicted = cache.add(stmt);
      const text = staleSql(stale, stmt) + evictSql(evicted) + (stmt.prepareSql as string);
      const bodyAt = text.length - 1 - cmd.body.length;
      const shift = new PositionShift(text, bodyAt, bodyAt + cmd.body.length, sql, cmd.bodyStart);
      return plan(text, withStale(stale, stmt, withEviction(evicted, { evicted: null, prepared: stmt })), null, null, added, null, shift);
    }
    case 'execute': {
      const stmt = names.get(cmd.name);
      if (stmt === undefined) return standIn('26000', `prepared statement "${cmd.name}" does not exist`);
      if (stmt.prepareSql === null) {
        return standIn('0A000', `prepared statement "${cmd.name}" has parameter types given as OIDs, which SQL EXECUTE cannot prepare again under transaction pooling; execute it with Bind`);
      }
      stmt.uses++;
      const own = `EXECUTE ${stmt.serverName}`;
      const rest = sql.slice(cmd.nameEnd);
      const injected = !cache.has(stmt);
      const stale = injected && cache.takeStale(stmt);
      const evicted = injected ? cache.add(stmt) : null;
      const before = injected ? `${staleSql(stale, stmt)}${evictSql(evicted)}${stmt.prepareSql};\n${own}` : own;
      const text = before + rest;
      const parts = injected ? withStale(stale, stmt, withEviction(evicted, { evicted: null, prepared: stmt }, NOTHING)) : [NOTHING];
      const shift = new PositionShift(text, before.length, text.length, sql, cmd.nameEnd);
      const again = injected ? null : { sql, cmd, stmt };
      return { text, rewrite: new SqlRewrite(parts, null, null, null, null, shift, stmt, cmd.name, again), injected };
    }
    case 'deallocate': {
      if (cmd.name === null) {
        const dropped = new Map(names);
        names.clear();
        return plan(NO_OP, [NOTHING], commandComplete('DEALLOCATE ALL'), null, null, dropped, null);
      }
      const stmt = names.get(cmd.name);
      if (stmt === undefined) return standIn('26000', `prepared statement "${cmd.name}" does not exist`);
      names.delete(cmd.name);
      return plan(NO_OP, [NOTHING], commandComplete('DEALLOCATE'), null, null, new Map([[cmd.name, stmt]]), null);
    }
    case 'unsupported':
      return standIn('0A000', cmd.reason);
  }
}

/**
 * PREPARE of a name the client holds. PostgreSQL analyses the body first, then refuses with
 * 42P05 and keeps the old statement; so the server runs the client's PREPARE under the old
 * statement's server-side name (prepared ahead of it where the server lacks it): the body's own
 * errors, 25P02, or the 42P05 (naming the client's statement) come from the server as they would.
 * A statement SQL cannot prepare again (OID types), missing there, gets the failing stand-in.
 */
function prepareTaken(sql: string, cmd: Extract<SqlCommand, { kind: 'prepare' }>, taken: Statement, cache: ServerStatementCache): SqlPlan {
  const held = cache.has(taken);
  if (!held && taken.prepareSql === null) return standIn('42P05', alreadyExists(cmd.name));
  const stale = !held && cache.takeStale(taken);
  const evicted = held ? null : cache.add(taken);
  const before = held ? '' : `${staleSql(stale, taken)}${evictSql(evicted)}${taken.prepareSql as string};\n`;
  const text = `${before}PREPARE ${taken.serverName}${cmd.types === null ? '' : ` (${cmd.types})`} AS ${cmd.body}`;
  const bodyAt = text.length - cmd.body.length;
  const shift = new PositionShift(text, bodyAt, text.length, sql, cmd.bodyStart);
  const parts = held ? [NOTHING] : withStale(stale, taken, withEviction(evicted, { evicted: null, prepared: taken }, NOTHING));
  return { text, rewrite: new SqlRewrite(parts, null, null, null, null, shift, taken, cmd.name), injected: !held };
}

const alreadyExists = (name: string): string => `prepared statement "${name}" already exists`;

/** A Parse of a name the client holds, on a server lacking a statement only SQL can prepare: the stand-in's 26000 becomes 42P05. */
export function duplicateStatementError(name: string): SqlRewrite {
  return new SqlRewrite([NOTHING], null, sqlError('42P05', alreadyExists(name)), null, null, null);
}

/**
 * Bind or Describe of a statement only SQL can prepare (SQL PREPARE with type names), which
 * pgmux cannot inject ahead of them: they go to the failing stand-in, this error comes back.
 */
export function sqlOnlyError(name: string): SqlRewrite {
  return new SqlRewrite([NOTHING], null, sqlError('0A000', `prepared statement "${name}" was prepared by SQL PREPARE with parameter types; under transaction pooling run it with EXECUTE`), null, null, null);
}

/** The Bind or Describe stand-in: a statement name no server holds. */
export const MISSING_STATEMENT = 'pgmux__none';

/** A Bind/Describe of a pgmux server name the client never prepared: PostgreSQL's 26000 for it. */
export function missingStatementError(name: string): SqlRewrite {
  return new SqlRewrite([NOTHING], null, sqlError('26000', `prepared statement "${name}" does not exist`), null, null, null);
}

function plan(
  text: string,
  parts: Part[],
  tag: Buffer | null,
  error: Buffer | null,
  added: Map<string, Statement> | null,
  dropped: Map<string, Statement> | null,
  shift: PositionShift | null,
): SqlPlan {
  return { text, rewrite: new SqlRewrite(parts, tag, error, added, dropped, shift), injected: false };
}

function standIn(code: string, message: string): SqlPlan {
  return plan(FAILS, [NOTHING], null, sqlError(code, message), null, null, null);
}

function sqlError(code: string, message: string): Buffer {
  return errorResponse({ severity: 'ERROR', code, message });
}

function evictSql(evicted: Statement | null): string {
  return evicted === null ? '' : `DEALLOCATE ${evicted.serverName};\n`;
}

function withEviction(evicted: Statement | null, ...rest: Part[]): Part[] {
  return evicted === null ? rest : [{ evicted, prepared: null }, ...rest];
}

/** `DEALLOCATE` of the server's stale copy of `stmt`, ahead of preparing it again. */
function staleSql(stale: boolean, stmt: Statement): string {
  return stale ? `DEALLOCATE ${stmt.serverName};\n` : '';
}

function withStale(stale: boolean, stmt: Statement, rest: Part[]): Part[] {
  return stale ? [{ evicted: null, prepared: null, stale: stmt }, ...rest] : rest;
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
