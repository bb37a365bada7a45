// Owns the checks every decoder spec repeats: decode a frame placed inside a bigger buffer, and
// prove that cut or mis-declared frames come back invalid instead of throwing or reading on.

import type { Invalid } from '../../lib/protocol/frontend/reader';
import { placed, relength } from './bytes';

export type Decoder<T> = (buf: Buffer, start: number, end: number) => T | Invalid;

/** Decodes `f` as it would sit inside a chunk: junk (with NULs) before and after. */
export function decodePlaced<T>(decode: Decoder<T>, f: Buffer): T | Invalid {
  const p = placed(f);
  return decode(p.buf, p.start, p.end);
}

export function expectInvalid<T>(result: T | Invalid, reason?: RegExp): void {
  expect(result).toMatchObject({ kind: 'invalid' });
  const r = (result as Invalid).reason;
  expect(typeof r).toBe('string');
  expect(r.length).toBeGreaterThan(0);
  if (reason) expect(r).toMatch(reason);
}

export interface CutOptions {
  /** Untyped startup packet (length at offset 0, no type byte). */
  untyped?: boolean;
  /**
   * Cuts shorter than this, with the length rewritten to match, must be invalid too. Default:
   * the whole frame (every strict prefix is malformed). Messages whose tail is opaque bytes
   * (Bind's parameters, SASL data) pass the offset where that tail starts.
   */
  relengthUpTo?: number;
}

/**
 * Every strict prefix of `f` is invalid when its header still declares the full length, and
 * (up to relengthUpTo) also when the header is rewritten to declare the cut length.
 */
export function expectCutsInvalid<T>(decode: Decoder<T>, f: Buffer, opts: CutOptions = {}): void {
  const header = opts.untyped ? 8 : 5;
  for (let k = 0; k < f.length; k++) {
    expectInvalidCut(decode, f.subarray(0, k), `${k}-byte prefix (full length declared)`);
  }
  const upTo = opts.relengthUpTo ?? f.length;
  for (let k = header; k < upTo; k++) {
    expectInvalidCut(decode, relength(f.subarray(0, k), !opts.untyped), `${k}-byte prefix (cut length declared)`);
  }
}

function expectInvalidCut<T>(decode: Decoder<T>, cut: Buffer, what: string): void {
  let result: T | Invalid;
  try {
    result = decodePlaced(decode, cut);
  } catch (err) {
    throw new Error(`decoder threw on a ${what}: ${(err as Error).message}`);
  }
  if ((result as { kind?: string }).kind !== 'invalid') throw new Error(`${what} decoded as valid`);
}

/** The frame with `extra` appended and its length rewritten: for decoders that must end exactly. */
export function withTrailing(f: Buffer, extra: Buffer, untyped = false): Buffer {
  return relength(Buffer.concat([f, extra]), !untyped);
}
