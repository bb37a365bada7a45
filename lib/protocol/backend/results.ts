// Owns the result messages pgmux itself produces: the admin console's rows (RowDescription,
// DataRow, CommandComplete), EmptyQueryResponse, and the extended-protocol acknowledgements it
// synthesizes for prepared statements (ParseComplete, BindComplete, CloseComplete, NoData).
// Servers' results are forwarded as bytes and never decoded (see relay.ts).

import { BackendCode, HEADER_LENGTH } from '../codes';
import { Writer } from '../writer';

function empty(code: number): Buffer {
  return new Writer(HEADER_LENGTH).finish(code);
}

/** ParseComplete ('1'). Shared: never write into it. */
export const PARSE_COMPLETE: Buffer = empty(BackendCode.ParseComplete);
/** BindComplete ('2'). Shared: never write into it. */
export const BIND_COMPLETE: Buffer = empty(BackendCode.BindComplete);
/** CloseComplete ('3'). Shared: never write into it. */
export const CLOSE_COMPLETE: Buffer = empty(BackendCode.CloseComplete);
/** NoData ('n'). Shared: never write into it. */
export const NO_DATA: Buffer = empty(BackendCode.NoData);
/** EmptyQueryResponse ('I'). Shared: never write into it. */
export const EMPTY_QUERY_RESPONSE: Buffer = empty(BackendCode.EmptyQueryResponse);

export function parseComplete(): Buffer {
  return PARSE_COMPLETE;
}

export function bindComplete(): Buffer {
  return BIND_COMPLETE;
}

export function closeComplete(): Buffer {
  return CLOSE_COMPLETE;
}

export function emptyQueryResponse(): Buffer {
  return EMPTY_QUERY_RESPONSE;
}

/** CommandComplete with its tag, e.g. 'SHOW', 'SELECT 3'. */
export function commandComplete(tag: string): Buffer {
  return new Writer(HEADER_LENGTH + Buffer.byteLength(tag) + 1).cstring(tag).finish(BackendCode.CommandComplete);
}

export interface FieldDescription {
  name: string;
  /** Type OID, e.g. 25 text, 20 int8. */
  typeOid: number;
  /** pg_type.typlen: -1 for variable length (default), 8 for int8, ... */
  typeSize?: number;
  /** Type modifier; -1 (default) means none. */
  typeMod?: number;
  /** 0 text (default), 1 binary. */
  format?: number;
  /** OID of the table the column comes from; 0 (default) for none. */
  tableOid?: number;
  /** Attribute number within that table; 0 (default) for none. */
  columnAttr?: number;
}

export function rowDescription(fields: readonly FieldDescription[]): Buffer {
  const w = new Writer(HEADER_LENGTH + 2 + fields.length * 32);
  w.int16(fields.length);
  for (const f of fields) {
    w.cstring(f.name)
      .int32(f.tableOid ?? 0)
      .int16(f.columnAttr ?? 0)
      .int32(f.typeOid)
      .int16(f.typeSize ?? -1)
      .int32(f.typeMod ?? -1)
      .int16(f.format ?? 0);
  }
  return w.finish(BackendCode.RowDescription);
}

/** DataRow of text values; null is SQL NULL (length -1). */
export function dataRow(values: readonly (string | null)[]): Buffer {
  const w = new Writer(HEADER_LENGTH + 2 + values.length * 12);
  w.int16(values.length);
  for (const v of values) {
    if (v === null) w.int32(-1);
    else w.int32(Buffer.byteLength(v)).string(v);
  }
  return w.finish(BackendCode.DataRow);
}
