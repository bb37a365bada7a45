// Owns the random bytes of per-connection secrets (md5 salts, cancel keys): drawn from node's
// CSPRNG a few KiB at a time. One randomBytes(4) per draw was 15 % of pgmux's JS time in a
// connect-per-transaction profile (two draws per login, each a native CSPRNG call); node's own
// randomInt keeps a cache the same way.

import { randomFillSync } from 'node:crypto';

const POOL_SIZE = 4096;
const pool = Buffer.alloc(POOL_SIZE);
/** Bytes of pool already handed out; each byte is handed out once. */
let used = POOL_SIZE;

/** `n` (at most 4096) fresh random bytes, in a buffer of the caller's own. */
export function randomBytes(n: number): Buffer {
  if (n > POOL_SIZE) throw new RangeError(`randomBytes: ${n} bytes is more than the pool holds`);
  if (used + n > POOL_SIZE) {
    randomFillSync(pool);
    used = 0;
  }
  const out = Buffer.from(pool.subarray(used, used + n));
  // Wiped once handed out, so the pool never holds a secret that is already in use.
  pool.fill(0, used, used + n);
  used += n;
  return out;
}

/** A random signed 32-bit integer (a cancel key's secret). */
export function randomInt32(): number {
  return randomBytes(4).readInt32BE(0);
}
