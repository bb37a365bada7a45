// Owns recognising SQL-level prepared statements in a simple Query: `PREPARE name [(types)]
// AS stmt`, `EXECUTE name [(args)]` (also wrapped: `EXPLAIN [options] EXECUTE ..` and
// `CREATE [TEMP | UNLOGGED] TABLE .. AS EXECUTE ..`) and `DEALLOCATE [PREPARE] name | ALL`, alone
// or among other statements; the byte check every Query pays (mayBeSqlPrepared), then the lexer that splits the
// Query into statements and reads names, types and bodies (lexScript).
//
// What the server runs instead is planned by ./sql-planner; its responses are rewritten by
// ./sql-rewrite.

import { HEADER_LENGTH } from '../protocol/codes';

/**
 * A recognised statement. Indexes are into the Query's text (EXECUTE's end: its `;` or the
 * text's end; `wrap`: the EXPLAIN or CREATE TABLE AS text before the EXECUTE keyword, '' alone).
 */
export type SqlCommand =
  | { readonly kind: 'prepare'; readonly name: string; readonly types: string | null; readonly body: string; readonly bodyStart: number }
  | { readonly kind: 'execute'; readonly name: string; readonly nameEnd: number; readonly end: number; readonly wrap: string; readonly wrapStart: number }
  | { readonly kind: 'deallocate'; readonly name: string | null }
  | { readonly kind: 'unsupported'; readonly reason: string };

// ---- the first keyword, on the frame's bytes (every Query pays this) ----

const KEYWORDS = ['prepare', 'execute', 'deallocate'].map((w) => Buffer.from(w, 'latin1'));
/** Statements that may wrap an EXECUTE: EXPLAIN, CREATE TABLE AS. */
const WRAPPERS = ['explain', 'create'].map((w) => Buffer.from(w, 'latin1'));
const EXECUTE = KEYWORDS[1];

/**
 * Whether a Query frame may hold PREPARE, EXECUTE or DEALLOCATE: a byte check, no decoding.
 * It starts with one of them, or with a comment (the lexer looks past it), or with EXPLAIN or
 * CREATE and has the word EXECUTE further on, or it has a `;` with more after it (any statement
 * of several may be one).
 */
export function mayBeSqlPrepared(buf: Buffer, start: number, end: number): boolean {
  // The text runs from the header to the NUL ending the frame.
  const from = start + HEADER_LENGTH;
  const stop = end - 1;
  if (mayBeSqlPreparedText(buf, from, stop)) return true;
  if (wrapsExecute(buf, from, stop)) return true;
  const semi = buf.indexOf(0x3b, from);
  if (semi < 0 || semi >= stop) return false;
  for (let i = semi + 1; i < stop; i++) {
    const c = buf[i];
    if (c !== 0x3b && c !== 0x20 && (c < 0x09 || c > 0x0d)) return true;
  }
  return false;
}

/** mayBeSqlPrepared for a statement text at buf[i..stop) (a Parse's query string). */
export function mayBeSqlPreparedText(buf: Buffer, i: number, stop: number): boolean {
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

/** Starts with EXPLAIN or CREATE and has "execute" (any case) after it: only those are lexed for a wrapped EXECUTE. */
export function wrapsExecute(buf: Buffer, i: number, stop: number): boolean {
  while (i < stop && (buf[i] === 0x20 || (buf[i] >= 0x09 && buf[i] <= 0x0d))) i++;
  const word = WRAPPERS.find((w) => wordIs(buf, i, stop, w));
  if (word === undefined) return false;
  for (let j = i + word.length; j + EXECUTE.length <= stop; j++) if (wordIs(buf, j, stop, EXECUTE)) return true;
  return false;
}

/** buf[i..) starts with `word` (ASCII, any case) not followed by an identifier byte. */
function wordIs(buf: Buffer, i: number, stop: number, word: Buffer): boolean {
  const n = word.length;
  if (i + n > stop) return false;
  for (let k = 0; k < n; k++) if ((buf[i + k] | 0x20) !== word[k]) return false;
  return i + n === stop || !isIdentByte(buf[i + n]);
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

const UNICODE = 'U&"..." prepared statement names are not supported under transaction pooling';

/** One statement of a Query: s[from, to), `to` being its `;` or the text's end. */
export interface SqlStatement {
  readonly from: number;
  readonly to: number;
  /** PREPARE, EXECUTE or DEALLOCATE (or a form pgmux refuses); null for any other statement. */
  readonly cmd: SqlCommand | null;
}

/**
 * The statements of a Query, when at least one is PREPARE, EXECUTE or DEALLOCATE; null when
 * none is, or the text does not split (an unterminated quote or comment: the server's syntax
 * error, and nothing runs). PREPARE TRANSACTION and forms that are not ours are null commands.
 */
export function lexScript(s: string): SqlStatement[] | null {
  const out: SqlStatement[] = [];
  let ours = false;
  for (let i = 0; ; ) {
    const from = skipFill(s, i);
    if (from < 0) return null;
    if (from >= s.length) break;
    if (s.charCodeAt(from) === 0x3b) {
      i = from + 1;
      continue;
    }
    const lexed = lexCommand(s, from);
    const to = lexed === null ? statementEnd(s, from) : lexed.end;
    if (to < 0) return null;
    out.push({ from, to, cmd: lexed === null ? null : lexed.cmd });
    if (lexed !== null) ours = true;
    i = to + 1;
  }
  return ours ? out : null;
}

/** PREPARE / EXECUTE / DEALLOCATE alone in `s` (one statement, maybe with `;`s); else null. */
export function lexSql(s: string): SqlCommand | null {
  const script = lexScript(s);
  return script !== null && script.length === 1 ? script[0].cmd : null;
}

type Lexed = { cmd: SqlCommand; end: number } | null;

/**
 * A PREPARE / EXECUTE / DEALLOCATE starting at i, and where it ends. Null means "not one of
 * ours, or a syntax error the server will report": it goes to the server as it is, which
 * creates nothing (PREPARE TRANSACTION lands here too).
 */
function lexCommand(s: string, i: number): Lexed {
  const first = wordAt(s, i);
  if (first === null) return null;
  switch (first.word) {
    case 'prepare':
      return lexPrepare(s, skipFill(s, first.end));
    case 'execute':
      return lexExecute(s, skipFill(s, first.end), i, i);
    case 'deallocate':
      return lexDeallocate(s, skipFill(s, first.end));
    case 'explain':
      return lexExplain(s, skipFill(s, first.end), i);
    case 'create':
      return lexCreateTableAs(s, skipFill(s, first.end), i);
    default:
      return null;
  }
}

function unsupported(s: string, i: number, reason: string): Lexed {
  const end = statementEnd(s, i);
  return end < 0 ? null : { cmd: { kind: 'unsupported', reason }, end };
}

function lexPrepare(s: string, i: number): Lexed {
  const id = nameAt(s, i);
  if (id === 'unicode') return unsupported(s, i, UNICODE);
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
  const body = s.slice(bodyStart, end).trimEnd();
  if (body === '') return null;
  return { cmd: { kind: 'prepare', name: id.name, types, body, bodyStart }, end };
}

/** The name after EXECUTE (at i); the statement began at `from`, the EXECUTE keyword at `keyword`. */
function lexExecute(s: string, i: number, from: number, keyword: number): Lexed {
  const id = nameAt(s, i);
  if (id === 'unicode') return unsupported(s, i, UNICODE);
  if (id === null) return null;
  const end = statementEnd(s, id.end);
  if (end < 0) return null;
  return { cmd: { kind: 'execute', name: id.name, nameEnd: id.end, end, wrap: s.slice(from, keyword), wrapStart: from }, end };
}

/** An EXECUTE keyword at i, in a statement that began at `from` with what wraps it; else not ours. */
function wrappedExecute(s: string, i: number, from: number): Lexed {
  const w = wordAt(s, i);
  return w === null || w.word !== 'execute' ? null : lexExecute(s, skipFill(s, w.end), from, i);
}

const EXPLAIN_WORDS = new Set(['analyze', 'analyse', 'verbose']);

/** `EXPLAIN (options) EXECUTE ..` or `EXPLAIN [ANALYZE] [VERBOSE] EXECUTE ..` (or `CREATE TABLE .. AS EXECUTE ..`); i is past EXPLAIN. */
function lexExplain(s: string, i: number, from: number): Lexed {
  if (s.charCodeAt(i) === 0x28) {
    const close = matchParen(s, i);
    if (close < 0) return null;
    i = skipFill(s, close + 1);
  } else {
    for (let w = wordAt(s, i); w !== null && EXPLAIN_WORDS.has(w.word); w = wordAt(s, i)) i = skipFill(s, w.end);
  }
  // EXPLAIN CREATE TABLE .. AS EXECUTE is valid too: unrecognised, it would reach the server with the client's name.
  const create = wordAt(s, i);
  if (create !== null && create.word === 'create') return lexCreateTableAs(s, skipFill(s, create.end), from);
  return wrappedExecute(s, i, from);
}

const CREATE_TABLE_PREFIX = new Set(['global', 'local', 'temp', 'temporary', 'unlogged']);

/**
 * `CREATE [GLOBAL | LOCAL] [TEMP | TEMPORARY | UNLOGGED] TABLE .. AS EXECUTE ..`; i is past
 * CREATE. The first `AS` outside parentheses ends the table's part (column names, WITH (..),
 * ON COMMIT, TABLESPACE hold none); anything but EXECUTE after it is not ours.
 */
function lexCreateTableAs(s: string, i: number, from: number): Lexed {
  let w = wordAt(s, i);
  while (w !== null && CREATE_TABLE_PREFIX.has(w.word)) {
    i = skipFill(s, w.end);
    w = wordAt(s, i);
  }
  if (w === null || w.word !== 'table') return null;
  let depth = 0;
  for (i = w.end; i >= 0 && i < s.length; i = skipToken(s, i)) {
    const c = s.charCodeAt(i);
    if (c === 0x3b) return null;
    if (c === 0x28) depth++;
    else if (c === 0x29) depth--;
    else if (depth === 0) {
      const as = wordAt(s, i);
      if (as !== null && as.word === 'as') return wrappedExecute(s, skipFill(s, as.end), from);
    }
  }
  return null;
}

function lexDeallocate(s: string, i: number): Lexed {
  let id = nameAt(s, i);
  if (id === 'unicode') return unsupported(s, i, UNICODE);
  if (id === null) return null;
  // DEALLOCATE PREPARE x; but a lone `DEALLOCATE prepare` names a statement "prepare".
  if (!id.quoted && id.name === 'prepare') {
    const next = skipFill(s, id.end);
    if (next >= 0 && next < s.length && s.charCodeAt(next) !== 0x3b) {
      id = nameAt(s, next);
      if (id === 'unicode') return unsupported(s, next, UNICODE);
      if (id === null) return null;
    }
  }
  const end = skipFill(s, id.end);
  if (end < 0 || (end < s.length && s.charCodeAt(end) !== 0x3b)) return null;
  return { cmd: { kind: 'deallocate', name: !id.quoted && id.name === 'all' ? null : id.name }, end };
}
