// Owns session-parameter tracking: which parameters follow a client from server to server, and
// the set_config that brings a server in line with a client before the client's next statement.

import { setInOwnTransaction, type Replay } from '../session/settings';

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
  /** The canonical names as an array: syncParams walks it on every link (no iterator). */
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

/**
 * What makes `server` match `client` for every tracked parameter the client has a value for, or
 * null when they already match. Only differences are sent.
 *
 * It goes in front of the client's request in the same write, as a settings replay does
 * (../session/settings replayFor): set_config in its own transaction, with no Sync, so that a
 * value the server refuses (a startup TimeZone typo, a client_encoding it does not know) makes
 * PostgreSQL skip the client's request, and the client is told why (its session cannot go on
 * with a parameter other than the one it was welcomed with), as PostgreSQL would have refused
 * that login. PgBouncer 1.18 closes such a client with "invalid server parameter".
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
export function syncParams(client: ReadonlyMap<string, string>, server: ReadonlyMap<string, string>, tracked: TrackedParams): Replay | null {
  // Runs before every transaction a client starts on a server, and usually finds nothing to
  // do: a plain loop over the tracked names (a client's keys are canonical tracked names, see
  // ../client/startup-params), nothing allocated until a difference shows up.
  let changed: [string, string][] | null = null;
  const names = tracked.list;
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    const current = server.get(name);
    if (current === undefined) continue;
    const value = client.get(name);
    if (value === undefined) continue;
    if (current === value) continue;
    // set_config parses a list setting's text as a list (SET x = 'a, b' would make one element).
    (changed ??= []).push([name, value]);
  }
  return changed === null ? null : setInOwnTransaction([], changed);
}
