// Owns the fuzzer's byte builders: frames and startup packets written out byte by byte, and the
// mutations applied to them. Independent of lib/protocol, so that pgmux is checked against the
// protocol and not against itself.

import type { Rng } from './prng';

export const i32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n | 0);
  return b;
};

export const i16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(((n + 0x8000) & 0xffff) - 0x8000);
  return b;
};

export const cstr = (s: string): Buffer => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);

/** A typed message: type byte, int32 length (counting itself), body. */
export function typed(type: string | number, ...body: Buffer[]): Buffer {
  const b = Buffer.concat(body);
  const t = typeof type === 'string' ? type.charCodeAt(0) : type;
  return Buffer.concat([Buffer.from([t & 0xff]), i32(b.length + 4), b]);
}

/** An untyped startup-phase packet: int32 length (counting itself), body. */
export function untyped(...body: Buffer[]): Buffer {
  const b = Buffer.concat(body);
  return Buffer.concat([i32(b.length + 4), b]);
}

export function startupPacket(params: readonly (readonly [string, string])[], minor = 0): Buffer {
  return untyped(i32((3 << 16) | minor), ...params.flatMap(([k, v]) => [cstr(k), cstr(v)]), Buffer.from([0]));
}

/** A header alone: a type and a declared length, no body. */
export function header(type: string | number, length: number): Buffer {
  const t = typeof type === 'string' ? type.charCodeAt(0) : type;
  return Buffer.concat([Buffer.from([t & 0xff]), i32(length)]);
}

/** One to three random edits: flip, overwrite, insert, delete, duplicate, or a new length field. */
export function mutate(rng: Rng, input: Buffer, lengthAt: number): Buffer {
  let b = Buffer.from(input);
  const edits = rng.int(1, 3);
  for (let e = 0; e < edits && b.length > 0; e++) {
    const at = rng.int(0, b.length - 1);
    switch (rng.int(0, 5)) {
      case 0:
        b[at] = b[at]! ^ (1 << rng.int(0, 7));
        break;
      case 1:
        b[at] = rng.int(0, 255);
        break;
      case 2:
        b = Buffer.concat([b.subarray(0, at), rng.bytes(rng.int(1, 4)), b.subarray(at)]);
        break;
      case 3:
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + rng.int(1, 4)))]);
        break;
      case 4: {
        const end = Math.min(b.length, at + rng.int(1, 16));
        b = Buffer.concat([b.subarray(0, end), b.subarray(at, end), b.subarray(end)]);
        break;
      }
      case 5:
        if (b.length >= lengthAt + 4) b.writeInt32BE(lengthLie(rng, b.readInt32BE(lengthAt)) | 0, lengthAt);
        break;
    }
  }
  return b;
}

/** A length field's lie: near the truth, a boundary, or anything. */
export function lengthLie(rng: Rng, truth: number): number {
  return rng.weighted<number>([
    [4, truth + rng.int(-8, 8)],
    [2, rng.pick([0, 3, 4, 7, 8, 9, 9999, 10000, 10001, 65535, 65536, 0x3ffffffe, 0x3fffffff, 0x40000000, 0x7ffffff0, 0x7fffffff, -1])],
    [1, rng.next() | 0],
  ]);
}
