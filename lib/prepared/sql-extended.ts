// Owns SQL-level PREPARE, EXECUTE and DEALLOCATE of a client's statements sent through the
// extended protocol: an unnamed Parse of `PREPARE name AS ..`, `EXECUTE name(..)` (also inside
// EXPLAIN or CREATE TABLE AS) or `DEALLOCATE name`, a Bind of it to a portal, and that portal's
// Execute. pgJDBC sends every Statement.execute() so, psql's \gdesc describes its query so, and
// psycopg 3 evicts the oldest of its prepared statements (prepared_max, 100 by default) with
// `DEALLOCATE _pg3_0` in an unnamed statement, where _pg3_0 was created by a protocol-level Parse.
// In PostgreSQL Parse and SQL PREPARE share one namespace, so the name is the client's (pgmux's
// map of client names, ./link.ts), never a server's. As in a simple Query (./sql-planner), the
// Parse carries the statement as the server runs it: PREPARE under pgmux's server-side name,
// EXECUTE of that name, DEALLOCATE (the client's name only) as a no-op, and the CommandComplete at
// the portal's Execute is the client's statement's tag. A Parse holds one statement only, so what
// a simple Query would put first (preparing the statement on a server that lacks it, closing an
// evicted or stale copy) goes as protocol messages ahead of the Parse (./link.ts ensurePrepared).
// Names change when the Parse is sent (a Parse or Query pipelined behind it sees them) and are put
// back if the Parse or the Execute fails or is skipped after an earlier error.
//
// A DEALLOCATE of a name the client does not hold goes to the server as it is, except one of
// pgmux's server-side names (which would reach a statement other clients share): that one gets
// PostgreSQL's 26000 for it from pgmux's failing stand-in. DEALLOCATE ALL goes to the server,
// which drops every statement it has, and ./link.ts forgets them at its CommandComplete.
// EXECUTE of an unknown name gets the stand-in's 26000, as in a simple Query.
//
// Declared parameter types go along with the planned text. A named Parse of such a text is
// refused with 0A000 (./link.ts onParse): it would run on each Execute, under the client's names,
// on a server other clients share; no client-chosen SQL name ever reaches a server.
//
// One unnamed statement, one portal: a second Bind of the same unnamed statement without a new
// Parse runs the statement as it is.

import { HEADER_LENGTH } from '../protocol/codes';
import { decodeParse } from '../protocol/frontend';
import { lexSql, mayBeSqlPreparedText, wrapsExecute, type SqlCommand } from './sql-lexer';
import { planSql, type SqlPlan } from './sql-planner';
import type { SqlRewrite } from './sql-rewrite';
import type { ServerStatementCache, Statement, Statements } from './statements';

/** A byte check on a Parse (buf[start] is its type byte): its text may be PREPARE, EXECUTE or DEALLOCATE. */
export function mayBeSqlPreparedParse(buf: Buffer, start: number, end: number): boolean {
  // The query string starts after the name's NUL.
  const nameEnd = buf.indexOf(0, start + HEADER_LENGTH);
  if (nameEnd < 0 || nameEnd >= end) return false;
  const textStart = nameEnd + 1;
  const textEnd = buf.indexOf(0, textStart);
  return textEnd >= 0 && textEnd < end && (mayBeSqlPreparedText(buf, textStart, textEnd) || wrapsExecute(buf, textStart, textEnd));
}

/** Prepares a statement on the linked server through the protocol (a swallowed Parse) when it lacks it. */
export type PrepareAhead = (stmt: Statement & { readonly parse: Buffer }) => void;

/** A statement SQL alone can prepare (its types are names, not OIDs) is missing where an extended-protocol EXECUTE landed. */
const typedOnly = (name: string): string =>
  `prepared statement "${name}" has a type list, so pgmux can prepare it again on another server only for an EXECUTE sent as a simple query, and this one came through the extended protocol (pgJDBC, psql \\gdesc); prepare it without the type list, casting its parameters instead ($1::int), or use a protocol-level prepared statement`;

export class ExtendedSql {
  /** The unnamed statement's rewrite, until a Bind takes it. */
  private unnamed: SqlRewrite | null = null;
  /** The portal bound from it, until its Execute. */
  private portal: SqlRewrite | null = null;
  private portalName = '';

  /** An Execute must be looked at whole: it may be the one whose tag is replaced. */
  get awaitsExecute(): boolean {
    return this.portal !== null;
  }

  /** An unnamed Parse that is none of these: it replaces the unnamed statement, so a pending rewrite goes. */
  replaced(): void {
    this.unnamed = null;
  }

  /**
   * An unnamed Parse (buf[start] is its type byte) that passed mayBeSqlPreparedParse. Returns
   * the plan to send instead, or null to forward it. Every unnamed Parse replaces the unnamed
   * statement: a pending rewrite goes.
   */
  onUnnamedParse(
    buf: Buffer, start: number, end: number,
    names: Map<string, Statement>, registry: Statements, cache: ServerStatementCache, ahead: PrepareAhead,
  ): (SqlPlan & { readonly paramTypes: readonly number[] }) | null {
    this.unnamed = null;
    const msg = decodeParse(buf, start, end);
    // Declared parameter types are the Parse's, not the PREPARE's: they go with the planned text
    // (a PREPARE sent as it was would leave the client's name on a shared server).
    if (msg.kind !== 'parse') return null;
    const cmd = lexSql(msg.sql);
    if (cmd === null) return null;
    if (cmd.kind === 'deallocate' && (cmd.name === null || (!names.has(cmd.name) && !cmd.name.startsWith('pgmux_')))) return null;
    const plan = planOne(msg.sql, cmd, names, registry, cache, ahead);
    this.unnamed = plan.rewrite;
    return { ...plan, paramTypes: msg.paramTypes };
  }

  /** A Bind of the unnamed statement: the portal it names takes a waiting rewrite, or loses one. */
  onUnnamedBind(buf: Buffer, start: number, end: number): void {
    if (this.unnamed === null && this.portal === null) return;
    const body = start + HEADER_LENGTH;
    const nul = buf.indexOf(0, body);
    const name = nul < 0 || nul >= end ? null : buf.toString('utf8', body, nul);
    this.onBind(name);
    if (this.unnamed === null || name === null) return;
    this.portal = this.unnamed;
    this.portalName = name;
    this.unnamed = null;
  }

  /** An Execute: the rewrite of its portal's CommandComplete, or null. */
  onExecute(buf: Buffer, start: number, end: number): SqlRewrite | null {
    const rewrite = this.portal;
    if (rewrite === null) return null;
    const body = start + HEADER_LENGTH;
    const nul = buf.indexOf(0, body);
    if (nul < 0 || nul >= end || buf.toString('utf8', body, nul) !== this.portalName) return null;
    this.portal = null;
    return rewrite;
  }

  /** A Bind to the portal that waits for its Execute replaces it. */
  onBind(portalName: string | null): void {
    if (this.portal !== null && portalName === this.portalName) this.portal = null;
  }
}

/**
 * The plan of one statement as a single statement: where the simple Query's plan would put
 * something first, that is undone, the statement prepared ahead through the protocol instead,
 * and the statement planned again (now held, it is one statement). A statement only SQL can
 * prepare (a type list) cannot go ahead so: a clear 0A000.
 */
function planOne(sql: string, cmd: SqlCommand, names: Map<string, Statement>, registry: Statements, cache: ServerStatementCache, ahead: PrepareAhead): SqlPlan {
  const plan = planSql(sql, cmd, names, registry, cache);
  if (plan.single || cmd.kind === 'unsupported' || cmd.kind === 'deallocate') return plan;
  plan.rewrite.undo(cache, names);
  const stmt = cmd.kind === 'execute' ? names.get(cmd.name) : (names.get(cmd.name) ?? (cmd.types === null ? registry.intern(cmd.body, []) : registry.internSql(cmd.body, cmd.types)));
  if (stmt === undefined || stmt.parse === null) return planSql(sql, { kind: 'unsupported', reason: typedOnly(cmd.name) }, names, registry, cache);
  ahead(stmt as Statement & { readonly parse: Buffer });
  return planSql(sql, cmd, names, registry, cache);
}
