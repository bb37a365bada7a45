// Owns statement fingerprints: one pass over a statement's bytes, as they sit in the client's
// chunk, that hashes its tokens with every literal (strings, numbers, $n parameters, dollar
// quotes) replaced by one placeholder, lists of literals collapsed to one, comments, whitespace,
// case of keywords and a trailing semicolon ignored. So `SELECT * FROM t WHERE id IN (1, 2)`
// and `select *  from t where id in ($1) -- x` are one fingerprint. The same pass tells the
// statement's kind (read, write, other) from its first keyword, and finds a W3C traceparent in
// a sqlcommenter comment (/*traceparent='00-<trace id>-<span id>-01'*/).
//
// No string is made and nothing is allocated unless asked for the display text (done once per
// new fingerprint); the lexical rules are PostgreSQL's, as lib/routing/classify-tokenizer's,
// but on bytes: every byte of a multi-byte UTF-8 character is >= 0x80, an identifier byte.

import { StatementKind } from './histogram';
import { MAX_INTEGERS } from './same-text';

/** Bytes of a statement looked at; longer ones are fingerprinted by their start (bulk INSERTs). */
export const SCAN_LIMIT = 16 * 1024;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const MIX_SEED = 0x9747b28c;
const MIX_PRIME = 0x5bd1e995;

// Byte classes: 1 starts an identifier, 2 continues one, 4 digit, 8 space, 16 operator character.
const CLASS = new Uint8Array(256);
for (let c = 0; c < 256; c++) {
  const letter = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c >= 128;
  const digit = c >= 48 && c <= 57;
  const space = c === 32 || (c >= 9 && c <= 13);
  const op = '+-*/<>=~!@#%^&|`?'.includes(String.fromCharCode(c)) && c < 128;
  CLASS[c] = (letter ? 3 : 0) | (digit ? 6 : 0) | (c === 36 ? 2 : 0) | (space ? 8 : 0) | (op ? 16 : 0);
}

const LITERAL = 0x3f; // '?', hashed for every literal

/** Lowercase FNV-1a of an ASCII keyword, as the scanner hashes words. */
function wordHash(word: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < word.length; i++) h = Math.imul(h ^ word.charCodeAt(i), FNV_PRIME);
  return h >>> 0;
}

/** First keywords of statements that read, and of those that write (or may: CALL, DO). */
const FIRST_WORD = new Map<number, StatementKind>();
for (const w of ['select', 'values', 'table', 'show', 'explain', 'fetch']) FIRST_WORD.set(wordHash(w), StatementKind.read);
for (const w of [
  'insert', 'update', 'delete', 'merge', 'copy', 'create', 'alter', 'drop', 'truncate', 'grant', 'revoke', 'comment', 'vacuum',
  'analyze', 'analyse', 'cluster', 'reindex', 'refresh', 'lock', 'call', 'do', 'import', 'security', 'reassign',
]) {
  FIRST_WORD.set(wordHash(w), StatementKind.write);
}
const WITH = wordHash('with');
const SELECT = wordHash('select');
// Words that make a read statement a write: writing CTEs, SELECT INTO, FOR UPDATE/SHARE.
const INSERT = wordHash('insert');
const DELETE = wordHash('delete');
const MERGE = wordHash('merge');
const FOR = wordHash('for');
const UPDATE = wordHash('update');
const SHARE = wordHash('share');
const NO = wordHash('no');
const KEY = wordHash('key');
const INTO = wordHash('into');
const TRACEPARENT = Buffer.from('traceparent', 'latin1');

/**
 * The scanner's last answer, read right after scan() by its one owner (the fingerprint table):
 * plain fields, so a scan allocates nothing.
 */
export class FingerprintScanner {
  /** Two independent 32-bit hashes of the normalized tokens (64 bits against collisions). */
  h1 = 0;
  h2 = 0;
  /** The strongest kind of the statements in the text: write > read > other. */
  kind: StatementKind = StatementKind.other;
  /** Offset of the 32 hex digits of a traceparent's trace id in the scanned buffer, or -1. */
  traceAt = -1;
  /**
   * [start, end) of the first `integers` literals that are plain runs of digits, as offsets
   * from the scan's start: what may change without changing the fingerprint (./same-text.ts).
   */
  readonly integerSpans = new Int32Array(2 * MAX_INTEGERS);
  integers = 0;

  // Per-statement state while scanning.
  private first = 0;
  private firstKind: StatementKind = StatementKind.other;
  private prevWord = 0;

  /**
   * Scans buf[start, end). With `out`, also pushes the display text's tokens (literals as `?`):
   * only for a fingerprint seen for the first time.
   */
  scan(buf: Buffer, start: number, end: number, out: string[] | null = null): void {
    if (end - start > SCAN_LIMIT) end = start + SCAN_LIMIT;
    let h1 = FNV_OFFSET;
    let h2 = MIX_SEED;
    this.kind = StatementKind.other;
    this.traceAt = -1;
    this.integers = 0;
    this.startStatement();
    let lastLiteral = false;
    let pendingComma = false;
    let pendingSemi = false;
    let i = start;
    while (i < end) {
      const c = buf[i];
      const cls = CLASS[c];
      if ((cls & 8) !== 0) {
        i++;
        continue;
      }
      if (c === 0x2d && buf[i + 1] === 0x2d && i + 1 < end) {
        while (i < end && buf[i] !== 0x0a && buf[i] !== 0x0d) i++;
        continue;
      }
      if (c === 0x2f && buf[i + 1] === 0x2a && i + 1 < end) {
        i = this.comment(buf, i, end);
        continue;
      }
      // A token: [tokStart, i) after the branch; `literal` or a word hash `w` (0 for other tokens).
      const tokStart = i;
      let literal = false;
      let w = 0;
      if (c === 0x27) {
        i = skipQuoted(buf, i + 1, end, 0x27, false);
        literal = true;
      } else if ((cls & 1) !== 0) {
        const next = buf[i + 1];
        const l = c | 0x20;
        if (next === 0x27 && i + 1 < end && (l === 0x65 || l === 0x62 || l === 0x78 || l === 0x6e)) {
          // E'…' (backslash escapes), B'…', X'…', N'…'
          i = skipQuoted(buf, i + 2, end, 0x27, l === 0x65);
          literal = true;
        } else if (l === 0x75 && next === 0x26 && (buf[i + 2] === 0x27 || buf[i + 2] === 0x22) && i + 2 < end) {
          // U&'…' is a string, U&"…" an identifier.
          literal = buf[i + 2] === 0x27;
          i = skipQuoted(buf, i + 3, end, buf[i + 2], false);
        } else {
          w = FNV_OFFSET;
          while (i < end && (CLASS[buf[i]] & 2) !== 0) {
            const b = buf[i];
            w = Math.imul(w ^ (b >= 65 && b <= 90 ? b + 32 : b), FNV_PRIME);
            i++;
          }
          w >>>= 0;
        }
      } else if ((cls & 4) !== 0 || (c === 0x2e && i + 1 < end && (CLASS[buf[i + 1]] & 4) !== 0)) {
        i = skipNumber(buf, i, end);
        literal = true;
        if (this.integers < MAX_INTEGERS && allDigits(buf, tokStart, i)) {
          this.integerSpans[2 * this.integers] = tokStart - start;
          this.integerSpans[2 * this.integers + 1] = i - start;
          this.integers++;
        }
      } else if (c === 0x24) {
        i = this.dollar(buf, i, end);
        literal = i > tokStart + 1;
        if (!literal) i = tokStart + 1;
      } else if (c === 0x22) {
        i = skipQuoted(buf, i + 1, end, 0x22, false);
      } else if ((cls & 16) !== 0) {
        i++;
        // An operator is a run of operator characters, up to a comment start.
        while (i < end && (CLASS[buf[i]] & 16) !== 0 && !(buf[i] === 0x2d && buf[i + 1] === 0x2d) && !(buf[i] === 0x2f && buf[i + 1] === 0x2a)) i++;
      } else {
        i++;
      }

      if (literal) {
        // `?, ?, ?` is `?`: IN lists and VALUES rows of different lengths are one statement.
        if (pendingComma) {
          pendingComma = false;
          continue;
        }
        if (pendingSemi) {
          h1 = Math.imul(h1 ^ 0x3b, FNV_PRIME);
          h2 = mix(h2, 0x3b);
          pendingSemi = false;
          out?.push(';');
        }
        h1 = Math.imul(Math.imul(h1 ^ 0x20, FNV_PRIME) ^ LITERAL, FNV_PRIME);
        h2 = mix(mix(h2, 0x20), LITERAL);
        lastLiteral = true;
        out?.push('?');
        continue;
      }
      if (c === 0x2c && tokStart + 1 === i && lastLiteral) {
        pendingComma = true;
        continue;
      }
      if (c === 0x3b && tokStart + 1 === i) {
        // Hashed only if another statement follows: a trailing `;` changes nothing.
        if (pendingComma) {
          h1 = Math.imul(h1 ^ 0x2c, FNV_PRIME);
          h2 = mix(h2, 0x2c);
          pendingComma = false;
          out?.push(',');
        }
        this.endStatement();
        pendingSemi = true;
        lastLiteral = false;
        continue;
      }
      if (pendingComma) {
        h1 = Math.imul(h1 ^ 0x2c, FNV_PRIME);
        h2 = mix(h2, 0x2c);
        pendingComma = false;
        out?.push(',');
      }
      if (pendingSemi) {
        h1 = Math.imul(h1 ^ 0x3b, FNV_PRIME);
        h2 = mix(h2, 0x3b);
        pendingSemi = false;
        out?.push(';');
      }
      lastLiteral = false;
      h1 = Math.imul(h1 ^ 0x20, FNV_PRIME);
      h2 = mix(h2, 0x20);
      if (w !== 0) {
        // The word's own hash stands for it (already case-folded).
        h1 = Math.imul(h1 ^ w, FNV_PRIME);
        h2 = mix(h2, w);
        this.word(w);
        out?.push(buf.toString('utf8', tokStart, i).toLowerCase());
      } else {
        for (let k = tokStart; k < i; k++) {
          h1 = Math.imul(h1 ^ buf[k], FNV_PRIME);
          h2 = mix(h2, buf[k]);
        }
        out?.push(buf.toString('utf8', tokStart, i));
      }
    }
    if (pendingComma) {
      h1 = Math.imul(h1 ^ 0x2c, FNV_PRIME);
      h2 = mix(h2, 0x2c);
      out?.push(',');
    }
    this.endStatement();
    this.h1 = h1 >>> 0;
    this.h2 = h2 >>> 0;
  }

  private startStatement(): void {
    this.first = 0;
    this.firstKind = StatementKind.other;
    this.prevWord = 0;
  }

  /** A word of the current statement: the first decides its kind, a few later ones make a read a write. */
  private word(w: number): void {
    if (this.first === 0) {
      this.first = w;
      this.firstKind = w === WITH ? StatementKind.read : (FIRST_WORD.get(w) ?? StatementKind.other);
    } else if (this.firstKind === StatementKind.read && (w === INSERT || w === UPDATE || w === DELETE || w === MERGE || w === INTO || w === SHARE) && this.writes(w)) {
      this.firstKind = StatementKind.write;
    }
    this.prevWord = w;
  }

  /** Whether word `w` of a statement that began as a read makes it write. */
  private writes(w: number): boolean {
    const first = this.first;
    if (w === SHARE || w === UPDATE) {
      // SELECT … FOR UPDATE / FOR NO KEY UPDATE / FOR SHARE / FOR KEY SHARE locks rows: the primary.
      const p = this.prevWord;
      if (p === FOR || p === NO || p === KEY) return true;
      return w === UPDATE && first === WITH;
    }
    if (w === INTO) return first === SELECT;
    return first === WITH;
  }

  private endStatement(): void {
    if (this.firstKind > this.kind) this.kind = this.firstKind;
    this.startStatement();
  }

  /** Skips a (nested) block comment from its `/*`; notes a traceparent in it. Returns the index after it. */
  private comment(buf: Buffer, i: number, end: number): number {
    const from = i + 2;
    let depth = 1;
    i = from;
    while (i < end && depth > 0) {
      const d = buf[i];
      if (d === 0x2a && buf[i + 1] === 0x2f) {
        depth--;
        i += 2;
      } else if (d === 0x2f && buf[i + 1] === 0x2a) {
        depth++;
        i += 2;
      } else {
        if (d === 0x74 && this.traceAt < 0) this.traceAt = traceIdAt(buf, i, end);
        i++;
      }
    }
    return Math.min(i, end);
  }

  /** `$n` (a parameter) or `$tag$…$tag$` (a string); returns the index after it, or i + 1 when neither. */
  private dollar(buf: Buffer, i: number, end: number): number {
    let j = i + 1;
    if (j < end && (CLASS[buf[j]] & 4) !== 0) {
      while (j < end && (CLASS[buf[j]] & 4) !== 0) j++;
      return j;
    }
    while (j < end && (CLASS[buf[j]] & 2) !== 0 && buf[j] !== 0x24) j++;
    if (j >= end || buf[j] !== 0x24) return i + 1;
    const tagLen = j + 1 - i;
    for (let k = j + 1; k + tagLen <= end; k++) {
      if (buf[k] === 0x24 && buf.compare(buf, i, j + 1, k, k + tagLen) === 0) return k + tagLen;
    }
    return end;
  }
}

/** 32-bit multiply-xorshift step, independent of FNV so that both hashes rarely collide together. */
function mix(h: number, b: number): number {
  h = Math.imul(h ^ b, MIX_PRIME);
  return h ^ (h >>> 15);
}

/** The index after a quoted run whose opening quote is before `i` ('' or "" doubles; E'' has backslash escapes). */
function skipQuoted(buf: Buffer, i: number, end: number, quote: number, backslash: boolean): number {
  while (i < end) {
    const d = buf[i];
    if (backslash && d === 0x5c) {
      i += 2;
    } else if (d === quote) {
      if (buf[i + 1] === quote && i + 1 < end) i += 2;
      else return i + 1;
    } else {
      i++;
    }
  }
  return end;
}

/** A numeric literal: digits, `.`, exponent with sign, 0x/0o/0b prefixes and `_` separators. */
function skipNumber(buf: Buffer, i: number, end: number): number {
  while (i < end) {
    const d = buf[i];
    if ((CLASS[d] & 2) !== 0 || d === 0x2e) {
      i++;
      if ((d | 0x20) === 0x65 && (buf[i] === 0x2b || buf[i] === 0x2d)) i++;
    } else break;
  }
  return i;
}

function allDigits(buf: Buffer, from: number, to: number): boolean {
  for (let k = from; k < to; k++) if ((CLASS[buf[k]] & 4) === 0) return false;
  return true;
}

/**
 * Within a comment at `i` (a 't'): `traceparent='00-<32 hex>-<16 hex>-<2 hex>'` (sqlcommenter,
 * W3C trace context) gives the offset of the trace id; -1 otherwise or for an all-zero id.
 */
function traceIdAt(buf: Buffer, i: number, end: number): number {
  if (i + TRACEPARENT.length > end || buf.compare(TRACEPARENT, 0, TRACEPARENT.length, i, i + TRACEPARENT.length) !== 0) return -1;
  let j = i + TRACEPARENT.length;
  while (j < end && buf[j] === 0x20) j++;
  if (buf[j] !== 0x3d) return -1;
  j++;
  while (j < end && buf[j] === 0x20) j++;
  if (buf[j] !== 0x27) return -1;
  j++;
  // version "00", then '-'
  if (j + 55 > end || !isHex(buf, j, 2) || buf[j + 2] !== 0x2d) return -1;
  const id = j + 3;
  if (!isHex(buf, id, 32) || buf[id + 32] !== 0x2d || !isHex(buf, id + 33, 16) || buf[id + 49] !== 0x2d || !isHex(buf, id + 50, 2)) return -1;
  for (let k = id; k < id + 32; k++) if (buf[k] !== 0x30) return id;
  return -1;
}

function isHex(buf: Buffer, at: number, n: number): boolean {
  for (let k = at; k < at + n; k++) {
    const d = buf[k];
    if (!((d >= 0x30 && d <= 0x39) || (d >= 0x61 && d <= 0x66))) return false;
  }
  return true;
}
