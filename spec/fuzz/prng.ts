// Owns the fuzzer's randomness: a seeded sfc32 generator, so that a seed and a case number name
// one case exactly (a failure is replayed with --seed S --only N), and the few draws the
// generators need (integers, picks, weighted choices, bytes).

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** The generator of case `n` under `seed`: independent of how many draws other cases made. */
  static forCase(seed: number, n: number): Rng {
    return new Rng(seed ^ 0x9e3779b9, Math.imul(n + 1, 0x85ebca6b), n ^ 0xc2b2ae35, seed + n);
  }

  constructor(a: number, b: number, c: number, d: number) {
    this.a = a | 0;
    this.b = b | 0;
    this.c = c | 0;
    this.d = d | 0;
    for (let i = 0; i < 15; i++) this.next();
  }

  /** A uniform 32-bit unsigned integer (sfc32). */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor((this.next() / 0x100000000) * (max - min + 1));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() / 0x100000000 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)]!;
  }

  /** One of `choices`, each with its weight. */
  weighted<T>(choices: readonly (readonly [number, T])[]): T {
    let total = 0;
    for (const [w] of choices) total += w;
    let r = this.int(0, total - 1);
    for (const [w, v] of choices) {
      if (r < w) return v;
      r -= w;
    }
    return choices[choices.length - 1]![1];
  }

  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.next() & 0xff;
    return out;
  }

  /** A length, mostly small, sometimes up to `max`. */
  size(max: number): number {
    return this.weighted([
      [6, this.int(0, Math.min(16, max))],
      [3, this.int(0, Math.min(256, max))],
      [1, this.int(0, max)],
    ]);
  }
}
