// Writer: header reservation, growth, right-sized output, reuse, independence of writers.

import { Writer } from '../../lib/protocol/writer';
import { cstr, frame, i16, i32, str, u8, untyped } from './bytes';

describe('Writer', () => {
  it('fills in type and length on finish(code)', () => {
    const out = new Writer().int32(7).cstring('abc').finish(0x51);
    expect(out).toEqual(frame('Q', i32(7), cstr('abc')));
    expect(out.readInt32BE(1)).toBe(out.length - 1);
  });

  it('writes only the length for untyped packets', () => {
    const out = new Writer().int32(80877103).finishUntyped();
    expect(out).toEqual(untyped(i32(80877103)));
    expect(out.readInt32BE(0)).toBe(out.length);
  });

  it('writes an empty body as a bare header', () => {
    expect(new Writer().finish(0x53)).toEqual(Buffer.from([0x53, 0, 0, 0, 4]));
    expect(new Writer(0).finish(0x53)).toEqual(Buffer.from([0x53, 0, 0, 0, 4]));
  });

  it('grows from a tiny size hint without losing bytes', () => {
    const w = new Writer(5);
    const long = 'x'.repeat(10000);
    w.int8(1).cstring(long).int16(2).int32(3).string('tail').bytes(Buffer.from([9, 8]));
    const out = w.finish(0x50);
    expect(out).toEqual(frame('P', u8(1), cstr(long), i16(2), i32(3), str('tail'), Buffer.from([9, 8])));
  });

  it('returns a right-sized buffer, not the grown one', () => {
    const out = new Writer(4096).cstring('a').finish(0x51);
    expect(out.length).toBe(7);
  });

  it('resets after finish, so the next frame starts clean', () => {
    const w = new Writer(8);
    const first = w.cstring('first frame').finish(0x51);
    const second = w.cstring('2').finish(0x51);
    expect(second).toEqual(frame('Q', cstr('2')));
    expect(first).toEqual(frame('Q', cstr('first frame')));
  });

  it('never lets a later frame overwrite an earlier one (exact-size hand-over)', () => {
    // Hint 6 = header + one byte: the first finish hands the buffer over without copying.
    const w = new Writer(6);
    const a = w.int8(0xaa).finish(0x31);
    const b = w.int8(0xbb).finish(0x32);
    const c = w.int8(0xcc).int8(0xdd).finish(0x33);
    expect(a).toEqual(frame('1', u8(0xaa)));
    expect(b).toEqual(frame('2', u8(0xbb)));
    expect(c).toEqual(frame('3', u8(0xcc), u8(0xdd)));
  });

  it('keeps two interleaved writers independent (no shared module state)', () => {
    const w1 = new Writer(8);
    const w2 = new Writer(8);
    w1.cstring('one');
    w2.cstring('two');
    w1.int16(1);
    const f2 = w2.finish(0x54);
    const f1 = w1.finish(0x54);
    expect(f1).toEqual(frame('T', cstr('one'), i16(1)));
    expect(f2).toEqual(frame('T', cstr('two')));
  });

  it('reset() discards what was written', () => {
    const w = new Writer();
    w.cstring('discarded');
    w.reset();
    expect(w.bodyLength).toBe(0);
    expect(w.cstring('kept').finish(0x51)).toEqual(frame('Q', cstr('kept')));
  });

  it('writes UTF-8 and counts bytes, not characters', () => {
    const out = new Writer(6).cstring('héllo ✓').finish(0x51);
    expect(out).toEqual(frame('Q', cstr('héllo ✓')));
    expect(out.readInt32BE(1)).toBe(4 + Buffer.byteLength('héllo ✓') + 1);
  });

  it('cuts a C string at an embedded NUL instead of shifting later fields', () => {
    const out = new Writer().cstring('ab\u0000cd').int16(5).finish(0x51);
    expect(out).toEqual(frame('Q', cstr('ab'), i16(5)));
  });

  it('keeps the low bits of out-of-range integers, as the wire types do', () => {
    const out = new Writer().int8(255).int8(-1).int16(65535).int16(-1).int32(0xffffffff).int32(-1).finish(0x44);
    expect(out.subarray(5)).toEqual(Buffer.alloc(1 + 1 + 2 + 2 + 4 + 4, 0xff));
  });
});
