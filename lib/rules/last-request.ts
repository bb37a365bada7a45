// Owns the last untouched request of the clients that share a view of the rules: the text of the
// one statement of a request no rule touched, kept so that a next request whose statement is that
// text, or that text with the digits of one integer literal changed (pgbench's next account), is
// known to be untouched too from its bytes, without decoding it, reading it into statement
// objects or matching it. Which requests qualify and why the answer carries over is
// ./client-rules' (admit); this module only finds the statement in a request and compares its
// bytes with the kept text.

import { FrontendCode } from '../protocol/codes';

/** Texts longer than this are not kept (every request of such a client goes the usual way). */
const MAX_TEXT = 1024;
/** Integer literals noted per text (lib/routing's IntegerLiterals notes as many). */
export const MAX_INTEGERS = 16;

/**
 * What a request like the kept one costs is the memory it touches (per request, among 100
 * clients, after the kernel and PostgreSQL have run on the same cores): the kept text is the
 * decoded string itself (one object, no copy to keep up to date) and the integer that changed
 * last is two fields of this object, so a request like the last one reads this object, that
 * string and its own bytes, and writes nothing.
 */
export class LastRequest {
  /** The kept text, ASCII only (byte offsets in a request are its character offsets); '' for none. */
  private text = '';
  /** [start, end) of each integer literal of the text, from IntegerLiterals; none: only the same bytes follow. */
  readonly spans = new Int32Array(2 * MAX_INTEGERS);
  private count = 0;
  /** The integer found changed last, [hotStart, hotEnd) in the text; -1: none yet. */
  private hotStart = -1;
  private hotEnd = -1;
  /** What the answer was given under (the client's view of the rules); null when nothing is kept. */
  owner: object | null = null;
  /** Where found() saw the request's statement text; textEnd is -1 until a Parse's is looked for (textEndIn). */
  private textStart = 0;
  private textEnd = 0;
  /** The end of the message holding the text. */
  private messageEnd = 0;

  /**
   * Keeps `text`, the statement text of `request` (decoded), with `count` integers already
   * written to `spans`. Nothing is kept for a text that is not ASCII or too long.
   */
  keep(request: Buffer, text: string, count: number, owner: object): void {
    this.owner = null;
    if (!this.found(request)) return;
    const start = this.textStart;
    const n = this.textEndIn(request) - start;
    if (n !== text.length || n > MAX_TEXT) return;
    for (let k = 0; k < n; k++) if (request[start + k] >= 0x80) return;
    this.text = text;
    this.count = count;
    this.hotStart = -1;
    this.hotEnd = -1;
    this.owner = owner;
  }

  forget(): void {
    this.owner = null;
  }

  /**
   * Whether `request` is one statement (a Query, or a Parse with Binds of the unnamed statement,
   * Describe, Execute, Close, Flush, Sync), all messages complete, whose text is the kept text or
   * that text with one of its integers replaced by another non-empty run of digits.
   */
  follows(request: Buffer): boolean {
    if (!this.found(request)) return false;
    const s = this.textStart;
    const text = this.text;
    const n = text.length;
    if (this.textEnd < 0) {
      // A Parse: its text is most often the kept one (a driver parsing its statement again per
      // execution), told by the NUL where the kept text ends (the same bytes hold no NUL) without
      // looking for it first.
      if (s + n < this.messageEnd && request[s + n] === 0 && same(request, s, text, 0, n)) return true;
      if (this.count === 0) return false;
    }
    const m = this.textEndIn(request) - s;
    if (m < 0) return false;
    if (this.hotStart >= 0 && this.replaces(request, s, m, this.hotStart, this.hotEnd)) return true;
    if (m === n && same(request, s, text, 0, m)) return true;
    const spans = this.spans;
    for (let i = 0; i < this.count; i++) {
      const a = spans[2 * i];
      const b = spans[2 * i + 1];
      if (this.replaces(request, s, m, a, b)) {
        this.hotStart = a;
        this.hotEnd = b;
        return true;
      }
    }
    return false;
  }

  /** The request's text (at s, m long) is the kept text with its integer at [a, b) replaced by other digits. */
  private replaces(request: Buffer, s: number, m: number, a: number, b: number): boolean {
    const text = this.text;
    const n = text.length;
    const end = m - (n - b);
    if (end <= a) return false;
    for (let k = s + a; k < s + end; k++) {
      const c = request[k];
      if (c < 48 || c > 57) return false;
    }
    return same(request, s, text, 0, a) && same(request, s + end, text, b, n - b);
  }

  /** The end of the text found() found in `request` (a Parse's looked for now), or -1 when it has none. */
  private textEndIn(request: Buffer): number {
    if (this.textEnd >= 0) return this.textEnd;
    const end = this.messageEnd;
    let k = this.textStart;
    while (k < end && request[k] !== 0) k++;
    if (k >= end) return -1;
    return (this.textEnd = k);
  }

  /** Finds the one statement text of `request` (textStart, textEnd); false when it is not such a request. */
  private found(request: Buffer): boolean {
    const len = request.length;
    let pos = 0;
    let found = false;
    while (pos < len) {
      if (pos + 5 > len) return false;
      const end = pos + 1 + request.readInt32BE(pos + 1);
      if (end < pos + 5 || end > len) return false;
      const body = pos + 5;
      switch (request[pos]) {
        case FrontendCode.Query:
          // The text is the body up to its NUL; one inside makes the comparison fail (a kept text has none).
          if (found || end === body || request[end - 1] !== 0) return false;
          found = true;
          this.textStart = body;
          this.textEnd = end - 1;
          break;
        case FrontendCode.Parse: {
          if (found) return false;
          let k = body;
          while (k < end && request[k] !== 0) k++;
          found = true;
          this.textStart = k + 1;
          this.textEnd = -1;
          this.messageEnd = end;
          break;
        }
        case FrontendCode.Bind:
          // The unnamed portal of the unnamed statement: a named statement's Bind runs a text of its own.
          if (end - body < 2 || request[body] !== 0 || request[body + 1] !== 0) return false;
          break;
        case FrontendCode.Describe:
        case FrontendCode.Execute:
        case FrontendCode.Close:
        case FrontendCode.Flush:
        case FrontendCode.Sync:
          break;
        default:
          return false;
      }
      pos = end;
    }
    return found;
  }
}

/** buf[from, from + n) are the character codes of text[at, at + n). */
function same(buf: Buffer, from: number, text: string, at: number, n: number): boolean {
  for (let k = 0; k < n; k++) if (buf[from + k] !== text.charCodeAt(at + k)) return false;
  return true;
}
