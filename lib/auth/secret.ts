// Owns the forms a stored password takes (plain text, md5 hash, SCRAM verifier) and telling them apart.
//
// Recognition follows PostgreSQL's and PgBouncer's get_password_type: 'md5' + exactly 32
// lowercase hex digits is an md5 hash; a string that parses completely as a SCRAM-SHA-256
// verifier is one; anything else, including a broken SCRAM-looking string, is plain text.

import { randomBytes } from 'node:crypto';
import {
  SCRAM_DEFAULT_ITERATIONS,
  SCRAM_DEFAULT_SALT_LENGTH,
  SCRAM_KEY_LENGTH,
  SCRAM_MECHANISM,
  decodeBase64,
  deriveScramKeys,
} from './scram-common';

export interface PlainSecret {
  readonly kind: 'plain';
  readonly password: string;
}

export interface Md5Secret {
  readonly kind: 'md5';
  /** 'md5' followed by 32 lowercase hex digits: md5(password || user). */
  readonly hash: string;
}

/** What pg_authid holds for a SCRAM user: enough to verify a proof, not to recover the password. */
export interface ScramSecret {
  readonly kind: 'scram';
  readonly iterations: number;
  readonly salt: Buffer;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

export type Secret = PlainSecret | Md5Secret | ScramSecret;

const MD5_HASH = /^md5[0-9a-f]{32}$/;

/** SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>, each key base64. */
const SCRAM_VERIFIER = /^SCRAM-SHA-256\$([0-9]+):([^$:]+)\$([^$:]+):([^$:]+)$/;

/** Classifies and decodes a secret as found in auth_file or pg_authid.rolpassword. */
export function parseSecret(s: string): Secret {
  if (MD5_HASH.test(s)) return { kind: 'md5', hash: s };
  return parseScramVerifier(s) ?? { kind: 'plain', password: s };
}

function parseScramVerifier(s: string): ScramSecret | undefined {
  const m = SCRAM_VERIFIER.exec(s);
  if (m === null) return undefined;
  const iterations = Number(m[1]);
  const salt = decodeBase64(m[2]!);
  const storedKey = decodeBase64(m[3]!);
  const serverKey = decodeBase64(m[4]!);
  // PostgreSQL stores the count as a C int; zero iterations would make PBKDF2 meaningless.
  if (!(iterations >= 1 && iterations <= 0x7fffffff)) return undefined;
  if (salt === undefined || storedKey?.length !== SCRAM_KEY_LENGTH || serverKey?.length !== SCRAM_KEY_LENGTH) {
    return undefined;
  }
  return { kind: 'scram', iterations, salt, storedKey, serverKey };
}

/** The pg_authid text form of a SCRAM secret (what ALTER ROLE ... PASSWORD accepts verbatim). */
export function formatScramSecret(secret: ScramSecret): string {
  const b64 = (b: Buffer): string => b.toString('base64');
  return `${SCRAM_MECHANISM}$${secret.iterations}:${b64(secret.salt)}$${b64(secret.storedKey)}:${b64(secret.serverKey)}`;
}

/**
 * Builds a SCRAM secret from a password, as PostgreSQL does for password_encryption =
 * scram-sha-256. A fresh random 16-byte salt unless one is given.
 */
export function scramSecretFromPassword(
  password: string,
  salt: Buffer = randomBytes(SCRAM_DEFAULT_SALT_LENGTH),
  iterations: number = SCRAM_DEFAULT_ITERATIONS,
): ScramSecret {
  const { storedKey, serverKey } = deriveScramKeys(password, salt, iterations);
  return { kind: 'scram', iterations, salt, storedKey, serverKey };
}

/**
 * Whether a secret can ever authenticate anyone by password. PgBouncer refuses an empty
 * password outright ("disallow empty passwords"), whatever the method.
 */
export function isUsableSecret(secret: Secret | undefined): secret is Secret {
  return secret !== undefined && !(secret.kind === 'plain' && secret.password === '');
}
