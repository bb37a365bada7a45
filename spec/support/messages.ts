// Owns the messages of the specs' raw protocol client (spec/support/wire.ts): frontend messages
// built byte by byte and backend messages read field by field, as PostgreSQL documents them and
// independent of lib/protocol, so the specs check pgmux against the protocol, not against itself.

import { createHash } from 'node:crypto';
import { cstr, frame, i16, i32, untyped } from './bytes';

/** Startup parameters in order; a list may name one parameter twice, as pg-protocol's startup does. */
export type StartupParams = Readonly<Record<string, string>> | readonly (readonly [string, string])[];

/** Frontend messages (text formats, no parameters unless said). */
export const msg = {
  /** StartupMessage for protocol 3.<minor>. */
  startup: (params: StartupParams, minor = 0): Buffer => {
    const pairs = Array.isArray(params) ? params : Object.entries(params);
    return untyped(i32((3 << 16) | minor), ...pairs.flatMap(([k, v]) => [cstr(k), cstr(v)]), Buffer.from([0]));
  },
  sslRequest: (): Buffer => untyped(i32(80877103)),
  gssencRequest: (): Buffer => untyped(i32(80877104)),
  cancel: (pid: number, secret: number): Buffer => untyped(i32(80877102), i32(pid), i32(secret)),
  /** PasswordMessage: a cleartext password or an md5 answer (see md5Password). */
  password: (password: string): Buffer => frame('p', cstr(password)),
  saslInitialResponse: (mechanism: string, data: Buffer): Buffer => frame('p', cstr(mechanism), i32(data.length), data),
  saslResponse: (data: Buffer): Buffer => frame('p', data),
  query: (sql: string): Buffer => frame('Q', cstr(sql)),
  parse: (sql: string, name = ''): Buffer => frame('P', cstr(name), cstr(sql), i16(0)),
  bind: (portal = '', statement = ''): Buffer => frame('B', cstr(portal), cstr(statement), i16(0), i16(0), i16(0)),
  execute: (maxRows = 0, portal = ''): Buffer => frame('E', cstr(portal), i32(maxRows)),
  describePortal: (portal = ''): Buffer => frame('D', Buffer.from('P'), cstr(portal)),
  flush: (): Buffer => frame('H'),
  sync: (): Buffer => frame('S'),
  terminate: (): Buffer => frame('X'),
  /** Parse, Bind, Execute (all rows), Sync: one extended-protocol statement. */
  extended: (sql: string): Buffer => Buffer.concat([msg.parse(sql), msg.bind(), msg.execute(), msg.sync()]),
};

/** What PostgreSQL's md5 method wants: 'md5' + md5(md5(password + user) + salt). */
export function md5Password(user: string, password: string, salt: Buffer): string {
  const inner = createHash('md5').update(password + user).digest('hex');
  return `md5${createHash('md5').update(Buffer.concat([Buffer.from(inner), salt])).digest('hex')}`;
}

/** ErrorResponse/NoticeResponse fields by code letter: S, V, C (SQLSTATE), M, D, ... */
export function errorFields(body: Buffer): Record<string, string> {
  const fields: Record<string, string> = {};
  let i = 0;
  while (i < body.length && body[i] !== 0) {
    const end = body.indexOf(0, i + 1);
    fields[String.fromCharCode(body[i]!)] = body.toString('utf8', i + 1, end);
    i = end + 1;
  }
  return fields;
}

/** The Authentication sub-code of an 'R' body (0 ok, 3 cleartext, 5 md5, 10/11/12 SASL) and its payload. */
export function authRequest(body: Buffer): { code: number; data: Buffer } {
  return { code: body.readInt32BE(0), data: body.subarray(4) };
}

/** ParameterStatus name and value. */
export function parameterStatus(body: Buffer): [string, string] {
  const mid = body.indexOf(0);
  return [body.toString('utf8', 0, mid), body.toString('utf8', mid + 1, body.length - 1)];
}

/**
 * NegotiateProtocolVersion: the newest version offered and the options not recognized. The docs
 * call the first field a minor version, but PostgreSQL sends its full code (PG_PROTOCOL_LATEST,
 * 3 << 16 | minor) and libpq reads it so; `major`/`minor` are split from it.
 */
export function negotiateProtocolVersion(body: Buffer): { major: number; minor: number; unrecognized: string[] } {
  const count = body.readInt32BE(4);
  const unrecognized: string[] = [];
  let i = 8;
  for (let n = 0; n < count; n++) {
    const end = body.indexOf(0, i);
    unrecognized.push(body.toString('utf8', i, end));
    i = end + 1;
  }
  const version = body.readInt32BE(0);
  return { major: version >>> 16, minor: version & 0xffff, unrecognized };
}

/** One column of a RowDescription, every attribute as sent (OIDs unsigned). */
export interface FieldInfo {
  name: string;
  tableID: number;
  columnID: number;
  dataTypeID: number;
  dataTypeSize: number;
  dataTypeModifier: number;
  format: 'text' | 'binary';
}

export function rowDescription(body: Buffer): FieldInfo[] {
  const n = body.readInt16BE(0);
  const out: FieldInfo[] = [];
  let pos = 2;
  for (let i = 0; i < n; i++) {
    const end = body.indexOf(0, pos);
    const name = body.toString('utf8', pos, end);
    pos = end + 1;
    out.push({
      name,
      tableID: body.readUInt32BE(pos),
      columnID: body.readInt16BE(pos + 4),
      dataTypeID: body.readUInt32BE(pos + 6),
      dataTypeSize: body.readInt16BE(pos + 10),
      dataTypeModifier: body.readInt32BE(pos + 12),
      format: body.readInt16BE(pos + 16) === 0 ? 'text' : 'binary',
    });
    pos += 18;
  }
  return out;
}

/** The text values of a DataRow body (null for SQL NULL). */
export function dataRow(body: Buffer): (string | null)[] {
  const n = body.readInt16BE(0);
  const out: (string | null)[] = [];
  let pos = 2;
  for (let i = 0; i < n; i++) {
    const len = body.readInt32BE(pos);
    pos += 4;
    if (len < 0) out.push(null);
    else {
      out.push(body.toString('utf8', pos, pos + len));
      pos += len;
    }
  }
  return out;
}

/** A CommandComplete tag exactly as sent, e.g. "SET default_pool_size=4". */
export function commandTag(body: Buffer): string {
  return body.toString('utf8', 0, body.length - 1);
}
