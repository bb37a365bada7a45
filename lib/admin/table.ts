// Owns how a SHOW view becomes wire messages: a view is ONE array of columns, each with its
// name, its type and how to read it from a row, so RowDescription and DataRow derive from the
// same rows and a name can never drift from its value.
//
// Types are PgBouncer 1.18's, as its console sends them (pktbuf_write_RowDescription letters):
// 's' text, 'i' int4, 'q' int8, 'N' numeric (uint64 counters), 'b' bytea, 'T' a timestamp sent
// as text. Recorded from the real binary by spec/admin/columns.spec.ts.

import { commandComplete, dataRow, rowDescription, type FieldDescription } from '../protocol/backend';

export type ColumnType = 'text' | 'int4' | 'int8' | 'numeric' | 'bytea' | 'time';

/** pg_type OID and typlen of each column type. */
const WIRE: Readonly<Record<ColumnType, { oid: number; size: number }>> = {
  text: { oid: 25, size: -1 },
  time: { oid: 25, size: -1 },
  int4: { oid: 23, size: 4 },
  int8: { oid: 20, size: 8 },
  numeric: { oid: 1700, size: -1 },
  bytea: { oid: 17, size: -1 },
};

/** A cell before formatting: null is SQL NULL. */
export type Cell = string | number | bigint | null;

export interface Column<R> {
  readonly name: string;
  readonly type: ColumnType;
  get(row: R): Cell;
}

export type View<R> = readonly Column<R>[];

/** RowDescription, one DataRow per row, CommandComplete "SHOW". */
export function renderView<R>(view: View<R>, rows: Iterable<R>): Buffer[] {
  const fields: FieldDescription[] = view.map((c) => ({ name: c.name, typeOid: WIRE[c.type].oid, typeSize: WIRE[c.type].size }));
  const out = [rowDescription(fields)];
  for (const row of rows) out.push(dataRow(view.map((c) => format(c.type, c.get(row)))));
  out.push(commandComplete('SHOW'));
  return out;
}

function format(type: ColumnType, v: Cell): string | null {
  if (v === null) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint') return v.toString();
  switch (type) {
    case 'time':
      return formatTime(v);
    case 'int4':
      // PgBouncer prints these with %d from an int: fractional or huge values never appear.
      return String(Math.trunc(v) | 0);
    default:
      return String(Math.max(0, Math.floor(v)));
  }
}

/**
 * A clock.now (ms since the epoch) as PgBouncer's 'T' cells: "2026-11-23 04:02:23 UTC". PgBouncer
 * prints its process's local time zone; pgmux prints UTC, as its log lines do.
 */
export function formatTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} UTC`;
}
