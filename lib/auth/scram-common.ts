// Owns the SCRAM-SHA-256 pieces both directions share: key derivation, the attribute reader, ScramError.
//
// SCRAM messages are handled as "binary strings" (latin1: one char per byte) so that a user name
// or extension carrying UTF-8 (or invalid UTF-8) goes into the AuthMessage HMAC byte for byte,
// exactly as the peer signed it. Decoding as UTF-8 and re-encoding could change those bytes.

import { createHash, createHmac, pbkdf2Sync, timingSafeEqual } from 'node:crypto';
import { SqlState, type SqlStateCode } from '../protocol/codes';
import { saslprep } from './saslprep';

/** The only SASL mechanism pgmux speaks, in either direction. */
export const SCRAM_MECHANISM = 'SCRAM-SHA-256';
/** SHA-256 output length: StoredKey, ServerKey, proofs and signatures are all this long. */
export const SCRAM_KEY_LENGTH = 32;
/** PostgreSQL's and PgBouncer's default iteration count (scram_iterations). */
export const SCRAM_DEFAULT_ITERATIONS = 4096;
/** PostgreSQL's default salt length (SCRAM_DEFAULT_SALT_LEN). Servers may use any other length. */
export const SCRAM_DEFAULT_SALT_LENGTH = 16;
/** Random bytes in a nonce before base64, as libpq and the PostgreSQL server use. */
export const SCRAM_NONCE_BYTES = 18;

/**
 * A malformed or out-of-protocol SCRAM message, from either peer. Not a wrong password: that is
 * a normal `{ ok: false }` result. `summary` and `detail` are PostgreSQL's errmsg and errdetail
 * for the same input, so an ErrorResponse built from them reads as the server's own would;
 * `sqlState` is 08P01 unless PostgreSQL uses another code (0A000 for unsupported features).
 * `message` joins summary and detail, for logs.
 */
export class ScramError extends Error {
  override readonly name = 'ScramError';
  constructor(
    readonly summary: string,
    readonly detail?: string,
    readonly sqlState: SqlStateCode = SqlState.ProtocolViolation,
  ) {
    super(detail === undefined ? summary : `${summary}: ${detail}`);
  }
}

/** The three keys derived from a password (RFC 5802 section 3). */
export interface ScramKeys {
  readonly clientKey: Buffer;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

/** Bytes of a binary string. */
export function bytes(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

export function hmac(key: Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(bytes(data)).digest();
}

export function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

export function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/** Constant-time equality; unequal lengths are simply unequal (the length is not secret). */
export function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * SaltedPassword -> ClientKey, StoredKey, ServerKey. PBKDF2 here costs ~1 ms per 4096 iterations
 * of blocked event loop: per login only where cached (server logins, ad hoc verifiers); a
 * client's cleartext password uses ./pbkdf2's asynchronous saltedPassword instead.
 */
export function deriveScramKeys(password: string, salt: Buffer, iterations: number): ScramKeys {
  return scramKeysOf(pbkdf2Sync(saslprep(password), salt, iterations, SCRAM_KEY_LENGTH, 'sha256'));
}

/** ClientKey, StoredKey and ServerKey of a SaltedPassword (RFC 5802: HMAC and H, no PBKDF2). */
export function scramKeysOf(salted: Buffer): ScramKeys {
  const clientKey = hmac(salted, 'Client Key');
  return { clientKey, storedKey: sha256(clientKey), serverKey: hmac(salted, 'Server Key') };
}

/** AuthMessage = client-first-message-bare "," server-first-message "," client-final-without-proof. */
export function authMessage(clientFirstBare: string, serverFirst: string, clientFinalBare: string): string {
  return `${clientFirstBare},${serverFirst},${clientFinalBare}`;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strict base64 (padding required), as PostgreSQL's pg_b64_decode accepts; undefined if invalid. */
export function decodeBase64(text: string): Buffer | undefined {
  return BASE64.test(text) ? Buffer.from(text, 'base64') : undefined;
}

/** RFC 5802 "printable": %x21-2B / %x2D-7E, i.e. visible ASCII except ','. */
export function isPrintable(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x21 || c > 0x7e || c === 0x2c) return false;
  }
  return true;
}

/** A character as PostgreSQL's sanitize_char shows it in error details: 'c' or 0xNN. */
export function shown(c: string | undefined): string {
  if (c === undefined) return '0x00';
  const code = c.charCodeAt(0);
  return code >= 0x21 && code <= 0x7e ? `'${c}'` : `0x${code.toString(16).padStart(2, '0')}`;
}

const MALFORMED = 'malformed SCRAM message';

/** Throws PostgreSQL's "malformed SCRAM message" with a detail. */
export function malformed(detail: string): never {
  throw new ScramError(MALFORMED, detail);
}

/**
 * Sequential reader over `a=value,b=value` text, in the style of PostgreSQL's read_attr_value /
 * read_any_attr: each read consumes one attribute and its trailing comma.
 */
export class AttrReader {
  pos = 0;
  constructor(readonly text: string) {}

  get atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  peek(): string | undefined {
    return this.text[this.pos];
  }

  /** Reads attribute `attr` (a single letter) and returns its value. */
  expect(attr: string): string {
    const c = this.text[this.pos];
    if (c !== attr) malformed(`Expected attribute "${attr}" but found "${shown(c)}".`);
    return this.value(attr);
  }

  /** Reads any attribute; returns its letter and value. */
  any(): { attr: string; value: string } {
    const c = this.text[this.pos];
    if (c === undefined) malformed('Attribute expected, but found end of string.');
    if (!/^[A-Za-z]$/.test(c)) malformed(`Attribute expected, but found invalid character "${shown(c)}".`);
    return { attr: c, value: this.value(c) };
  }

  private value(attr: string): string {
    if (this.text[this.pos + 1] !== '=') malformed(`Expected character "=" for attribute "${attr}".`);
    const start = this.pos + 2;
    let end = this.text.indexOf(',', start);
    if (end < 0) end = this.text.length;
    this.pos = end + 1;
    return this.text.slice(start, end);
  }
}
