// Owns which challenge pgmux sends a client for an auth_type and a stored secret, and cleartext checks.
//
// Matches PgBouncer 1.18 (checked against the binary): under auth_type md5 a user whose
// auth_file secret is a SCRAM verifier is asked for SCRAM instead, since an md5 response cannot
// be checked against it. A user missing from auth_file still gets the challenge, which then
// fails exactly like a wrong password (PgBouncer's and PostgreSQL's mock authentication), so a
// client cannot probe which users exist. The same holds for an md5 secret under scram-sha-256
// and for an empty password: the challenge is sent and verification fails.

import { createHash } from 'node:crypto';
import { md5Secret } from './md5';
import { pbkdf2Queue } from './pbkdf2';
import { deriveScramKeys, safeEqual, scramKeysOf } from './scram-common';
import { isUsableSecret, type ScramSecret, type Secret } from './secret';

/**
 * none      log in without a challenge
 * cleartext AuthenticationCleartextPassword; check with verifyCleartext (verifyCleartextScram
 *           for a SCRAM secret, so that PBKDF2 does not block the event loop)
 * md5       AuthenticationMD5Password with md5Salt(); check with verifyMd5
 * scram     AuthenticationSASL with a ScramServer(secret, user)
 * reject    refuse now with the password-failed error (no challenge can succeed)
 */
export type AuthMethod = 'none' | 'cleartext' | 'md5' | 'scram' | 'reject';

/** auth_type values decided here. hba is resolved per rule by the caller; cert, peer and pam are not password methods. */
export type PasswordAuthType = 'any' | 'trust' | 'plain' | 'md5' | 'scram-sha-256';

/** Row per auth_type, column per secret kind; 'missing' is a user absent from auth_file. */
const METHOD_TABLE: Record<PasswordAuthType, Record<Secret['kind'] | 'missing', AuthMethod>> = {
  // The requested user name is ignored altogether: the database's forced user connects.
  any: { plain: 'none', md5: 'none', scram: 'none', missing: 'none' },
  // No password asked, but the user must exist in auth_file ("trust" authentication failed).
  trust: { plain: 'none', md5: 'none', scram: 'none', missing: 'reject' },
  plain: { plain: 'cleartext', md5: 'cleartext', scram: 'cleartext', missing: 'cleartext' },
  md5: { plain: 'md5', md5: 'md5', scram: 'scram', missing: 'md5' },
  // md5 secrets cannot verify SCRAM: ScramServer runs a doomed exchange for them.
  'scram-sha-256': { plain: 'scram', md5: 'scram', scram: 'scram', missing: 'scram' },
};

function isPasswordAuthType(authType: string): authType is PasswordAuthType {
  return Object.prototype.hasOwnProperty.call(METHOD_TABLE, authType);
}

/**
 * The challenge for a client whose user has `secret` in auth_file (undefined: not there).
 * Any other auth_type (cert, peer, pam, or hba not yet resolved to a rule's method) gives
 * 'reject': those are decided elsewhere, and refusing is the safe answer.
 */
export function chooseMethod(authType: string, secret: Secret | undefined): AuthMethod {
  if (!isPasswordAuthType(authType)) return 'reject';
  return METHOD_TABLE[authType][secret?.kind ?? 'missing'];
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/**
 * Checks a password a client sent in clear text (auth_type plain) against any secret kind, as
 * PgBouncer's check_client_passwd: plain compared directly, md5 recomputed, SCRAM re-derived
 * with the verifier's salt and iterations and compared by ServerKey. False for a missing user
 * and an empty stored password. Comparisons are constant time (plain via fixed-length digests,
 * so the password's length does not show either). Synchronous: against a SCRAM secret it blocks
 * for the whole PBKDF2, so logins use verifyCleartextScram for those.
 */
export function verifyCleartext(secret: Secret | undefined, user: string, password: string): boolean {
  if (!isUsableSecret(secret)) return false;
  switch (secret.kind) {
    case 'plain':
      return safeEqual(digest(password), digest(secret.password));
    case 'md5':
      return safeEqual(Buffer.from(md5Secret(user, password), 'latin1'), Buffer.from(secret.hash, 'latin1'));
    case 'scram':
      return safeEqual(deriveScramKeys(password, secret.salt, secret.iterations).serverKey, secret.serverKey);
  }
}

/**
 * verifyCleartext for a SCRAM secret, without blocking the event loop: PBKDF2 at the secret's
 * iteration count runs on libuv's thread pool (./pbkdf2), once per attempt, nothing cached.
 * Resolves to null when `wanted()` was false before the derivation started (the client left).
 */
export async function verifyCleartextScram(secret: ScramSecret, password: string, wanted?: () => boolean): Promise<boolean | null> {
  const salted = await pbkdf2Queue.saltedPassword(password, secret.salt, secret.iterations, wanted);
  return salted === null ? null : safeEqual(scramKeysOf(salted).serverKey, secret.serverKey);
}
