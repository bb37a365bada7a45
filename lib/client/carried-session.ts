// Owns what of a logged-in client's session goes with it when pgmux hands the client to another
// process (a restart, lib/workers/handover): plain data that crosses the IPC channel as JSON next
// to the socket's handle, and turning it back into the pieces a ClientConnection holds.

import type { Statements, Statement } from '../prepared/statements';
import type { CarriedListens } from '../session/listen-glue';

export type { CarriedListens };

/** One named prepared statement of the client (protocol Parse or SQL PREPARE). */
export interface CarriedStatement {
  /** The client's name for it. */
  readonly name: string;
  readonly sql: string;
  /** Parameter type OIDs of a Parse (empty for a SQL PREPARE). */
  readonly paramTypes: readonly number[];
  /** A SQL PREPARE's parameter type names, which only SQL can prepare; null for a Parse. */
  readonly sqlTypes: string | null;
}

export interface CarriedSession {
  readonly user: string;
  readonly database: string;
  /** Tracked parameters as the client believes them (canonical names): it had their ParameterStatus. */
  readonly params: readonly (readonly [string, string])[];
  /** The parameters the pool's servers report (left to params by the settings account). */
  readonly reported: readonly string[];
  /** Every other session setting (SET, set_config, startup options), as lib/session/settings holds them. */
  readonly settings: readonly (readonly [string, string])[];
  readonly statements: readonly CarriedStatement[];
  /** Its LISTEN channels (lib/session/listen-glue). */
  readonly listens: CarriedListens | null;
  /** The key it was given (BackendKeyData): it keeps it, so its cancels still work. */
  readonly cancelKey: { readonly pid: number; readonly secret: number };
  /** `SET pgmux.route` / `SET pgmux.key`, and a write its reads still wait for (read_your_writes), when the database is routed (lib/routing/router). */
  readonly route: { readonly session: string; readonly key: string | null; readonly writePending: boolean } | null;
  /** The pool's SCRAM keys from a client's proof (base64), for pools that log in with them. */
  readonly scramKeys: { readonly clientKey: string; readonly serverKey: string } | null;
}

/** The client's named statements as carried. */
export function carriedStatements(names: ReadonlyMap<string, Statement>): CarriedStatement[] {
  const out: CarriedStatement[] = [];
  for (const [name, stmt] of names) {
    out.push({ name, sql: stmt.sql, paramTypes: [...stmt.paramTypes], sqlTypes: stmt.parse === null ? stmt.typesText : null });
  }
  return out;
}

/** A carried statement as this process's registry holds it (a new server-side name if it did not). */
export function internCarried(registry: Statements, s: CarriedStatement): Statement {
  return s.sqlTypes === null ? registry.intern(s.sql, s.paramTypes) : registry.internSql(s.sql, s.sqlTypes);
}
