// Owns the simple-query message Query ('Q'): decoded for routing, built for pgmux's own queries
// to servers (SET, DISCARD ALL, health probes).

import { FrontendCode, HEADER_LENGTH } from '../codes';
import { Writer } from '../writer';
import { invalid, Reader, typedFrameError, type Invalid } from './reader';

export interface Query {
  readonly kind: 'query';
  readonly sql: string;
}

export function decodeQuery(buf: Buffer, start: number, end: number): Query | Invalid {
  const bad = typedFrameError(buf, start, end, FrontendCode.Query, 'Query');
  if (bad !== null) return invalid(bad);
  const r = new Reader(buf, start + HEADER_LENGTH, end);
  const sql = r.cstring();
  if (sql === undefined) return invalid('Query: query string is not NUL-terminated');
  if (!r.atEnd) return invalid('Query: bytes after the query string');
  return { kind: 'query', sql };
}

export function query(sql: string): Buffer {
  return new Writer(HEADER_LENGTH + Buffer.byteLength(sql) + 1).cstring(sql).finish(FrontendCode.Query);
}
