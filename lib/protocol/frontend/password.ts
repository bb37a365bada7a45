// Owns the 'p' family: PasswordMessage, SASLInitialResponse and SASLResponse. They share one type
// byte and cannot be told apart from the bytes, so the caller, which knows which one the
// authentication exchange expects next, picks the decoder.

import { FrontendCode, HEADER_LENGTH } from '../codes';
import { Writer } from '../writer';
import { invalid, Reader, typedFrameError, type Invalid } from './reader';

export interface PasswordMessage {
  readonly kind: 'password';
  /** Cleartext password, or 'md5' + hex digest for MD5 authentication. */
  readonly password: string;
}

export interface SASLInitialResponse {
  readonly kind: 'sasl-initial';
  readonly mechanism: string;
  /** The client-first message as a view of the frame; null when the client sent length -1. */
  readonly data: Buffer | null;
}

export interface SASLResponse {
  readonly kind: 'sasl-response';
  /** The rest of the frame (e.g. SCRAM client-final message) as a view of it. */
  readonly data: Buffer;
}

export function decodePasswordMessage(buf: Buffer, start: number, end: number): PasswordMessage | Invalid {
  const bad = typedFrameError(buf, start, end, FrontendCode.Password, 'PasswordMessage');
  if (bad !== null) return invalid(bad);
  const r = new Reader(buf, start + HEADER_LENGTH, end);
  const password = r.cstring();
  // PostgreSQL checks the same: the string must fill the packet ("invalid password packet size").
  if (password === undefined || !r.atEnd) return invalid('PasswordMessage: invalid password packet size');
  return { kind: 'password', password };
}

export function decodeSASLInitialResponse(buf: Buffer, start: number, end: number): SASLInitialResponse | Invalid {
  const bad = typedFrameError(buf, start, end, FrontendCode.Password, 'SASLInitialResponse');
  if (bad !== null) return invalid(bad);
  const r = new Reader(buf, start + HEADER_LENGTH, end);
  const mechanism = r.cstring();
  if (mechanism === undefined) return invalid('SASLInitialResponse: mechanism name is not NUL-terminated');
  const length = r.int32();
  if (length === undefined) return invalid('SASLInitialResponse: missing response length');
  if (length === -1 && r.atEnd) return { kind: 'sasl-initial', mechanism, data: null };
  if (length !== r.remaining) return invalid(`SASLInitialResponse: declared response length ${length} but ${r.remaining} bytes follow`);
  return { kind: 'sasl-initial', mechanism, data: r.rest() };
}

export function decodeSASLResponse(buf: Buffer, start: number, end: number): SASLResponse | Invalid {
  const bad = typedFrameError(buf, start, end, FrontendCode.Password, 'SASLResponse');
  if (bad !== null) return invalid(bad);
  return { kind: 'sasl-response', data: buf.subarray(start + HEADER_LENGTH, end) };
}

export function passwordMessage(password: string): Buffer {
  return new Writer(HEADER_LENGTH + Buffer.byteLength(password) + 1).cstring(password).finish(FrontendCode.Password);
}

/** `data` null sends length -1 (no initial response). */
export function saslInitialResponse(mechanism: string, data: Buffer | null): Buffer {
  const w = new Writer(HEADER_LENGTH + Buffer.byteLength(mechanism) + 1 + 4 + (data?.length ?? 0));
  w.cstring(mechanism);
  if (data === null) w.int32(-1);
  else w.int32(data.length).bytes(data);
  return w.finish(FrontendCode.Password);
}

export function saslResponse(data: Buffer): Buffer {
  return new Writer(HEADER_LENGTH + data.length).bytes(data).finish(FrontendCode.Password);
}
