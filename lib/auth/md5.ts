// Owns PostgreSQL's md5 password scheme: the stored hash, the salted response, and checking one.
//
// Stored:   'md5' + hex(md5(password || user))
// Response: 'md5' + hex(md5(hex(md5(password || user)) || salt)), salt = 4 random bytes

import { createHash, hash } from 'node:crypto';
import { randomBytes } from './random';
import { isUsableSecret, parseSecret, type Md5Secret, type PlainSecret, type Secret } from './secret';
import { safeEqual } from './scram-common';

/** AuthenticationMD5Password carries exactly four salt bytes. */
export const MD5_SALT_LENGTH = 4;

function md5hex(data: Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

/** The md5 secret PostgreSQL stores for `user` with `password` (password_encryption = md5). */
export function md5Secret(user: string, password: string): string {
  return 'md5' + md5hex(Buffer.from(password + user, 'utf8'));
}

/** A fresh salt for one md5 challenge. */
export function md5Salt(): Buffer {
  return randomBytes(MD5_SALT_LENGTH);
}

/**
 * The stored hash's 32 hex digits (md5(password || user)) as bytes, for `user` with `secret`:
 * the part of every md5 response that is fixed per user, so it is computed once per secret (a
 * plain auth_file password would otherwise be hashed again at every login) and only the salt
 * step is left per login.
 */
const storedHashes = new WeakMap<PlainSecret | Md5Secret, { user: string; bytes: Buffer }>();

function storedHashBytes(secret: PlainSecret | Md5Secret, user: string): Buffer {
  const known = storedHashes.get(secret);
  if (known !== undefined && known.user === user) return known.bytes;
  const hash = secret.kind === 'md5' ? secret.hash : md5Secret(user, secret.password);
  const bytes = Buffer.from(hash.slice(3), 'latin1');
  storedHashes.set(secret, { user, bytes });
  return bytes;
}

function saltedResponse(stored: Buffer, salt: Buffer): string {
  const input = Buffer.allocUnsafe(stored.length + salt.length);
  stored.copy(input, 0);
  salt.copy(input, stored.length);
  // One-shot: a Hash object per login costs three times as much (1.6 against 0.5 µs here).
  return 'md5' + hash('md5', input, 'hex');
}

/**
 * The PasswordMessage a client sends for an md5 challenge with `salt`. `secretOrPlain` is a
 * parsed plain or md5 secret, or a raw auth_file string (classified with parseSecret, so a
 * string that looks like an md5 hash is used as the hash, as PgBouncer and libpq do).
 */
export function md5Response(secretOrPlain: string | PlainSecret | Md5Secret, user: string, salt: Buffer): string {
  const secret = typeof secretOrPlain === 'string' ? parseSecret(secretOrPlain) : secretOrPlain;
  if (secret.kind === 'scram') {
    throw new Error('an md5 response cannot be computed from a SCRAM secret');
  }
  return saltedResponse(storedHashBytes(secret, user), salt);
}

/**
 * A response that can never match (not 'md5' + hex), compared against when there is nothing
 * valid to compare with, so a missing user costs the same as a wrong password.
 */
const NEVER = Buffer.from('md5' + 'x'.repeat(32), 'latin1');

/**
 * Checks a client's md5 response. False for a missing user, an empty password and a SCRAM
 * secret (an md5 challenge is never chosen for one; see chooseMethod).
 */
export function verifyMd5(secret: Secret | undefined, user: string, salt: Buffer, response: string): boolean {
  const usable = isUsableSecret(secret) && secret.kind !== 'scram';
  const expected = usable ? Buffer.from(saltedResponse(storedHashBytes(secret, user), salt), 'latin1') : NEVER;
  return safeEqual(Buffer.from(response, 'latin1'), expected) && usable;
}
