// Owns the Authentication ('R') family: requests pgmux sends its clients, and the decoder for the
// ones a server sends pgmux during its own login.

import { AuthCode, BackendCode, HEADER_LENGTH } from '../codes';
import { invalid, Reader, typedFrameError, type Invalid } from '../frontend/reader';
import { Writer } from '../writer';

/** AuthenticationOk. Shared: never write into it. */
export const AUTHENTICATION_OK: Buffer = new Writer(9).int32(AuthCode.Ok).finish(BackendCode.Authentication);

/** AuthenticationCleartextPassword. Shared: never write into it. */
export const AUTHENTICATION_CLEARTEXT: Buffer = new Writer(9)
  .int32(AuthCode.CleartextPassword)
  .finish(BackendCode.Authentication);

export function authenticationOk(): Buffer {
  return AUTHENTICATION_OK;
}

export function authenticationCleartext(): Buffer {
  return AUTHENTICATION_CLEARTEXT;
}

/** AuthenticationMD5Password with the 4-byte salt the client must hash with. */
export function authenticationMD5(salt: Buffer): Buffer {
  // Written in place: one per md5 login, and a Writer with a view of the salt cost three objects more.
  const out = Buffer.allocUnsafe(13);
  out[0] = BackendCode.Authentication;
  out.writeInt32BE(12, 1);
  out.writeInt32BE(AuthCode.MD5Password, 5);
  for (let i = 0; i < 4; i++) out[9 + i] = salt[i];
  return out;
}

/** AuthenticationSASL listing the mechanisms offered, in order of preference. */
export function authenticationSASL(mechanisms: readonly string[]): Buffer {
  const w = new Writer(64).int32(AuthCode.SASL);
  for (const m of mechanisms) w.cstring(m);
  return w.int8(0).finish(BackendCode.Authentication);
}

/** AuthenticationSASLContinue carrying the mechanism's data (SCRAM server-first message). */
export function authenticationSASLContinue(data: Buffer | string): Buffer {
  return saslData(AuthCode.SASLContinue, data);
}

/** AuthenticationSASLFinal carrying the mechanism's outcome (SCRAM server-final message). */
export function authenticationSASLFinal(data: Buffer | string): Buffer {
  return saslData(AuthCode.SASLFinal, data);
}

function saslData(code: number, data: Buffer | string): Buffer {
  const w = new Writer(HEADER_LENGTH + 4 + Buffer.byteLength(data)).int32(code);
  if (typeof data === 'string') w.string(data);
  else w.bytes(data);
  return w.finish(BackendCode.Authentication);
}

export type Authentication =
  | { readonly kind: 'auth-ok' }
  | { readonly kind: 'auth-cleartext' }
  | { readonly kind: 'auth-md5'; readonly salt: Buffer }
  | { readonly kind: 'auth-sasl'; readonly mechanisms: string[] }
  | { readonly kind: 'auth-sasl-continue'; readonly data: Buffer }
  | { readonly kind: 'auth-sasl-final'; readonly data: Buffer }
  /** Kerberos, GSSAPI, SSPI, ...: well-formed, but pgmux cannot answer it. */
  | { readonly kind: 'auth-unsupported'; readonly code: number };

/** Decodes a server's 'R' frame. Byte strings (salt, SASL data) are views of the frame. */
export function decodeAuthentication(buf: Buffer, start: number, end: number): Authentication | Invalid {
  const bad = typedFrameError(buf, start, end, BackendCode.Authentication, 'Authentication');
  if (bad !== null) return invalid(bad);
  const r = new Reader(buf, start + HEADER_LENGTH, end);
  const code = r.int32();
  if (code === undefined) return invalid('Authentication: missing request code');
  switch (code) {
    case AuthCode.Ok:
      return r.atEnd ? { kind: 'auth-ok' } : invalid('AuthenticationOk: unexpected bytes after the code');
    case AuthCode.CleartextPassword:
      return r.atEnd ? { kind: 'auth-cleartext' } : invalid('AuthenticationCleartextPassword: unexpected bytes after the code');
    case AuthCode.MD5Password:
      return r.remaining === 4 ? { kind: 'auth-md5', salt: r.rest() } : invalid('AuthenticationMD5Password: salt must be 4 bytes');
    case AuthCode.SASL:
      return decodeMechanisms(r);
    case AuthCode.SASLContinue:
      return { kind: 'auth-sasl-continue', data: r.rest() };
    case AuthCode.SASLFinal:
      return { kind: 'auth-sasl-final', data: r.rest() };
    default:
      return { kind: 'auth-unsupported', code };
  }
}

function decodeMechanisms(r: Reader): Authentication | Invalid {
  const mechanisms: string[] = [];
  for (;;) {
    const m = r.cstring();
    if (m === undefined) return invalid('AuthenticationSASL: mechanism list is not NUL-terminated');
    if (m === '') break;
    mechanisms.push(m);
  }
  if (!r.atEnd) return invalid('AuthenticationSASL: bytes after the mechanism list');
  return { kind: 'auth-sasl', mechanisms };
}
