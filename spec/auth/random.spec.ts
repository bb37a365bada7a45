// Unit spec of lib/auth/random: per-connection secrets come from a pooled CSPRNG draw, and no
// byte is handed out twice (two clients with the same md5 salt or cancel secret would be a
// replay or cancel-spoofing hole).

import { randomBytes, randomInt32 } from '../../lib/auth/random';

describe('pooled random bytes', () => {
  it('never hands out the same bytes twice, across many pool refills (catches a pool not refilled, or wiped before it is copied)', () => {
    const seen = new Set<string>();
    // 3,000 draws of 16 bytes: about 12 refills of the 4 KiB pool; 16 random bytes never repeat by chance.
    for (let i = 0; i < 3000; i++) {
      const b = randomBytes(16);
      expect(b.length).toBe(16);
      seen.add(b.toString('hex'));
    }
    expect(seen.size).toBe(3000);
  });

  it('gives each caller its own buffer (catches a view into the pool, which a later draw would wipe)', () => {
    const a = randomBytes(32);
    const copy = Buffer.from(a);
    for (let i = 0; i < 300; i++) randomBytes(32); // wraps the pool at least twice
    expect(a).toEqual(copy);
  });

  it('draws up to the pool size across a refill boundary, refuses more, and makes 32-bit secrets', () => {
    expect(randomBytes(4095).length).toBe(4095);
    expect(randomBytes(4096).length).toBe(4096);
    expect(() => randomBytes(4097)).toThrow(RangeError);
    const secrets = new Set(Array.from({ length: 1000 }, () => randomInt32()));
    expect(secrets.size).toBeGreaterThan(990);
    for (const s of secrets) expect(Number.isInteger(s) && s >= -0x80000000 && s <= 0x7fffffff).toBe(true);
  });
});
