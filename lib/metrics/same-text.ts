// Owns telling, from its bytes alone, that a statement text has a fingerprint already known: a
// fingerprint keeps one text that gave it (a copy of its bytes, a few hundred at most) with the
// offsets of its integer literals, and a text equal to it, or equal but for the digits of one
// integer literal (pgbench's next account, a driver's next id), is the same statement. A
// client's next request is most often such a text: comparing bytes costs a fraction of
// fingerprinting them (./fingerprint.ts), and the client keeps only which fingerprint it had last.
//
// Why the answer carries over: the scanner reads left to right, so bytes equal up to a literal
// leave it in the same state there; at the literal it reads a number that ends where the kept
// one ended (at a byte that no number continues with, equal in both), and from there on the
// bytes, hence the tokens, are equal again. A kept text holds no trace id (a text with one is
// never kept), and a changed run of digits outside comments cannot make one.

/** Texts longer than this are not kept: their requests are fingerprinted the usual way. */
export const SAMPLE_MAX = 512;
/** Integer literals noted per text (the rest, if they change, make the text a stranger). */
export const MAX_INTEGERS = 16;

export class SameText {
  /**
   * The kept bytes, four to a word (byte k is bits 8(k % 4) up of word k / 4, whatever the
   * platform's byte order; 0 past the end). A request's text is compared four bytes at a time:
   * one load of the kept text and one comparison per four bytes instead of per byte, which is
   * two thirds of the time a byte loop takes on pgbench's SELECT (bench/metrics.ts --micro).
   */
  private readonly words: Int32Array;
  /** The kept text's length in bytes (it counts against the table's budget). */
  readonly length: number;
  /** [start, end) of each integer literal in the kept text. */
  private readonly spans: Int32Array;
  /** Index of the literal found changed last (it is most likely to change again), or -1. */
  private hot = -1;

  /**
   * Keeps buf[start, end), whose integer literals are at `spans[0, 2 * count)` (offsets from
   * `start`, as the scanner found them).
   */
  constructor(buf: Buffer, start: number, end: number, spans: Int32Array, count: number) {
    const n = end - start;
    const words = new Int32Array((n + 3) >> 2);
    for (let k = 0; k < n; k++) words[k >> 2] |= buf[start + k] << ((k & 3) << 3);
    this.words = words;
    this.length = n;
    this.spans = spans.slice(0, 2 * count);
  }

  /** Whether buf[start, end) is the kept text, or it with one integer's digits replaced by other digits. */
  matches(buf: Buffer, start: number, end: number): boolean {
    const n = this.length;
    const m = end - start;
    const spans = this.spans;
    const hot = this.hot;
    if (hot >= 0 && this.replaces(buf, start, m, spans[2 * hot], spans[2 * hot + 1])) return true;
    if (m === n && equal(buf, start, this.words, 0, n)) return true;
    const count = spans.length >> 1;
    for (let i = 0; i < count; i++) {
      if (i !== hot && this.replaces(buf, start, m, spans[2 * i], spans[2 * i + 1])) {
        this.hot = i;
        return true;
      }
    }
    return false;
  }

  /** The request's text (at s, m long) is the kept text with its integer at [a, b) replaced by a run of digits. */
  private replaces(buf: Buffer, s: number, m: number, a: number, b: number): boolean {
    const n = this.length;
    // The digits in the request end where the kept text's tail begins.
    const digitsEnd = m - (n - b);
    if (digitsEnd <= a) return false;
    for (let k = s + a; k < s + digitsEnd; k++) {
      const c = buf[k];
      if (c < 0x30 || c > 0x39) return false;
    }
    return equal(buf, s, this.words, 0, a) && equal(buf, s + digitsEnd, this.words, b, n - b);
  }
}

/** Byte k of the text packed in `words`. */
function byteAt(words: Int32Array, k: number): number {
  return (words[k >> 2] >>> ((k & 3) << 3)) & 0xff;
}

/** buf[from, from + n) equals the packed text's bytes [at, at + n): byte by byte up to a word boundary of the text, then a word at a time. */
function equal(buf: Buffer, from: number, words: Int32Array, at: number, n: number): boolean {
  let k = 0;
  for (; k < n && ((at + k) & 3) !== 0; k++) if (buf[from + k] !== byteAt(words, at + k)) return false;
  for (; k + 4 <= n; k += 4) {
    const i = from + k;
    if ((buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24)) !== words[(at + k) >> 2]) return false;
  }
  for (; k < n; k++) if (buf[from + k] !== byteAt(words, at + k)) return false;
  return true;
}
