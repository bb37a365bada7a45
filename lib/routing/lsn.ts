// Owns PostgreSQL WAL positions (pg_lsn): parsing '16/B374D848', printing, comparing and
// subtracting them exactly. An LSN is a 64-bit unsigned byte position; it is held as a bigint so
// no position past 2^53 bytes is ever rounded (a number would be, silently).

/** A WAL position: 0n ... 2^64 - 1. */
export type Lsn = bigint;

/** '0/0', PostgreSQL's InvalidXLogRecPtr: no position. */
export const LSN_ZERO: Lsn = 0n;

const MAX_HALF = 0xffffffffn;
/** pg_lsn input: two hex numbers of at most 8 digits, as PostgreSQL's pg_lsn_in accepts. */
const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/** Parses pg_lsn text ('16/B374D848'); undefined for anything PostgreSQL would reject. */
export function parseLsn(text: string): Lsn | undefined {
  const m = LSN_TEXT.exec(text);
  if (m === null) return undefined;
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/** pg_lsn output: upper and lower 32 bits in uppercase hex without leading zeros ('16/B374D848'). */
export function formatLsn(lsn: Lsn): string {
  if (lsn < 0n || lsn > 0xffffffffffffffffn) throw new RangeError(`not a WAL position: ${lsn}`);
  const hi = (lsn >> 32n) & MAX_HALF;
  const lo = lsn & MAX_HALF;
  return `${hi.toString(16).toUpperCase()}/${lo.toString(16).toUpperCase()}`;
}

/** -1, 0 or 1 as `a` is before, at or after `b`. */
export function compareLsn(a: Lsn, b: Lsn): -1 | 0 | 1 {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Bytes of WAL from `b` to `a` (pg_wal_lsn_diff(a, b)); negative when `a` is before `b`. */
export function lsnDiff(a: Lsn, b: Lsn): bigint {
  return a - b;
}

/**
 * Bytes `behind` is short of `ahead`, as a number for lag displays and limits: 0 when it is not
 * behind, capped at Number.MAX_SAFE_INTEGER (8 PiB of WAL) so the result is always exact or capped.
 */
export function lagBytes(ahead: Lsn, behind: Lsn): number {
  const d = ahead - behind;
  if (d <= 0n) return 0;
  return d > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(d);
}
