// Owns recognising the statements pgmux answers for a client's LISTEN channels in transaction
// pooling: LISTEN, UNLISTEN, `SELECT pg_listening_channels()`, and DISCARD ALL (which clears
// them), plus the transaction ends that decide whether a LISTEN inside a transaction counts.
//
// Two steps, so that ordinary statements cost nothing: firstKeyword() looks at the bytes of a
// Query or Parse frame (no string, no allocation) and says which keyword starts the text; only
// texts starting with one of the few keywords that matter are decoded and split by listenScript(),
// whose answers are cached by text.

import { FrontendCode, HEADER_LENGTH } from '../protocol/codes';
import { Scan, scanStatement, skipSpace } from './statement-scan';

/** The first keyword of a statement text, as far as LISTEN handling cares. */
export const Keyword = {
  Other: 0,
  Listen: 1,
  Unlisten: 2,
  Select: 3,
  Discard: 4,
  /** COMMIT or END. */
  Commit: 5,
  /** ROLLBACK or ABORT (also ROLLBACK TO SAVEPOINT, and PREPARE TRANSACTION, which ends it too). */
  Rollback: 6,
} as const;
export type KeywordCode = (typeof Keyword)[keyof typeof Keyword];

/** Lower-cased ASCII words, as bytes, with the code each one means. */
const WORDS: readonly (readonly [Buffer, KeywordCode])[] = (
  [
    ['listen', Keyword.Listen],
    ['unlisten', Keyword.Unlisten],
    ['select', Keyword.Select],
    ['discard', Keyword.Discard],
    ['commit', Keyword.Commit],
    ['end', Keyword.Commit],
    ['rollback', Keyword.Rollback],
    ['abort', Keyword.Rollback],
    ['prepare', Keyword.Rollback],
  ] as const
).map(([w, k]) => [Buffer.from(w, 'latin1'), k] as const);

/**
 * The first keyword of the statement text of a Query or Parse frame starting at `start` (after
 * whitespace and comments). Allocation-free; an unusual frame is just Other.
 */
export function firstKeyword(type: number, buf: Buffer, start: number, end: number): KeywordCode {
  let pos = start + HEADER_LENGTH;
  if (type === FrontendCode.Parse) {
    // The statement name comes first.
    const nul = buf.indexOf(0, pos);
    if (nul < 0 || nul >= end) return Keyword.Other;
    pos = nul + 1;
  }
  pos = skipSpace(buf, pos, end);
  if (pos >= end) return Keyword.Other;
  const c = buf[pos] | 0x20;
  // Most statements are ruled out by their first letter.
  if (c !== 0x6c && c !== 0x75 && c !== 0x73 && c !== 0x64 && c !== 0x63 && c !== 0x65 && c !== 0x72 && c !== 0x61 && c !== 0x70) return Keyword.Other;
  for (const [word, code] of WORDS) {
    if (word[0] !== c || pos + word.length > end) continue;
    let i = 1;
    while (i < word.length && (buf[pos + i] | 0x20) === word[i]) i++;
    if (i < word.length) continue;
    const after = pos + word.length < end ? buf[pos + word.length] : 0;
    if (isIdentChar(after)) continue;
    // PREPARE of a statement is not PREPARE TRANSACTION: only the latter ends a transaction.
    if (word[0] === 0x70 && !followedBy(buf, pos + word.length, end, 'transaction')) return Keyword.Other;
    return code;
  }
  return Keyword.Other;
}

/**
 * Whether the Query or Parse frame at `start` may be a LISTEN or UNLISTEN: its text starts (after
 * whitespace and comments) with an l or a u. The one question for a client that never listened,
 * asked of every statement it sends.
 */
export function mayBeListen(type: number, buf: Buffer, start: number, end: number): boolean {
  let pos = start + HEADER_LENGTH;
  if (type === FrontendCode.Parse) {
    const nul = buf.indexOf(0, pos);
    if (nul < 0 || nul >= end) return false;
    pos = nul + 1;
  }
  return scanStatement(buf, pos, end, Scan.MayListen) !== 0;
}

function followedBy(buf: Buffer, pos: number, end: number, word: string): boolean {
  pos = skipSpace(buf, pos, end);
  if (pos + word.length > end) return false;
  for (let i = 0; i < word.length; i++) if ((buf[pos + i] | 0x20) !== word.charCodeAt(i)) return false;
  return !isIdentChar(pos + word.length < end ? buf[pos + word.length] : 0);
}


function isIdentChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x24 || c >= 0x80;
}

/** One statement pgmux answers for the client. */
export type ListenStatement =
  | { readonly kind: 'listen'; readonly channel: string }
  /** channel null: UNLISTEN *. */
  | { readonly kind: 'unlisten'; readonly channel: string | null }
  /** SELECT pg_listening_channels() (also `SELECT * FROM pg_listening_channels()`), with its column name. */
  | { readonly kind: 'channels'; readonly column: string }
  | { readonly kind: 'discard-all' };

/**
 * The statements of a Query's text when every one of them is one pgmux answers (an empty
 * statement between semicolons is skipped), else null: the text goes to a server as it is.
 */
export function listenScript(sql: string): readonly ListenStatement[] | null {
  const known = cache.get(sql);
  if (known !== undefined) return known;
  const parsed = parseScript(sql);
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value as string);
  cache.set(sql, parsed);
  return parsed;
}

/** Texts seen are few (an application LISTENs on a handful of channels): a small first-in-first-out cache. */
const CACHE_MAX = 1000;
const cache = new Map<string, readonly ListenStatement[] | null>();

/** PostgreSQL truncates identifiers to NAMEDATALEN - 1 bytes. */
const MAX_IDENTIFIER_BYTES = 63;

type Token = { readonly kind: 'word'; readonly text: string } | { readonly kind: 'quoted'; readonly text: string } | { readonly kind: 'punct'; readonly text: string };

function parseScript(sql: string): readonly ListenStatement[] | null {
  const tokens = tokenize(sql);
  if (tokens === null) return null;
  const out: ListenStatement[] = [];
  let stmt: Token[] = [];
  for (const t of [...tokens, { kind: 'punct', text: ';' } as const]) {
    if (t.kind === 'punct' && t.text === ';') {
      if (stmt.length > 0) {
        const s = statement(stmt);
        if (s === null) return null;
        out.push(s);
      }
      stmt = [];
    } else stmt.push(t);
  }
  // DISCARD ALL is watched, not answered: it runs on a server, so only on its own.
  if (out.length > 1 && out.some((s) => s.kind === 'discard-all')) return null;
  return out.length > 0 ? out : null;
}

function statement(t: readonly Token[]): ListenStatement | null {
  const word = (i: number, w: string): boolean => t[i] !== undefined && t[i].kind === 'word' && t[i].text === w;
  const punct = (i: number, p: string): boolean => t[i] !== undefined && t[i].kind === 'punct' && t[i].text === p;
  const name = (i: number): string | null => (t[i] !== undefined && t[i].kind !== 'punct' ? truncate(t[i].text) : null);
  if (word(0, 'listen') && t.length === 2) {
    const channel = name(1);
    return channel === null ? null : { kind: 'listen', channel };
  }
  if (word(0, 'unlisten') && t.length === 2) {
    if (punct(1, '*')) return { kind: 'unlisten', channel: null };
    const channel = name(1);
    return channel === null ? null : { kind: 'unlisten', channel };
  }
  if (word(0, 'discard') && word(1, 'all') && t.length === 2) return { kind: 'discard-all' };
  if (word(0, 'select')) return channelsQuery(t);
  return null;
}

/**
 * `SELECT [pg_catalog.]pg_listening_channels() [[AS] name]` and
 * `SELECT * FROM [pg_catalog.]pg_listening_channels() [[AS] name]`; anything else is not pgmux's.
 */
function channelsQuery(t: readonly Token[]): ListenStatement | null {
  let i = 1;
  const star = t[i]?.kind === 'punct' && t[i].text === '*';
  if (star) {
    if (!(t[2]?.kind === 'word' && t[2].text === 'from')) return null;
    i = 3;
  }
  if (t[i]?.kind === 'word' && t[i].text === 'pg_catalog' && t[i + 1]?.kind === 'punct' && t[i + 1].text === '.') i += 2;
  if (!(t[i]?.kind === 'word' && t[i].text === 'pg_listening_channels')) return null;
  if (!(t[i + 1]?.kind === 'punct' && t[i + 1].text === '(' && t[i + 2]?.kind === 'punct' && t[i + 2].text === ')')) return null;
  i += 3;
  let column = 'pg_listening_channels';
  if (t[i]?.kind === 'word' && t[i].text === 'as') i++;
  if (i < t.length) {
    if (t[i].kind === 'punct' || i + 1 !== t.length) return null;
    column = truncate(t[i].text);
  }
  return { kind: 'channels', column };
}

function truncate(name: string): string {
  if (Buffer.byteLength(name) <= MAX_IDENTIFIER_BYTES) return name;
  let out = name;
  while (Buffer.byteLength(out) > MAX_IDENTIFIER_BYTES) out = out.slice(0, -1);
  return out;
}

/** Words (lower-cased, as PostgreSQL folds unquoted names), quoted identifiers, punctuation; null for anything else (a string literal, a parameter). */
function tokenize(sql: string): Token[] | null {
  const out: Token[] = [];
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i];
    if (c === ' ' || c === '\n' || c === '\t' || c === '\r' || c === '\f') {
      i++;
    } else if (c === '-' && sql[i + 1] === '-') {
      while (i < n && sql[i] !== '\n') i++;
    } else if (c === '/' && sql[i + 1] === '*') {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] === '/' && sql[i + 1] === '*') {
          depth++;
          i += 2;
        } else if (sql[i] === '*' && sql[i + 1] === '/') {
          depth--;
          i += 2;
        } else i++;
      }
      if (depth > 0) return null;
    } else if (c === '"') {
      let text = '';
      i++;
      for (;;) {
        if (i >= n) return null;
        if (sql[i] === '"') {
          if (sql[i + 1] === '"') {
            text += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        text += sql[i++];
      }
      if (text === '') return null;
      out.push({ kind: 'quoted', text });
    } else if (/[A-Za-z_\u0080-\uffff]/.test(c)) {
      const start = i;
      while (i < n && /[A-Za-z0-9_$\u0080-\uffff]/.test(sql[i])) i++;
      out.push({ kind: 'word', text: sql.slice(start, i).replace(/[A-Z]+/g, (s) => s.toLowerCase()) });
    } else if (c === ';' || c === '*' || c === '(' || c === ')' || c === '.') {
      out.push({ kind: 'punct', text: c });
      i++;
    } else return null;
  }
  return out;
}
