// Owns the protocol specs' byte tools beyond the shared primitives (spec/support/bytes.ts, which
// it re-exports): frames that lie about their length, re-lengthed cuts, frames placed in junk.

import { i32 } from '../support/bytes';

export { cstr, frame, i16, i32, str, u8, untyped } from '../support/bytes';

/** A typed frame whose header declares `declared` whatever the body holds. */
export function frameDeclaring(type: string, declared: number, ...body: Buffer[]): Buffer {
  return Buffer.concat([Buffer.from(type, 'latin1'), i32(declared), ...body]);
}

/** The same frame with its declared length rewritten to match its (possibly cut) size. */
export function relength(f: Buffer, typed = true): Buffer {
  const out = Buffer.from(f);
  if (typed) out.writeInt32BE(out.length - 1, 1);
  else out.writeInt32BE(out.length, 0);
  return out;
}

/**
 * `f` inside a bigger buffer: junk before, and after it bytes that include NULs and valid-looking
 * text. A decoder that reads past `end` (e.g. finds a NUL there) is caught by this.
 */
export function placed(f: Buffer): { buf: Buffer; start: number; end: number } {
  const before = Buffer.from('JUNK\u0000JUNK', 'latin1');
  const after = Buffer.from('\u0000\u0000tail\u0000\u0000\u0000\u0000more\u0000', 'latin1');
  return { buf: Buffer.concat([before, f, after]), start: before.length, end: before.length + f.length };
}
