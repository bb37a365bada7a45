// Owns the token buckets of rate= rules: one per rule, or per (rule, user) or (rule, client
// address) with rate_by=. A bucket holds up to `burst` tokens and gains `perSecond` a second; a
// statement takes one or learns how long until one is there. Buckets of a rule that RELOAD left
// unchanged carry over, so a reload does not hand a throttled job a fresh burst.

import type { RateDef } from '../config';

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (ms, any monotonic clock). */
  at: number;
  readonly rate: RateDef;
}

/** Buckets kept before full ones (which behave exactly as a new bucket) are dropped. */
const PRUNE_ABOVE = 10_000;

export class Buckets {
  private readonly buckets = new Map<string, Bucket>();

  /** The ms until the bucket `key` has a token at `now` (0: it has one now); takes nothing. */
  peek(key: string, rate: RateDef, now: number): number {
    const b = this.buckets.get(key);
    if (b === undefined || b.rate.perSecond !== rate.perSecond || b.rate.burst !== rate.burst) return 0;
    const tokens = Math.min(rate.burst, b.tokens + ((now - b.at) * rate.perSecond) / 1000);
    return tokens >= 1 ? 0 : Math.max(1, Math.ceil(((1 - tokens) * 1000) / rate.perSecond));
  }

  /**
   * Takes a token from the bucket `key` of a rule with `rate` at `now` (ms). Returns 0 when one
   * was taken, else the ms until the next token (nothing is taken then).
   */
  take(key: string, rate: RateDef, now: number): number {
    let b = this.buckets.get(key);
    if (b === undefined || b.rate.perSecond !== rate.perSecond || b.rate.burst !== rate.burst) {
      if (this.buckets.size >= PRUNE_ABOVE) this.prune(now);
      b = { tokens: rate.burst, at: now, rate };
      this.buckets.set(key, b);
    }
    const tokens = Math.min(rate.burst, b.tokens + ((now - b.at) * rate.perSecond) / 1000);
    b.at = now;
    if (tokens >= 1) {
      b.tokens = tokens - 1;
      return 0;
    }
    b.tokens = tokens;
    return Math.max(1, Math.ceil(((1 - tokens) * 1000) / rate.perSecond));
  }

  /** Forgets buckets of rules no longer loaded (their keys start with a name not in `names`). */
  keepOnly(names: ReadonlySet<string>): void {
    for (const key of this.buckets.keys()) if (!names.has(key.slice(0, key.indexOf('\u0000')))) this.buckets.delete(key);
  }

  get size(): number {
    return this.buckets.size;
  }

  private prune(now: number): void {
    for (const [key, b] of this.buckets) {
      if (b.tokens + ((now - b.at) * b.rate.perSecond) / 1000 >= b.rate.burst) this.buckets.delete(key);
    }
  }
}

/** The bucket key of a rule for a client: `name\0` alone, or with the user or the address. */
export function bucketKey(rule: string, rate: RateDef, user: string, address: string): string {
  switch (rate.by) {
    case 'rule':
      return `${rule}\u0000`;
    case 'user':
      return `${rule}\u0000u\u0000${user}`;
    case 'address':
      return `${rule}\u0000a\u0000${address}`;
  }
}
