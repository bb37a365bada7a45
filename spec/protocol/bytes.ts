// Owns the specs' own byte builder: expected frames written field by field with plain Buffer
// calls, independent of lib/protocol/writer.ts, so a Writer bug cannot hide in both sides.

export const cstr = (s: string): Buffer => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);

export const str = (s: string): Buffer => Buffer.from(s, 'utf8');

export const u8 = (n: number): Buffer => Buffer.from([n]);

export function i16(n: number): Buffer {
  const b = Buffer.alloc(2);
  if (n < 0) b.writeInt16BE(n);
  else b.writeUInt16BE(n);
  return b;
}

export function i32(n: number): Buffer {
  const b = Buffer.alloc(4);
  if (n < 0) b.writeInt32BE(n);
  else b.writeUInt32BE(n);
  return b;
}

/** A typed frame: the type letter, the int32 length (body + 4), the body. */
export function frame(type: string, ...body: Buffer[]): Buffer {
  const payload = Buffer.concat(body);
  return Buffer.concat([Buffer.from(type, 'latin1'), i32(payload.length + 4), payload]);
}

/** A typed frame whose header declares `declared` whatever the body holds. */
export function frameDeclaring(type: string, declared: number, ...body: Buffer[]): Buffer {
  return Buffer.concat([Buffer.from(type, 'latin1'), i32(declared), ...body]);
}

/** An untyped startup-phase packet: int32 length (body + 4), the body. */
export function untyped(...body: Buffer[]): Buffer {
  const payload = Buffer.concat(body);
  return Buffer.concat([i32(payload.length + 4), payload]);
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
