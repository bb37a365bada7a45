// Specs for pg_lsn handling: parsing and printing exactly as PostgreSQL does, and comparing and
// subtracting positions past 2^53 bytes without rounding.

import { compareLsn, formatLsn, lagBytes, lsnDiff, parseLsn } from '../../lib/routing/lsn';

describe('parseLsn / formatLsn', () => {
  /** A parser that dropped the high half would think '16/B374D848' is only 3 GB into the WAL. */
  it('reads both 32-bit halves', () => {
    expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) + 0xb374d848n);
    expect(parseLsn('0/0')).toBe(0n);
    expect(parseLsn('FFFFFFFF/FFFFFFFF')).toBe(0xffffffffffffffffn);
  });

  /** PostgreSQL prints upper-case hex without leading zeros; SHOW REPLICAS must match pg_lsn output. */
  it('prints like pg_lsn output and round-trips', () => {
    expect(formatLsn((0x16n << 32n) + 0xb374d848n)).toBe('16/B374D848');
    expect(formatLsn(0n)).toBe('0/0');
    expect(formatLsn(0x100000000n)).toBe('1/0');
    for (const t of ['0/1', 'A/0', '16/B374D848', 'FFFFFFFF/FFFFFFFF']) expect(formatLsn(parseLsn(t) ?? -1n)).toBe(t);
  });

  /** pg_lsn accepts lower case and leading zeros (up to 8 digits per half). */
  it('accepts what pg_lsn_in accepts', () => {
    expect(parseLsn('16/b374d848')).toBe(parseLsn('16/B374D848'));
    expect(parseLsn('00000016/0B374D84')).toBe((0x16n << 32n) + 0xb374d84n);
  });

  /** Garbage from a broken poll must not become position 0 (which every replica has "reached"). */
  it('refuses malformed text', () => {
    for (const t of ['', '16', '16/', '/1', '1/2/3', 'G/0', '123456789/0', ' 0/0', '0/0 ', '-1/0']) {
      expect([t, parseLsn(t)]).toEqual([t, undefined]);
    }
  });

  it('refuses to print a number that is not a WAL position', () => {
    expect(() => formatLsn(-1n)).toThrow(RangeError);
    expect(() => formatLsn(1n << 64n)).toThrow(RangeError);
  });
});

describe('compareLsn / lsnDiff / lagBytes', () => {
  const a = parseLsn('9/FFFFFFFF') ?? 0n;
  const b = parseLsn('10/0') ?? 0n;

  /** As text '9/...' sorts after '10/...'; as positions it is before. */
  it('orders positions numerically', () => {
    expect(compareLsn(a, b)).toBe(-1);
    expect(compareLsn(b, a)).toBe(1);
    expect(compareLsn(a, a)).toBe(0);
  });

  /** pg_wal_lsn_diff semantics: a - b, signed. */
  it('subtracts like pg_wal_lsn_diff', () => {
    expect(lsnDiff(b, a)).toBe(0x6_0000_0001n);
    expect(lsnDiff(a, b)).toBe(-0x6_0000_0001n);
  });

  /** Two positions above 2^53 one byte apart: a float subtraction would say 0 or 2. */
  it('is exact above 2^53', () => {
    const high = parseLsn('FFFFFFFF/FFFFFFFE') ?? 0n;
    const higher = parseLsn('FFFFFFFF/FFFFFFFF') ?? 0n;
    expect(lsnDiff(higher, high)).toBe(1n);
    expect(lagBytes(higher, high)).toBe(1);
  });

  /** A replica ahead of a stale primary sample is not behind at all (never negative lag). */
  it('lagBytes is 0 when not behind, and caps at MAX_SAFE_INTEGER', () => {
    expect(lagBytes(a, b)).toBe(0);
    expect(lagBytes(b, b)).toBe(0);
    expect(lagBytes(b, a)).toBe(0x6_0000_0001);
    expect(lagBytes(0xffffffffffffffffn, 0n)).toBe(Number.MAX_SAFE_INTEGER);
  });
});
