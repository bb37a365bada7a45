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
  /** [start, end) of each integer literal in `bytes`. */
  private readonly spans: Int32Array;
  /** Index of the literal found changed last (it is most likely to change again), or -1. */
  private hot = -1;

  /**
   * Keeps buf[start, end), whose integer literals are at `spans[0, 2 * count)` (offsets from
   * `start`, as the scanner found them).
   */
  constructor(buf: Buffer, start: number, end: number, spans: Int32Array, count: number) {
    this.bytes = Buffer.allocUnsafeSlow(end - start);
    buf.copy(this.bytes, 0, start, end);
    this.spans = spans.slice(0, 2 * count);
  }

  /** The kept bytes (their length counts against the table's budget). */
  readonly bytes: Buffer;

  /** Whether buf[start, end) is the kept text, or it with one integer's digits replaced by other digits. */
  matches(buf: Buffer, start: number, end: number): boolean {
    const text = this.bytes;
    const n = text.length;
    const m = end - start;
    const spans = this.spans;
    const hot = this.hot;
    if (hot >= 0 && this.replaces(buf, start, m, spans[2 * hot], spans[2 * hot + 1])) return true;
    if (m === n && equal(buf, start, text, 0, n)) return true;
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
    const text = this.bytes;
    const n = text.length;
    // The digits in the request end where the kept text's tail begins.
    const digitsEnd = m - (n - b);
    if (digitsEnd <= a) return false;
    for (let k = s + a; k < s + digitsEnd; k++) {
      const c = buf[k];
      if (c < 0x30 || c > 0x39) return false;
    }
    return equal(buf, s, text, 0, a) && equal(buf, s + digitsEnd, text, b, n - b);
  }
}

/** buf[from, from + n) equals text[at, at + n). */
function equal(buf: Buffer, from: number, text: Buffer, at: number, n: number): boolean {
  for (let k = 0; k < n; k++) if (buf[from + k] !== text[at + k]) return false;
  return true;
}
