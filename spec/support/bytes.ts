// Owns the specs' own byte primitives: protocol fields and frames written with plain Buffer
// calls, independent of lib/protocol/writer.ts, so a Writer bug cannot hide in both sides.

export const cstr = (s: string): Buffer => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);

export const str = (s: string): Buffer => Buffer.from(s, 'utf8');

export const u8 = (n: number): Buffer => Buffer.from([n]);

/** A 16-bit field; negative values as signed, others as unsigned (so 0..65535 all fit). */
export function i16(n: number): Buffer {
  const b = Buffer.alloc(2);
  if (n < 0) b.writeInt16BE(n);
  else b.writeUInt16BE(n);
  return b;
}

/** A 32-bit field; negative values as signed, others as unsigned (so a cancel key of any bits fits). */
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

/** An untyped startup-phase packet: int32 length (body + 4), the body. */
export function untyped(...body: Buffer[]): Buffer {
  const payload = Buffer.concat(body);
  return Buffer.concat([i32(payload.length + 4), payload]);
}
