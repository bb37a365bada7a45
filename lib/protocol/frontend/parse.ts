// Owns Parse ('P'): decoded for prepared-statement tracking and routing, built when pgmux
// prepares a statement on a server that lacks it.

import { isUtf8 } from 'node:buffer';
import { FrontendCode, HEADER_LENGTH } from '../codes';
import { Writer } from '../writer';
import { invalid, Reader, typedFrameError, type Invalid } from './reader';

export interface Parse {
  readonly kind: 'parse';
  /** Prepared statement name; '' is the unnamed statement. */
  readonly name: string;
  readonly sql: string;
  /** Parameter type OIDs as sent; 0 leaves a type to the server. */
  readonly paramTypes: number[];
}

export function decodeParse(buf: Buffer, start: number, end: number): Parse | Invalid {
  const bad = typedFrameError(buf, start, end, FrontendCode.Parse, 'Parse');
  if (bad !== null) return invalid(bad);
  const r = new Reader(buf, start + HEADER_LENGTH, end);
  const name = r.cstring();
  if (name === undefined) return invalid('Parse: statement name is not NUL-terminated');
  const sql = r.cstring();
  if (sql === undefined) return invalid('Parse: query string is not NUL-terminated');
  const count = r.uint16();
  if (count === undefined) return invalid('Parse: missing parameter type count');
  if (r.remaining !== count * 4) return invalid(`Parse: ${count} parameter types need ${count * 4} bytes, ${r.remaining} left`);
  const paramTypes = new Array<number>(count);
  for (let i = 0; i < count; i++) paramTypes[i] = buf.readUInt32BE(r.pos + i * 4);
  return { kind: 'parse', name, sql, paramTypes };
}

/**
 * Whether the name and query text of a Parse that decodeParse accepted are valid UTF-8. Only then
 * do the decoded strings stand for the bytes: invalid bytes all decode to U+FFFD, so two texts
 * would meet in one string, and building the Parse again from it would change the query. A
 * client_encoding such as LATIN1 sends such bytes legitimately ('caf\xe9').
 */
export function parseTextIsUtf8(buf: Buffer, start: number, end: number, msg: Parse): boolean {
  return isUtf8(buf.subarray(start + HEADER_LENGTH, end - 2 - msg.paramTypes.length * 4));
}

export function parse(name: string, sql: string, paramTypes: readonly number[] = []): Buffer {
  const w = new Writer(HEADER_LENGTH + Buffer.byteLength(name) + Buffer.byteLength(sql) + 4 + paramTypes.length * 4);
  w.cstring(name).cstring(sql).int16(paramTypes.length);
  for (const oid of paramTypes) w.int32(oid);
  return w.finish(FrontendCode.Parse);
}
