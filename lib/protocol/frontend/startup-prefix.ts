// Owns deciding, from the first bytes of a connection, that they cannot begin a startup packet
// PostgreSQL would accept (length 8..10000, a known request code, parameters ending exactly at
// the declared end), and saying what they look like instead: an HTTP request, a TLS ClientHello
// without SSLRequest, a password before the StartupMessage, another protocol version. The framer
// asks after every chunk, so garbage is refused the moment it is in, however it was split.

import { StartupMagic } from '../codes';

/** Longest startup packet accepted, as PostgreSQL's MAX_STARTUP_PACKET_LENGTH. */
export const MAX_STARTUP_PACKET = 10000;

/** The int32 request codes that start a packet, as bytes, with the one length each allows (0: any). */
const REQUESTS: readonly { readonly name: string; readonly bytes: readonly number[]; readonly length: number }[] = [
  { name: 'SSLRequest', bytes: be32(StartupMagic.SSLRequest), length: 8 },
  { name: 'GSSENCRequest', bytes: be32(StartupMagic.GSSENCRequest), length: 8 },
  { name: 'CancelRequest', bytes: be32(StartupMagic.CancelRequest), length: 16 },
];

function be32(n: number): number[] {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

/**
 * Whether the `avail` bytes at buf[pos] can still begin a startup packet PostgreSQL accepts
 * (false: nothing the client sends next can make it one). Looks at no byte past `avail`.
 */
export function startupPrefixValid(buf: Buffer, pos: number, avail: number): boolean {
  // The length: 8 <= n <= 10000 means its first two bytes are 0 and the third at most 0x27.
  const n = Math.min(avail, 4);
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < 4; i++) {
    lo = lo * 256 + (i < n ? buf[pos + i] : 0);
    hi = hi * 256 + (i < n ? buf[pos + i] : 0xff);
  }
  if (lo > MAX_STARTUP_PACKET || hi < 8) return false;
  if (avail <= 4) return true;
  const length = lo;
  const codeBytes = Math.min(avail - 4, 4);
  let request = false;
  for (const r of REQUESTS) {
    if (!sameBytes(buf, pos + 4, r.bytes, codeBytes)) continue;
    if (codeBytes === 4 && length !== r.length) return false;
    request = true;
  }
  if (request) return true;
  // Protocol 3.x: 0x0003, then any minor version.
  if (buf[pos + 4] !== 0 || (codeBytes > 1 && buf[pos + 5] !== 3)) return false;
  return paramsPrefixValid(buf, pos, avail, length);
}

function sameBytes(buf: Buffer, at: number, bytes: readonly number[], count: number): boolean {
  for (let i = 0; i < count; i++) if (buf[at + i] !== bytes[i]) return false;
  return true;
}

/**
 * The parameters of a StartupMessage seen so far: PostgreSQL wants name/value pairs and then one
 * NUL exactly as the last byte. An empty name (the terminator) before that is final whatever follows.
 */
function paramsPrefixValid(buf: Buffer, pos: number, avail: number, length: number): boolean {
  const seen = Math.min(avail, length);
  let off = 8;
  while (off < seen) {
    if (buf[pos + off] === 0) return off === length - 1;
    const nameEnd = buf.indexOf(0, pos + off);
    if (nameEnd < 0 || nameEnd >= pos + seen) return true;
    const valueEnd = buf.indexOf(0, nameEnd + 1);
    if (valueEnd < 0 || valueEnd >= pos + seen) return true;
    off = valueEnd + 1 - pos;
  }
  return true;
}

/** What the first bytes of a connection were, when they cannot begin a startup packet. */
export type StartupProblem =
  /** A typed message (its first byte) where the untyped StartupMessage belongs, e.g. 'p'. */
  | { readonly kind: 'typed'; readonly type: number; readonly reason: string }
  /** A request for a protocol version other than 3.x. */
  | { readonly kind: 'version'; readonly major: number; readonly minor: number; readonly reason: string }
  /** A length or layout PostgreSQL refuses. */
  | { readonly kind: 'malformed'; readonly reason: string };

/** Says what the bytes buf[start..end) are, given that startupPrefixValid refused them. */
export function startupProblem(buf: Buffer, start: number, end: number): StartupProblem {
  const avail = end - start;
  const first = buf[start];
  if (first !== 0) {
    const looks = foreignProtocol(buf, start, end);
    const reason = `invalid startup packet: it begins with byte ${first}${looks === null ? '' : ` (${looks})`}; a PostgreSQL client begins with a length of 8 to ${MAX_STARTUP_PACKET} bytes`;
    return { kind: 'typed', type: first, reason };
  }
  if (avail < 4) return { kind: 'malformed', reason: `invalid length of startup packet: it begins with bytes ${hex(buf, start, end)}, which make a length over ${MAX_STARTUP_PACKET}` };
  const length = buf.readInt32BE(start);
  if (length < 8 || length > MAX_STARTUP_PACKET) {
    const looks = foreignProtocol(buf, start, end);
    return { kind: 'malformed', reason: `invalid length of startup packet: ${length}${looks === null ? '' : ` (${looks})`}; PostgreSQL accepts 8 to ${MAX_STARTUP_PACKET}` };
  }
  const codeBytes = Math.min(avail - 4, 4);
  for (const r of REQUESTS) {
    if (codeBytes === 4 && sameBytes(buf, start + 4, r.bytes, 4)) return { kind: 'malformed', reason: `invalid length of ${r.name}: ${length} bytes, it has ${r.length}` };
  }
  if (codeBytes === 4) {
    const code = buf.readInt32BE(start + 4);
    const major = code >>> 16;
    const minor = code & 0xffff;
    if (major !== 3) return { kind: 'version', major, minor, reason: `unsupported frontend protocol ${major}.${minor}` };
  } else if (buf[start + 4] !== 0 || (codeBytes > 1 && buf[start + 5] !== 3)) {
    return { kind: 'malformed', reason: `unsupported frontend protocol or request code: it begins with bytes ${hex(buf, start + 4, end)}` };
  }
  return { kind: 'malformed', reason: 'invalid startup packet layout: expected terminator as last byte' };
}

const HTTP_METHODS = ['GET ', 'POST', 'HEAD', 'PUT ', 'DELE', 'OPTI', 'PATC', 'CONN', 'TRAC', 'PRI '];

/** A well-known protocol these bytes open with, by their first bytes; null when none is recognised. */
function foreignProtocol(buf: Buffer, start: number, end: number): string | null {
  const head = buf.toString('latin1', start, Math.min(end, start + 4));
  if (head.length === 4 && HTTP_METHODS.includes(head)) return 'an HTTP request';
  if (buf[start] === 0x16 && (end - start < 2 || buf[start + 1] === 0x03)) return 'a TLS handshake without SSLRequest first';
  if (head.startsWith('SSH-')) return 'an SSH client';
  return null;
}

function hex(buf: Buffer, start: number, end: number): string {
  return buf.subarray(start, Math.min(end, start + 8)).toString('hex');
}
