// Owns the random bytes of per-connection secrets (md5 salts, cancel keys): drawn from node's
// CSPRNG a few KiB at a time. One randomBytes(4) per draw was 15 % of pgmux's JS time in a
// connect-per-transaction profile (two draws per login, each a native CSPRNG call); node's own
// randomInt keeps a cache the same way.

import { randomFillSync } from 'node:crypto';

const POOL_SIZE = 4096;
const pool = Buffer.alloc(POOL_SIZE);
/** Bytes of pool already handed out; each byte is handed out once. */
let used = POOL_SIZE;

/** Draws shorter than this are copied and wiped byte by byte: cheaper than two native calls. */
const SHORT_DRAW = 64;

/** `n` (at most 4096) fresh random bytes, in a buffer of the caller's own. */
export function randomBytes(n: number): Buffer {
  if (n > POOL_SIZE) throw new RangeError(`randomBytes: ${n} bytes is more than the pool holds`);
  if (used + n > POOL_SIZE) refill();
  const out = Buffer.allocUnsafe(n);
  // Wiped once handed out, so the pool never holds a secret that is already in use.
  if (n < SHORT_DRAW) {
    for (let i = 0; i < n; i++) {
      out[i] = pool[used + i];
      pool[used + i] = 0;
    }
  } else {
    pool.copy(out, 0, used, used + n);
    pool.fill(0, used, used + n);
  }
  used += n;
  return out;
}

/** A random signed 32-bit integer (a cancel key's pid and secret): read and wiped in place, no buffer made. */
export function randomInt32(): number {
  if (used + 4 > POOL_SIZE) refill();
  const at = used;
  const value = ((pool[at] << 24) | (pool[at + 1] << 16) | (pool[at + 2] << 8) | pool[at + 3]) | 0;
  pool[at] = 0;
  pool[at + 1] = 0;
  pool[at + 2] = 0;
  pool[at + 3] = 0;
  used += 4;
  return value;
}

function refill(): void {
  randomFillSync(pool);
  used = 0;
}
