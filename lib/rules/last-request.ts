// Owns a client's last untouched request as bytes: the text of the one statement of a request no
// rule touched, kept so that the client's next request whose statement is those bytes, or those
// bytes with the digits of one integer literal changed (pgbench's next account), is known to be
// untouched too without decoding it, reading it into statement objects or matching it. Which
// requests qualify and why the answer carries over is ./client-rules' (admit); this module only
// finds the statement in a request and compares bytes.

import { FrontendCode } from '../protocol/codes';

/** Texts longer than this are not kept (every request of such a client goes the usual way). */
const MAX_TEXT = 1024;
/** Integer literals noted per text (lib/routing's IntegerLiterals notes as many). */
export const MAX_INTEGERS = 16;

export class LastRequest {
  /** The text's bytes (ASCII only: byte offsets are the decoded text's character offsets). */
  private bytes: Buffer | null = null;
  private length = 0;
  /** [start, end) of each integer literal of the text, from IntegerLiterals; none: only the same bytes follow. */
  readonly spans = new Int32Array(2 * MAX_INTEGERS);
  private count = 0;
  /** The integer that changed last (-1: none yet): checked first. */
  private hot = -1;
  /** What the answer was given under (the client's view of the rules); null when nothing is kept. */
  owner: object | null = null;
  /** Where found() saw the request's statement text. */
  private textStart = 0;
  private textEnd = 0;

  /**
   * Keeps the statement text of `request` (found by found(), decoded as `text`) with `count`
   * integers already written to `spans`. Nothing is kept for a text that is not ASCII or too long.
   */
  keep(request: Buffer, text: string, count: number, owner: object): void {
    this.owner = null;
    if (!this.found(request)) return;
    const start = this.textStart;
    const n = this.textEnd - start;
    if (n !== text.length || n > MAX_TEXT) return;
    if (this.bytes === null || this.bytes.length < n) this.bytes = Buffer.allocUnsafe(Math.min(MAX_TEXT, Math.max(128, 2 * n)));
    const bytes = this.bytes;
    for (let k = 0; k < n; k++) {
      const c = request[start + k];
      if (c >= 0x80) return;
      bytes[k] = c;
    }
    this.length = n;
    this.count = count;
    this.hot = -1;
    this.owner = owner;
  }

  forget(): void {
    this.owner = null;
  }

  /**
   * Whether `request` is one statement (a Query, or a Parse with Binds of the unnamed statement,
   * Describe, Execute, Close, Flush, Sync), all messages complete, whose text is the kept text or
   * that text with one of its integers replaced by another non-empty run of digits; if so, that
   * text is the kept one from now on.
   */
  follows(request: Buffer): boolean {
    if (!this.found(request)) return false;
    const p = this.bytes as Buffer;
    const n = this.length;
    const s = this.textStart;
    const m = this.textEnd - s;
    const spans = this.spans;
    const hot = this.hot;
    if (hot >= 0) {
      const a = spans[2 * hot];
      const b = spans[2 * hot + 1];
      const end = b + m - n;
      if (end > a && digits(request, s + a, s + end) && same(request, s, p, 0, a) && same(request, s + end, p, b, n - b)) return this.moved(hot, request, s, end);
    }
    if (m === n && same(request, s, p, 0, n)) return true;
    const lim = n < m ? n : m;
    let q = 0;
    while (q < lim && p[q] === request[s + q]) q++;
    let t = 0;
    while (t < lim - q && p[n - 1 - t] === request[s + m - 1 - t]) t++;
    // p[q, n - t) became the request's [q, m - t): that must lie within one integer [a, b).
    for (let i = 0; i < this.count; i++) {
      const a = spans[2 * i];
      const b = spans[2 * i + 1];
      if (a > q) return false;
      if (n - t > b) continue;
      const end = b + m - n;
      if (end <= a || !digits(request, s + a, s + end)) return false;
      this.hot = i;
      return this.moved(i, request, s, end);
    }
    return false;
  }

  /** Integer `i` is now the request's [a, end) (text offsets): the kept text becomes the request's. */
  private moved(i: number, request: Buffer, s: number, end: number): boolean {
    const spans = this.spans;
    const a = spans[2 * i];
    const b = spans[2 * i + 1];
    const shift = end - b;
    const p = this.bytes as Buffer;
    const n = this.length;
    if (shift !== 0) {
      if (n + shift > p.length) {
        // No room to keep it: the answer holds, the next request goes the usual way.
        this.owner = null;
        return true;
      }
      p.copyWithin(end, b, n);
      spans[2 * i + 1] = end;
      for (let j = i + 1; j < this.count; j++) {
        spans[2 * j] += shift;
        spans[2 * j + 1] += shift;
      }
      this.length = n + shift;
    }
    for (let k = a; k < end; k++) p[k] = request[s + k];
    return true;
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
          const text = k + 1;
          k = text;
          while (k < end && request[k] !== 0) k++;
          if (k >= end) return false;
          found = true;
          this.textStart = text;
          this.textEnd = k;
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

function digits(buf: Buffer, from: number, to: number): boolean {
  for (let k = from; k < to; k++) {
    const c = buf[k];
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** buf[from, from + n) equals p[at, at + n). */
function same(buf: Buffer, from: number, p: Buffer, at: number, n: number): boolean {
  for (let k = 0; k < n; k++) if (buf[from + k] !== p[at + k]) return false;
  return true;
}
