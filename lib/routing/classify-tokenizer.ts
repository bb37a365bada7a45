// Owns the SQL tokenizer of classification tier 1: one token per next() call, allocation-free,
// following PostgreSQL's lexical rules (comments incl. nested /* */ and --, '' / E'' / B'' / X''
// / N'' / U&'' strings, $tag$ dollar quotes, quoted identifiers, numbers, $n parameters) and
// reading a routing hint from a leading comment. Also builds the normalized text (literals and
// comments removed) the parser's cache is keyed by, and the cheaper literal-free key of the rules.

import type { RouteHint } from './classify-types';

/**
 * Token kinds. Declared module-local and exported at the end: a CommonJS `export const` would
 * turn every use in next() into a property load on the exports object.
 */
const Tok = {
  eof: 0,
  word: 1,
  qident: 2,
  string: 3,
  number: 4,
  param: 5,
  lparen: 6,
  rparen: 7,
  semi: 8,
  dot: 9,
  dcolon: 10,
  op: 11,
  /** Unterminated comment, string, quoted identifier or dollar quote. */
  error: 12,
} as const;
export type TokKind = (typeof Tok)[keyof typeof Tok];

/** Character classes of ASCII, one table lookup per character: bit 1 starts a word, 2 continues one, 4 digit, 8 space. */
const CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const letter = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
  const digit = c >= 48 && c <= 57;
  CLASS[c] = (letter ? 3 : 0) | (digit ? 6 : 0) | (c === 36 ? 2 : 0) | (c === 32 || (c >= 9 && c <= 13) ? 8 : 0);
}

/** Letters, `_`, and every non-ASCII character (PostgreSQL's identifier rules). */
function isIdentStart(c: number): boolean {
  return c >= 128 || (CLASS[c] & 1) !== 0;
}

/** isIdentStart, digits and `$`. */
function isIdentCont(c: number): boolean {
  return c >= 128 || (CLASS[c] & 2) !== 0;
}

function isDigit(c: number): boolean {
  return c < 128 && (CLASS[c] & 4) !== 0;
}

function isSpace(c: number): boolean {
  return c < 128 && (CLASS[c] & 8) !== 0;
}

export function lower(c: number): number {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

const HINT = /^\s*pgmux:\s*(primary|replica)\s*$/i;

/**
 * Reads one token per next() call into (kind, start, end), allocation-free. Comments before the
 * first token are checked for a routing hint.
 */
export class Lexer {
  pos = 0;
  start = 0;
  end = 0;
  kind: TokKind = Tok.eof;
  /** The hint of a comment before the first token, if any. */
  hint: RouteHint | undefined = undefined;
  private tokens = 0;

  constructor(public sql: string) {}

  /** Starts over on `sql`: one lexer serves every statement where one is lexed per request (literalsElided). */
  reset(sql: string): this {
    this.sql = sql;
    this.pos = 0;
    this.start = 0;
    this.end = 0;
    this.kind = Tok.eof;
    this.hint = undefined;
    this.tokens = 0;
    return this;
  }

  next(): TokKind {
    const sql = this.sql;
    const n = sql.length;
    let i = this.pos;
    for (;;) {
      if (i >= n) return this.token(Tok.eof, n, n);
      const c = sql.charCodeAt(i);
      if (isSpace(c)) {
        i++;
      } else if (c === 45 && sql.charCodeAt(i + 1) === 45) {
        const from = i + 2;
        i = from;
        while (i < n && sql.charCodeAt(i) !== 10 && sql.charCodeAt(i) !== 13) i++;
        if (this.tokens === 0) this.readHint(from, i);
      } else if (c === 47 && sql.charCodeAt(i + 1) === 42) {
        const from = i + 2;
        let depth = 1;
        i = from;
        while (i < n && depth > 0) {
          const d = sql.charCodeAt(i);
          if (d === 42 && sql.charCodeAt(i + 1) === 47) {
            depth--;
            i += 2;
          } else if (d === 47 && sql.charCodeAt(i + 1) === 42) {
            depth++;
            i += 2;
          } else {
            i++;
          }
        }
        if (depth > 0) return this.token(Tok.error, from - 2, n);
        if (this.tokens === 0) this.readHint(from, i - 2);
      } else {
        break;
      }
    }
    this.tokens++;
    const c = sql.charCodeAt(i);
    if (isIdentStart(c)) {
      const c1 = sql.charCodeAt(i + 1);
      if (c1 === 39) {
        const l = lower(c);
        if (l === 101) return this.token(Tok.string, i, this.escapeString(i + 1)); // E'…'
        if (l === 98 || l === 120 || l === 110) return this.token(Tok.string, i, this.quoted(i + 1, 39)); // B'' X'' N''
      } else if (c1 === 38 && lower(c) === 117) {
        const c2 = sql.charCodeAt(i + 2);
        if (c2 === 39) return this.token(Tok.string, i, this.quoted(i + 2, 39)); // U&'…'
        if (c2 === 34) return this.token(Tok.qident, i, this.quoted(i + 2, 34)); // U&"…"
      }
      let j = i + 1;
      while (j < n && isIdentCont(sql.charCodeAt(j))) j++;
      return this.token(Tok.word, i, j);
    }
    switch (c) {
      case 39:
        return this.token(Tok.string, i, this.quoted(i, 39));
      case 34:
        return this.token(Tok.qident, i, this.quoted(i, 34));
      case 36:
        return this.dollar(i);
      case 40:
        return this.token(Tok.lparen, i, i + 1);
      case 41:
        return this.token(Tok.rparen, i, i + 1);
      case 59:
        return this.token(Tok.semi, i, i + 1);
      case 46:
        if (isDigit(sql.charCodeAt(i + 1))) return this.token(Tok.number, i, this.number(i));
        return this.token(Tok.dot, i, i + 1);
      case 58:
        if (sql.charCodeAt(i + 1) === 58) return this.token(Tok.dcolon, i, i + 2);
        return this.token(Tok.op, i, i + 1);
      default:
        if (isDigit(c)) return this.token(Tok.number, i, this.number(i));
        return this.token(Tok.op, i, i + 1);
    }
  }

  /** Ends the text here: the next token is the end (for a caller that has seen enough). */
  skipToEnd(): void {
    this.token(Tok.eof, this.sql.length, this.sql.length);
  }

  /** True when the current token is the word `w` (given in lowercase), in any case. */
  is(w: string): boolean {
    return this.kind === Tok.word && wordAt(this.sql, this.start, this.end, w);
  }

  /** The current word, lowercased as PostgreSQL folds unquoted identifiers. */
  word(): string {
    return this.sql.slice(this.start, this.end).toLowerCase();
  }

  /** The content of the current quoted identifier or plain string, quotes undoubled. */
  unquoted(): string {
    const q = this.sql.charAt(this.end - 1);
    return this.sql.slice(this.start + 1, this.end - 1).split(q + q).join(q);
  }

  private token(kind: TokKind, start: number, end: number): TokKind {
    if (end < 0) {
      kind = Tok.error;
      end = this.sql.length;
    }
    this.kind = kind;
    this.start = start;
    this.end = end;
    this.pos = end;
    return kind;
  }

  /** End (exclusive) of a quote-delimited token opened at `q`, doubled quotes escaping; -1 if open. */
  private quoted(q: number, quote: 34 | 39): number {
    const sql = this.sql;
    const ch = quote === 39 ? "'" : '"';
    let j = q + 1;
    for (;;) {
      const k = sql.indexOf(ch, j);
      if (k < 0) return -1;
      if (sql.charCodeAt(k + 1) !== quote) return k + 1;
      j = k + 2;
    }
  }

  /** End of an E'…' string opened at `q`: backslash escapes the next character. */
  private escapeString(q: number): number {
    const sql = this.sql;
    const n = sql.length;
    let j = q + 1;
    while (j < n) {
      const c = sql.charCodeAt(j);
      if (c === 92) {
        j += 2;
      } else if (c === 39) {
        if (sql.charCodeAt(j + 1) !== 39) return j + 1;
        j += 2;
      } else {
        j++;
      }
    }
    return -1;
  }

  /** `$1` parameter, `$tag$…$tag$` string, or a lone `$` operator. */
  private dollar(i: number): TokKind {
    const sql = this.sql;
    const n = sql.length;
    const c1 = sql.charCodeAt(i + 1);
    if (isDigit(c1)) {
      let j = i + 2;
      while (j < n && isDigit(sql.charCodeAt(j))) j++;
      return this.token(Tok.param, i, j);
    }
    if (c1 === 36 || isIdentStart(c1)) {
      let j = i + 1;
      while (j < n && sql.charCodeAt(j) !== 36 && isIdentCont(sql.charCodeAt(j))) j++;
      if (sql.charCodeAt(j) === 36) {
        const tag = sql.slice(i, j + 1);
        const close = sql.indexOf(tag, j + 1);
        return this.token(Tok.string, i, close < 0 ? -1 : close + tag.length);
      }
    }
    return this.token(Tok.op, i, i + 1);
  }

  /** End of a numeric literal: 42, 4.2, .5, 1e-5, 0x1F, 1_000 (PostgreSQL 16). */
  private number(i: number): number {
    const sql = this.sql;
    const n = sql.length;
    let j = i;
    while (j < n) {
      const c = sql.charCodeAt(j);
      if (lower(c) === 101 && (sql.charCodeAt(j + 1) === 43 || sql.charCodeAt(j + 1) === 45) && isDigit(sql.charCodeAt(j + 2))) {
        j += 3;
      } else if (isIdentCont(c) || c === 46) {
        if (c === 36) break;
        j++;
      } else {
        break;
      }
    }
    return j;
  }

  private readHint(from: number, to: number): void {
    if (this.hint !== undefined) return;
    const text = this.sql.slice(from, to);
    if (text.indexOf('pgmux') < 0 && text.indexOf('PGMUX') < 0) return;
    const m = HINT.exec(text);
    if (m) this.hint = m[1].toLowerCase() === 'primary' ? 'primary' : 'replica';
  }
}

/** True when sql[start, end) is the word `w` (lowercase), compared case-insensitively. */
export function wordAt(sql: string, start: number, end: number, w: string): boolean {
  if (end - start !== w.length) return false;
  for (let k = 0; k < w.length; k++) {
    if (lower(sql.charCodeAt(start + k)) !== w.charCodeAt(k)) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Normalized text

/**
 * The statement with literals replaced by NUL (which cannot occur in a statement, so a literal
 * never collides with text), comments dropped, unquoted words lowercased and tokens joined by
 * one space: `SELECT * FROM t WHERE id = 42 -- x` and `select * from t where id = 7` share it.
 * Undefined when the text does not tokenize (unterminated string or comment).
 */
export function normalizedText(sql: string): string | undefined {
  const lx = new Lexer(sql);
  let out = '';
  for (;;) {
    const k = lx.next();
    if (k === Tok.eof) return out;
    if (k === Tok.error) return undefined;
    if (out.length > 0) out += ' ';
    if (k === Tok.string || k === Tok.number) out += '\0';
    else if (k === Tok.word) out += lx.word();
    else out += sql.slice(lx.start, lx.end);
  }
}

/** literalsElided's lexer, reused: it runs for every statement of a client with statement rules. */
const ELIDING = new Lexer('');

/**
 * The statement with each string and number literal replaced by NUL and everything else left as
 * it is (case, spacing, comments): texts equal under it are equal under normalizedText (they
 * differ only inside literals, which the lexer reads alike around), so it keys what is computed
 * per normalized text at the cost of one lexer pass and a few slices; a text with no literal is
 * its own key (no string made). Undefined when the text does not tokenize. With `integers`, the
 * text's plain integer literals are noted there (IntegerLiterals).
 */
export function literalsElided(sql: string, integers?: IntegerLiterals): string | undefined {
  const lx = ELIDING.reset(sql);
  integers?.begin(sql);
  let out = '';
  let from = 0;
  for (;;) {
    const k = lx.next();
    if (k === Tok.eof) return from === 0 ? sql : out + sql.slice(from);
    if (k === Tok.error) {
      integers?.forget();
      return undefined;
    }
    if (k === Tok.string || k === Tok.number) {
      if (k === Tok.number) integers?.number(lx.start, lx.end);
      out += sql.slice(from, lx.start) + '\0';
      from = lx.end;
    }
  }
}

/** Integers noted per text; a change in a later one is not recognised (the text is lexed then). */
const MAX_INTEGERS = 16;

function isAsciiDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * One client's last keyed text and where its plain integer literals (digits only) are, so that
 * its next text can be recognised without lexing it as that text with one integer replaced by
 * other digits (pgbench's `... WHERE aid = 4711`, an ORM's lookups by id). Such a text has the
 * same literalsElided key, because it lexes into the same tokens but that number: the two texts
 * agree before the integer, so the lexer stands at the same token start there (a `.` or `$`
 * just before a digit would have started the token earlier, and did not); a run of digits is a
 * number token whatever its digits; and number() ended the old one at the same next character,
 * which it did not take (no letter, digit, `_` or `.`, else the literal was not digits only), so
 * it ends the new one there too. Everything after is the same text from the same state.
 */
export class IntegerLiterals {
  /** The text described; '' for none (nothing follows it then). */
  private text = '';
  private count = 0;
  /** [start, end) of each integer in `text`, in order. */
  private readonly spans = new Int32Array(2 * MAX_INTEGERS);
  /**
   * The integer that changed last (-1: none yet), and the text before and after it, which stay
   * the same while only it changes: the next text is checked against them with two native
   * string comparisons instead of a character loop over the whole text.
   */
  private hot = -1;
  private before = '';
  private after = '';

  /** literalsElided starts on `sql`. */
  begin(sql: string): void {
    this.text = sql;
    this.count = 0;
    this.hot = -1;
  }

  /** literalsElided met a number token at [start, end): kept if it is digits only. */
  number(start: number, end: number): void {
    if (this.count >= MAX_INTEGERS) return;
    const sql = this.text;
    for (let k = start; k < end; k++) if (!isAsciiDigit(sql.charCodeAt(k))) return;
    this.spans[2 * this.count] = start;
    this.spans[2 * this.count + 1] = end;
    this.count++;
  }

  /**
   * When `text` is the text described: writes the [start, end) of its integers to `out` (room for
   * MAX_INTEGERS) and returns how many; otherwise 0.
   */
  integersOf(text: string, out: Int32Array): number {
    if (text === '' || this.text !== text) return 0;
    const n = 2 * this.count;
    for (let k = 0; k < n; k++) out[k] = this.spans[k];
    return this.count;
  }

  /** Describes no text (it did not tokenize, or was not lexed). */
  forget(): void {
    this.text = '';
    this.count = 0;
    this.hot = -1;
  }

  /**
   * Whether `next` is the text described, or that text with one of its integers replaced by
   * another non-empty run of digits; if so, `next` is the text described from now on.
   */
  follows(next: string): boolean {
    const prev = this.text;
    if (prev === '') return false;
    if (prev === next) return true;
    const n = prev.length;
    const m = next.length;
    const hot = this.hot;
    if (hot >= 0) {
      // next is before + digits + after, the integer at [a, end) in next.
      const a = this.spans[2 * hot];
      const end = this.spans[2 * hot + 1] + m - n;
      if (end > a && digitsOnly(next, a, end) && next.slice(0, a) === this.before && next.slice(end) === this.after) {
        this.moved(hot, end, m - n, next);
        return true;
      }
    }
    const lim = n < m ? n : m;
    let p = 0;
    while (p < lim && prev.charCodeAt(p) === next.charCodeAt(p)) p++;
    let s = 0;
    while (s < lim - p && prev.charCodeAt(n - 1 - s) === next.charCodeAt(m - 1 - s)) s++;
    // prev[p, n - s) became next[p, m - s): that must lie within one integer [a, b) of prev.
    const spans = this.spans;
    for (let i = 0; i < this.count; i++) {
      const a = spans[2 * i];
      const b = spans[2 * i + 1];
      if (a > p) return false;
      if (n - s > b) continue;
      // next is prev[0, a) + next[a, end) + prev[b, n): its integer is next[a, end).
      const end = b + m - n;
      if (end <= a || !digitsOnly(next, a, end)) return false;
      this.hot = i;
      this.before = next.slice(0, a);
      this.after = next.slice(end);
      this.moved(i, end, m - n, next);
      return true;
    }
    return false;
  }

  /** Integer `i` of the text now ends at `end` in `next`, `shift` characters from where it did; those after it moved by as much. */
  private moved(i: number, end: number, shift: number, next: string): void {
    const spans = this.spans;
    if (shift !== 0) {
      spans[2 * i + 1] = end;
      for (let j = i + 1; j < this.count; j++) {
        spans[2 * j] += shift;
        spans[2 * j + 1] += shift;
      }
    }
    this.text = next;
  }
}

function digitsOnly(s: string, from: number, to: number): boolean {
  for (let k = from; k < to; k++) if (!isAsciiDigit(s.charCodeAt(k))) return false;
  return true;
}

export { Tok };
