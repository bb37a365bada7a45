// Owns the untyped packets of the startup phase: StartupMessage, SSLRequest, GSSENCRequest and
// CancelRequest, decoded from clients and built when pgmux logs in to (or cancels on) a server.
//
// Decoding checks layout only. Policy (is `user` present, is the minor version acceptable, which
// parameters are allowed) belongs to the caller, which knows what to answer.

import { StartupMagic } from '../codes';
import { Writer } from '../writer';
import { invalid, Reader, type Invalid } from './reader';

export interface StartupMessage {
  readonly kind: 'startup';
  readonly major: 3;
  readonly minor: number;
  /** In packet order; a repeated key keeps its last value, as PostgreSQL does. */
  readonly params: Map<string, string>;
}

export interface CancelRequest {
  readonly kind: 'cancel';
  readonly pid: number;
  readonly secret: number;
}

export interface SSLRequest {
  readonly kind: 'ssl';
}

export interface GSSENCRequest {
  readonly kind: 'gssenc';
}

/**
 * A well-formed packet asking for a protocol pgmux does not speak (2.0, or an unknown 1234.x
 * request code). Not malformed: PostgreSQL answers it with its own error, so the caller decides.
 */
export interface UnsupportedProtocol {
  readonly kind: 'unsupported-protocol';
  readonly major: number;
  readonly minor: number;
}

export type StartupPacket = StartupMessage | CancelRequest | SSLRequest | GSSENCRequest | UnsupportedProtocol;

/** Length of the fixed part of every startup packet: int32 length + int32 code. */
const STARTUP_HEADER = 8;
const CANCEL_LENGTH = 16;

/** Decodes an untyped packet: buf.readInt32BE(start) is its length, counting itself. */
export function decodeStartup(buf: Buffer, start: number, end: number): StartupPacket | Invalid {
  if (start < 0 || end > buf.length || end - start < STARTUP_HEADER) {
    return invalid('startup packet: shorter than 8 bytes');
  }
  const length = buf.readInt32BE(start);
  if (length !== end - start) return invalid(`startup packet: declared length ${length} but packet holds ${end - start}`);
  const code = buf.readInt32BE(start + 4);
  switch (code) {
    case StartupMagic.SSLRequest:
      return length === STARTUP_HEADER ? { kind: 'ssl' } : invalid('SSLRequest: length must be 8');
    case StartupMagic.GSSENCRequest:
      return length === STARTUP_HEADER ? { kind: 'gssenc' } : invalid('GSSENCRequest: length must be 8');
    case StartupMagic.CancelRequest:
      if (length !== CANCEL_LENGTH) return invalid('CancelRequest: length must be 16');
      return { kind: 'cancel', pid: buf.readInt32BE(start + 8), secret: buf.readInt32BE(start + 12) };
  }
  const major = code >>> 16;
  const minor = code & 0xffff;
  if (major !== 3) return { kind: 'unsupported-protocol', major, minor };
  return decodeParams(new Reader(buf, start + STARTUP_HEADER, end), minor);
}

function decodeParams(r: Reader, minor: number): StartupMessage | Invalid {
  const params = new Map<string, string>();
  for (;;) {
    const key = r.cstring();
    if (key === undefined) return invalid('StartupMessage: parameter list is not NUL-terminated');
    if (key === '') break;
    const value = r.cstring();
    if (value === undefined) return invalid(`StartupMessage: parameter "${key}" has no NUL-terminated value`);
    params.set(key, value);
  }
  // PostgreSQL: "invalid startup packet layout: expected terminator as last byte".
  if (!r.atEnd) return invalid('StartupMessage: expected terminator as last byte');
  return { kind: 'startup', major: 3, minor, params };
}

/** StartupMessage for protocol 3.0 (what pgmux sends when it logs in to a server). */
export function startupMessage(params: Record<string, string> | ReadonlyMap<string, string>): Buffer {
  const w = new Writer(512).int32(StartupMagic.Protocol3);
  const entries = params instanceof Map ? params.entries() : Object.entries(params);
  for (const [key, value] of entries) w.cstring(key).cstring(value);
  return w.int8(0).finishUntyped();
}

/** CancelRequest for the server backend `pid` whose cancel key is `secret`. */
export function cancelRequest(pid: number, secret: number): Buffer {
  return new Writer(1 + CANCEL_LENGTH).int32(StartupMagic.CancelRequest).int32(pid).int32(secret).finishUntyped();
}

/** SSLRequest (8 bytes). Shared: never write into it. */
export const SSL_REQUEST: Buffer = new Writer(1 + STARTUP_HEADER).int32(StartupMagic.SSLRequest).finishUntyped();

/** GSSENCRequest (8 bytes). Shared: never write into it. */
export const GSSENC_REQUEST: Buffer = new Writer(1 + STARTUP_HEADER).int32(StartupMagic.GSSENCRequest).finishUntyped();

export function sslRequest(): Buffer {
  return SSL_REQUEST;
}
