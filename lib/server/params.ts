// Owns session-parameter tracking: which parameters follow a client from server to server, and
// the SET that brings a server in line with a client before the client's next statement.

/** Parameters always tracked, in PostgreSQL's canonical spelling (as ParameterStatus names them). */
const ALWAYS_TRACKED = [
  'client_encoding',
  'DateStyle',
  'TimeZone',
  'IntervalStyle',
  'standard_conforming_strings',
  'application_name',
] as const;

/** Parameter names are case-insensitive in startup packets and SET; this maps to one spelling. */
export class TrackedParams {
  private readonly canonical = new Map<string, string>();
  /** The canonical names as an array: syncStatement walks it on every link (no iterator). */
  readonly list: readonly string[];

  constructor(extra: readonly string[]) {
    for (const name of ALWAYS_TRACKED) this.canonical.set(name.toLowerCase(), name);
    for (const name of extra) {
      if (!this.canonical.has(name.toLowerCase())) this.canonical.set(name.toLowerCase(), name);
    }
    this.list = [...this.canonical.values()];
  }

  /** Canonical name when tracked, else undefined. */
  lookup(name: string): string | undefined {
    return this.canonical.get(name.toLowerCase());
  }
}

/** Quotes a value as a SQL string literal (standard_conforming_strings on or off alike). */
export function quoteLiteral(value: string): string {
  if (value.includes('\\')) return `E'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * The SET statements that make `server` match `client` for every tracked parameter the client
 * has a value for, or '' when they already match. Only differences are sent.
 *
 * A tracked parameter PostgreSQL does not report (absent from the server's ParameterStatus set,
 * e.g. search_path before PostgreSQL 18) is not this function's: ../session/settings follows it
 * like any other SET (the client's startup value is its first value there).
 *
 * An empty value is applied like any other. PgBouncer 1.18 skips it (varcache_apply), which
 * leaves the previous client's application_name on the server for a client of a pool whose
 * value is ''; a pool value from connect_query or the database line is in the client's map
 * from its welcome (../pool/pool welcomeClients), so it is never overwritten with ''.
 */
export function syncStatement(client: ReadonlyMap<string, string>, server: ReadonlyMap<string, string>, tracked: TrackedParams): string {
  // Runs before every transaction a client starts on a server, and usually finds nothing to
  // do: a plain loop over the tracked names (a client's keys are canonical tracked names, see
  // ../client/startup-params), nothing allocated until a difference shows up.
  let sets = '';
  const names = tracked.list;
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    const current = server.get(name);
    if (current === undefined) continue;
    const value = client.get(name);
    if (value === undefined) continue;
    if (current === value) continue;
    // SET x = 'a, b' makes one element of a list setting; set_config parses the text as a list.
    sets += LIST_QUOTE.has(name.toLowerCase())
      ? `SELECT pg_catalog.set_config(${quoteLiteral(name)}, ${quoteLiteral(value)}, false);`
      : `SET ${quoteIdent(name)} = ${quoteLiteral(value)};`;
  }
  return sets;
}

/** PostgreSQL's GUC_LIST_QUOTE settings: their value is a list, as search_path = a, "b c". */
const LIST_QUOTE = new Set(['search_path', 'temp_tablespaces', 'local_preload_libraries', 'session_preload_libraries']);

function quoteIdent(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_.]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}
