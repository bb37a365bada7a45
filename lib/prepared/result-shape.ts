// Owns what a client was told a named statement returns: a number summing up the columns of a
// RowDescription (or NoData), so that ./link can tell when a statement it prepares again on
// another server would now return other columns than the client decodes rows by.
//
// The columns as PostgreSQL's "cached plan must not change result type" check sees them: each
// column's name, type OID, type length and type modifier, in order. Not the table OID and
// column number (a table dropped and created alike returns the same rows), nor the format code
// (a Describe of a statement says text, a Describe of a portal what the Bind asked for).

import { BackendCode, HEADER_LENGTH } from '../protocol/codes';

/** The shape of a statement that returns no rows (NoData). */
export const NO_ROWS = 1;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * The shape a RowDescription or NoData frame (buf[start..end), header included) describes; -1
 * for a malformed RowDescription (never equal to a recorded shape, so never trusted).
 */
export function resultShape(type: number, buf: Buffer, start: number, end: number): number {
  if (type !== BackendCode.RowDescription) return NO_ROWS;
  let pos = start + HEADER_LENGTH;
  if (pos + 2 > end) return -1;
  const fields = buf.readInt16BE(pos);
  pos += 2;
  let h = Math.imul(FNV_OFFSET ^ fields, FNV_PRIME);
  for (let f = 0; f < fields; f++) {
    const nul = buf.indexOf(0, pos);
    if (nul < 0 || nul + 19 > end) return -1;
    for (let i = pos; i <= nul; i++) h = Math.imul(h ^ buf[i], FNV_PRIME);
    // Skip the table OID (4) and column number (2); hash type OID (4), length (2), modifier (4).
    for (let i = nul + 7; i < nul + 17; i++) h = Math.imul(h ^ buf[i], FNV_PRIME);
    pos = nul + 19;
  }
  // Never NO_ROWS or -1 for a RowDescription.
  h >>>= 0;
  return h <= NO_ROWS ? h + 2 : h;
}
