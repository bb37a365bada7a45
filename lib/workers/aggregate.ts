// Owns how the workers' SHOW answers become one answer for the whole pgmux. Each worker renders
// a view as it would alone (RowDescription, DataRows, CommandComplete); this module reads those
// frames back into cells and either sums rows that share a key (POOLS, STATS, DATABASES...) or
// lists every worker's rows with a `worker` column at the end (CLIENTS, SERVERS, SOCKETS, FDS).
// Views about state every worker holds alike (CONFIG, VERSION, REPLICAS...) stay the local answer.
// Not a hot path: admin queries only.

import { commandComplete, dataRow, rowDescription, type FieldDescription } from '../protocol/backend';

interface Summed {
  readonly kind: 'sum';
  /** Columns that identify a row; rows of several workers with the same key become one. */
  readonly key: readonly string[];
  /** Numeric columns taken as the largest (a wait) rather than the sum. */
  readonly max?: readonly string[];
  /** Numeric columns that are the same everywhere (a port, a flag): the first worker's. */
  readonly first?: readonly string[];
  /** Averages: column -> the column that weighs them (an average time by its count). */
  readonly weighted?: Readonly<Record<string, string>>;
  /** Rows (by their key) whose numbers are the largest rather than the sum (SHOW TOTALS' averages). */
  readonly maxRows?: readonly string[];
  /** Text and `first` columns are the asking worker's own, not the first worker's (SHOW HOSTS: its view of the hosts). */
  readonly local?: boolean;
}

interface Listed {
  readonly kind: 'list';
}

type Merge = Summed | Listed;

/** SHOW <view> -> how to combine the workers' answers. Views not listed answer locally. */
export const MERGES: Readonly<Record<string, Merge>> = {
  pools: { kind: 'sum', key: ['database', 'user'], max: ['maxwait', 'maxwait_us'] },
  stats: { kind: 'sum', key: ['database'], max: ['avg_wait_time'], weighted: { avg_xact_time: 'avg_xact_count', avg_query_time: 'avg_query_count' } },
  stats_totals: { kind: 'sum', key: ['database'] },
  stats_averages: { kind: 'sum', key: ['database'], max: ['wait_time'], weighted: { xact_time: 'xact_count', query_time: 'query_count' } },
  totals: { kind: 'sum', key: ['name'], maxRows: ['avg_xact_time', 'avg_query_time', 'avg_wait_time'] },
  databases: { kind: 'sum', key: ['name'], first: ['port', 'paused', 'disabled'] },
  users: { kind: 'sum', key: ['name'] },
  lists: { kind: 'sum', key: ['list'] },
  mem: { kind: 'sum', key: ['name'] },
  // The requests held for a failover and the connections dialled are each worker's own: summed.
  // What the probes found stays the asking worker's own view (every worker hears the probes).
  hosts: { kind: 'sum', key: ['database', 'host', 'port'], first: ['failures', 'last_probe_ms', 'probe_rtt_ms', 'timeline', 'lag_bytes', 'lag_seconds'], local: true },
  clients: { kind: 'list' },
  servers: { kind: 'list' },
  sockets: { kind: 'list' },
  active_sockets: { kind: 'list' },
  fds: { kind: 'list' },
};

/** pg_type OIDs of the numeric column types (int4, int8, numeric). */
const NUMERIC_OIDS = new Set([23, 20, 1700]);

interface Table {
  fields: FieldDescription[];
  rows: (string | null)[][];
}

/** Whether SHOW `arg` is answered for the whole pgmux. */
export function mergeOf(arg: string): Merge | undefined {
  return MERGES[arg.trim().toLowerCase()];
}

/**
 * One answer from every worker's: `parts` are (worker index, frames) with this worker's own
 * among them. Frames that are not a plain table (an error) leave the local answer as it was.
 */
export function mergeAnswers(merge: Merge, parts: readonly { worker: number; frames: readonly Buffer[] }[], local: Buffer[]): Buffer[] {
  const tables: { worker: number; table: Table }[] = [];
  const ordered = [...parts].sort((a, b) => a.worker - b.worker);
  // Stable: the asking worker's answer first, the others in worker order.
  if (merge.kind === 'sum' && merge.local === true) ordered.sort((a, b) => Number(b.frames === local) - Number(a.frames === local));
  for (const p of ordered) {
    const table = readTable(p.frames);
    if (table === null) return local;
    tables.push({ worker: p.worker, table });
  }
  if (tables.length === 0) return local;
  const fields = tables[0].table.fields;
  if (merge.kind === 'list') {
    const out = [rowDescription([...fields, { name: 'worker', typeOid: 23, typeSize: 4 }])];
    for (const { worker, table } of tables) for (const row of table.rows) out.push(dataRow([...row, String(worker)]));
    out.push(commandComplete('SHOW'));
    return out;
  }
  const names = fields.map((f) => f.name);
  const keyAt = merge.key.map((k) => names.indexOf(k));
  const byKey = new Map<string, (string | null)[][]>();
  for (const { table } of tables) {
    for (const row of table.rows) {
      const key = JSON.stringify(keyAt.map((i) => row[i]));
      const rows = byKey.get(key);
      if (rows === undefined) byKey.set(key, [row]);
      else rows.push(row);
    }
  }
  const out = [rowDescription(fields)];
  for (const rows of byKey.values()) {
    const maxRow = merge.maxRows?.includes(String(rows[0][keyAt[0]])) === true;
    out.push(dataRow(fields.map((f, i) => cell(merge, names, f, i, rows, keyAt.includes(i), maxRow))));
  }
  out.push(commandComplete('SHOW'));
  return out;
}

/** Column `i` of one key's rows from every worker, as one cell. */
function cell(merge: Summed, names: string[], f: FieldDescription, i: number, rows: (string | null)[][], isKey: boolean, maxRow: boolean): string | null {
  const values = rows.map((r) => r[i]);
  if (isKey || !NUMERIC_OIDS.has(f.typeOid) || merge.first?.includes(f.name) === true) return values[0];
  const nums = values.filter((v): v is string => v !== null).map(Number);
  if (nums.length === 0) return null;
  if (maxRow || merge.max?.includes(f.name) === true) return String(Math.max(...nums));
  const by = merge.weighted?.[f.name];
  if (by !== undefined) {
    const weights = rows.map((r) => Number(r[names.indexOf(by)] ?? 0));
    const total = weights.reduce((a, b) => a + b, 0);
    if (total === 0) return String(Math.max(...nums));
    return String(Math.round(values.reduce((acc, v, k) => acc + Number(v ?? 0) * weights[k], 0) / total));
  }
  return values.reduce<string | null>((a, b) => combine(a, b), null);
}

/** The sum of two integer cells (counters may pass 2^53: BigInt). */
function combine(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return (BigInt(a) + BigInt(b)).toString();
}

/** RowDescription, DataRows, CommandComplete back into cells; null for anything else. */
export function readTable(frames: readonly Buffer[]): Table | null {
  if (frames.length < 2 || frames[0][0] !== 0x54 /* T */) return null;
  const fields = readFields(frames[0]);
  const rows: (string | null)[][] = [];
  for (let i = 1; i < frames.length - 1; i++) {
    if (frames[i][0] !== 0x44 /* D */) return null;
    rows.push(readRow(frames[i]));
  }
  if (frames[frames.length - 1][0] !== 0x43 /* C */) return null;
  return { fields, rows };
}

function readFields(buf: Buffer): FieldDescription[] {
  const n = buf.readInt16BE(5);
  let at = 7;
  const out: FieldDescription[] = [];
  for (let i = 0; i < n; i++) {
    const nul = buf.indexOf(0, at);
    const name = buf.toString('utf8', at, nul);
    at = nul + 1;
    out.push({ name, typeOid: buf.readInt32BE(at + 6), typeSize: buf.readInt16BE(at + 10) });
    at += 18;
  }
  return out;
}

function readRow(buf: Buffer): (string | null)[] {
  const n = buf.readInt16BE(5);
  let at = 7;
  const out: (string | null)[] = [];
  for (let i = 0; i < n; i++) {
    const len = buf.readInt32BE(at);
    at += 4;
    if (len < 0) out.push(null);
    else {
      out.push(buf.toString('utf8', at, at + len));
      at += len;
    }
  }
  return out;
}
