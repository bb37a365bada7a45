// Owns SQL-level DEALLOCATE of a client's statement sent through the extended protocol: an
// unnamed Parse of `DEALLOCATE name`, a Bind of it to a portal, and that portal's Execute.
//
// psycopg 3 evicts the oldest of its prepared statements (prepared_max, 100 by default) exactly so:
// `DEALLOCATE _pg3_0` in an unnamed statement, where _pg3_0 was created by a protocol-level Parse.
// In PostgreSQL Parse and SQL PREPARE share one namespace, so the name is the client's (pgmux's
// map of client names, ./link.ts), never a server's. As in a simple Query (./sql-planner),
// DEALLOCATE drops the client's name only: the Parse goes to the server as a no-op (so that in an
// aborted transaction the server refuses it with 25P02, as it would the client's), and the no-op's
// CommandComplete at the portal's Execute is replaced by DEALLOCATE's. The name is dropped when
// the Parse is sent (a Parse or Query pipelined behind it sees it gone) and put back if the Parse
// or the Execute fails or is skipped after an earlier error.
//
// A name the client does not hold goes to the server as it is, except one of pgmux's server-side
// names (which would reach a statement other clients share): that one gets PostgreSQL's 26000
// for it from pgmux's failing stand-in. DEALLOCATE ALL goes to the server, which drops every
// statement it has, and ./link.ts forgets them at its CommandComplete.
//
// One unnamed statement, one portal: a second Bind of the same unnamed statement without a new
// Parse runs the no-op as it is.

import { HEADER_LENGTH } from '../protocol/codes';
import { decodeParse } from '../protocol/frontend';
import { lexSql, mayBeSqlPreparedText } from './sql-lexer';
import { planSql, type SqlPlan } from './sql-planner';
import type { SqlRewrite } from './sql-rewrite';
import type { ServerStatementCache, Statement, StatementRegistry } from './statements';

/** A byte check on an unnamed Parse (buf[start] is its type byte): its text may be a DEALLOCATE. */
export function mayBeDeallocate(buf: Buffer, start: number, end: number): boolean {
  // The name is empty: the query string starts after its NUL.
  const textStart = start + HEADER_LENGTH + 1;
  const textEnd = buf.indexOf(0, textStart);
  return textEnd >= 0 && textEnd < end && mayBeSqlPreparedText(buf, textStart, textEnd);
}

export class ExtendedDeallocate {
  /** The unnamed statement's rewrite, until a Bind takes it. */
  private unnamed: SqlRewrite | null = null;
  /** The portal bound from it, until its Execute. */
  private portal: SqlRewrite | null = null;
  private portalName = '';

  /** An Execute must be looked at whole: it may be the one whose tag is replaced. */
  get awaitsExecute(): boolean {
    return this.portal !== null;
  }

  /**
   * An unnamed Parse (buf[start] is its type byte). Returns the plan to send instead, or null
   * to forward it. Every unnamed Parse replaces the unnamed statement: a pending rewrite goes.
   */
  onUnnamedParse(buf: Buffer, start: number, end: number, names: Map<string, Statement>, registry: StatementRegistry, cache: ServerStatementCache): SqlPlan | null {
    this.unnamed = null;
    if (!mayBeDeallocate(buf, start, end)) return null;
    const msg = decodeParse(buf, start, end);
    if (msg.kind !== 'parse' || msg.paramTypes.length > 0) return null;
    const cmd = lexSql(msg.sql);
    if (cmd === null || cmd.kind !== 'deallocate' || cmd.name === null) return null;
    if (!names.has(cmd.name) && !cmd.name.startsWith('pgmux_')) return null;
    const plan = planSql(msg.sql, cmd, names, registry, cache);
    this.unnamed = plan.rewrite;
    return plan;
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
