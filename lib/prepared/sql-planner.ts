// Owns planning SQL-level prepared statements in transaction mode: the Query a server runs for
// a recognised PREPARE / EXECUTE / DEALLOCATE (./sql-lexer), given the client's names and the
// linked server's cache, and the effects on both, on the same registry and server caches as
// protocol-level statements (PgBouncer forwards them raw, and they break).
//
// Client names never reach a server, and the server always runs something and answers the
// Query itself: its ReadyForQuery carries the true transaction status, and in an aborted
// transaction it refuses with 25P02 just as it would have refused the client's statement.
//
//   client sends                        server runs                          client sees
//   PREPARE foo .. (server lacks it)    PREPARE pgmux_N .. AS body           its CommandComplete
//   PREPARE foo .. (server has it)      UNLISTEN pgmux__none (a no-op)       tag made PREPARE
//   EXECUTE foo(..) (server has it)     EXECUTE pgmux_N(..)                  its results
//   EXECUTE foo(..) (server lacks it)   PREPARE pgmux_N .. ; EXECUTE ..      first tag swallowed
//   EXPLAIN .. EXECUTE foo(..), CREATE  the same, the wrapping text kept      its results
//     TABLE .. AS EXECUTE foo(..)
//   DEALLOCATE foo | ALL                UNLISTEN pgmux__none                 tag made DEALLOCATE [ALL]
//   PREPARE foo .. (foo is taken)       PREPARE pgmux_N .. AS body (fails)   42P05 naming foo
//   unknown name, a form pgmux cannot   DEALLOCATE pgmux__none (fails)       its 26000 replaced by
//     handle                                                                 the error for the client's
//
// Among other statements of one Query (planScript), each is planned so in order and the others
// run as the client wrote them.
//
// DEALLOCATE drops the client's names only; the server keeps its statements for other clients.
// An eviction the server's cache needs goes first, as `DEALLOCATE pgmux_M;` (tag swallowed), and
// so does the server's stale copy of the statement itself (its plan's result type changed).
// Effects are applied when the Query is sent (so pipelined queries see them) and undone for
// the statements a failing Query did not complete.
//
// The SqlRewrite returned with each plan (./sql-rewrite) treats the server's responses.

import { commandComplete, errorResponse } from '../protocol/backend';
import * as refusals from '../protocol/refusals';
import type { SqlCommand, SqlStatement } from './sql-lexer';
import { PositionShift, SqlRewrite, type Part, type ShiftPiece, type ExecuteAgain } from './sql-rewrite';
import type { ServerStatementCache, Statement, Statements } from './statements';

/** Succeeds with one CommandComplete and no other effect; fails with 25P02 in an aborted transaction. */
const NO_OP = 'UNLISTEN pgmux__none';
/** Fails with 26000 (no server has that name: pgmux's own names have no "__"). */
const FAILS = 'DEALLOCATE pgmux__none';

export interface SqlPlan {
  /** The Query text the server runs. */
  readonly text: string;
  readonly rewrite: SqlRewrite;
  /** The server lacked a statement the client executes: pgmux prepares it first. */
  readonly injected: boolean;
  /** The text is one statement (nothing put before the client's): a Parse can carry it. */
  readonly single: boolean;
}

/** One client statement as the server runs it: its text and the parts (statements) of that text. */
interface StatementPlan {
  readonly text: string;
  readonly parts: Part[];
  /** Stretches of `text` copied from the client's, for error positions (indexes into `text`). */
  readonly pieces: ShiftPiece[];
  readonly injected: boolean;
  readonly again: ExecuteAgain | null;
}

/**
 * Plans the server's Query for a recognised statement alone in its Query, and applies its
 * effects on the client's names and the server's cache (undone by SqlRewrite.failed).
 */
export function planSql(
  sql: string,
  cmd: SqlCommand,
  names: Map<string, Statement>,
  registry: Statements,
  cache: ServerStatementCache,
): SqlPlan {
  const p = planStatement(sql, cmd, names, registry, cache);
  return { text: p.text, rewrite: new SqlRewrite(p.parts, shiftOf(p.text, sql, p.pieces), p.again), injected: p.injected, single: p.parts.length === 1 };
}

/**
 * Plans the server's Query for a client's Query of several statements, some of them PREPARE,
 * EXECUTE or DEALLOCATE (./sql-lexer lexScript): each of those as planSql would alone, in order
 * (so an EXECUTE sees the PREPARE before it), every other statement as the client wrote it. The
 * server runs them as PostgreSQL would the client's: one implicit transaction, stopping at the
 * first error, its ReadyForQuery carrying the true status. A form pgmux refuses anywhere in the
 * Query refuses the whole Query, before anything runs.
 */
export function planScript(
  sql: string,
  statements: readonly SqlStatement[],
  names: Map<string, Statement>,
  registry: Statements,
  cache: ServerStatementCache,
): SqlPlan {
  if (statements.length === 1 && statements[0].cmd !== null) return planSql(sql, statements[0].cmd, names, registry, cache);
  for (const st of statements) if (st.cmd !== null && st.cmd.kind === 'unsupported') return planSql(sql, st.cmd, names, registry, cache);
  let text = '';
  let injected = false;
  const parts: Part[] = [];
  const pieces: ShiftPiece[] = [];
  let clientAt = 0;
  for (const st of statements) {
    if (text !== '') text += ';';
    if (st.cmd === null) {
      // As the client wrote it, with the fill before it.
      pieces.push({ serverFrom: text.length, serverTo: text.length + (st.to - clientAt), clientFrom: clientAt });
      text += sql.slice(clientAt, st.to);
      parts.push({ evicted: null, prepared: null, own: true });
    } else {
      const p = planStatement(sql, st.cmd, names, registry, cache);
      for (const piece of p.pieces) pieces.push({ serverFrom: text.length + piece.serverFrom, serverTo: text.length + piece.serverTo, clientFrom: piece.clientFrom });
      text += p.text;
      parts.push(...p.parts);
      injected ||= p.injected;
    }
    clientAt = st.to + 1;
  }
  return { text, rewrite: new SqlRewrite(parts, shiftOf(text, sql, pieces)), injected, single: false };
}

function shiftOf(text: string, sql: string, pieces: ShiftPiece[]): PositionShift | null {
  return pieces.length === 0 ? null : new PositionShift(text, sql, pieces);
}

function planStatement(
  sql: string,
  cmd: SqlCommand,
  names: Map<string, Statement>,
  registry: Statements,
  cache: ServerStatementCache,
): StatementPlan {
  switch (cmd.kind) {
    case 'prepare': {
      const taken = names.get(cmd.name);
      if (taken !== undefined) return prepareTaken(cmd, taken, cache);
      const stmt = cmd.types === null ? registry.intern(cmd.body, []) : registry.internSql(cmd.body, cmd.types);
      stmt.uses++;
      names.set(cmd.name, stmt);
      const added = new Map([[cmd.name, stmt]]);
      if (cache.has(stmt)) return noOp({ evicted: null, prepared: null, own: true, tag: commandComplete('PREPARE'), added });
      const stale = cache.takeStale(stmt);
      const evicted = cache.add(stmt);
      const text = staleSql(stale, stmt) + evictSql(evicted) + (stmt.prepareSql as string);
      const bodyAt = text.length - 1 - cmd.body.length;
      const own: Part = { evicted: null, prepared: stmt, own: true, added };
      return { text, parts: withStale(stale, stmt, withEviction(evicted, own)), pieces: [{ serverFrom: bodyAt, serverTo: bodyAt + cmd.body.length, clientFrom: cmd.bodyStart }], injected: false, again: null };
    }
    case 'execute': {
      const stmt = names.get(cmd.name);
      if (stmt === undefined) return missingExecute(cmd);
      if (stmt.prepareSql === null) {
        return standIn('0A000', `prepared statement "${cmd.name}" has parameter types given as OIDs, which SQL EXECUTE cannot prepare again under transaction pooling; execute it with Bind`);
      }
      stmt.uses++;
      const injected = !cache.has(stmt);
      const stale = injected && cache.takeStale(stmt);
      const evicted = injected ? cache.add(stmt) : null;
      const ahead = injected ? `${staleSql(stale, stmt)}${evictSql(evicted)}${stmt.prepareSql};\n` : '';
      // What wraps the EXECUTE (EXPLAIN .., CREATE TABLE .. AS) is the client's text, as it wrote it.
      const before = `${ahead}${cmd.wrap}EXECUTE ${stmt.serverName}`;
      const text = before + sql.slice(cmd.nameEnd, cmd.end);
      const named = { rename: stmt, clientName: cmd.name };
      const own: Part = { evicted: null, prepared: null, own: true, ...named };
      const parts = injected ? withStale(stale, stmt, withEviction(evicted, { evicted: null, prepared: stmt, ...named }, own)) : [own];
      const again = injected ? null : { sql, cmd, stmt };
      const pieces: ShiftPiece[] = [{ serverFrom: before.length, serverTo: text.length, clientFrom: cmd.nameEnd }];
      if (cmd.wrap !== '') pieces.unshift({ serverFrom: ahead.length, serverTo: ahead.length + cmd.wrap.length, clientFrom: cmd.wrapStart });
      return { text, parts, pieces, injected, again };
    }
    case 'deallocate': {
      if (cmd.name === null) {
        const dropped = new Map(names);
        names.clear();
        return noOp({ evicted: null, prepared: null, own: true, tag: commandComplete('DEALLOCATE ALL'), dropped });
      }
      const stmt = names.get(cmd.name);
      if (stmt === undefined) return standIn('26000', `prepared statement "${cmd.name}" does not exist`);
      names.delete(cmd.name);
      return noOp({ evicted: null, prepared: null, own: true, tag: commandComplete('DEALLOCATE'), dropped: new Map([[cmd.name, stmt]]) });
    }
    case 'unsupported':
      return standIn('0A000', cmd.reason);
  }
}

/**
 * PREPARE of a name the client holds. PostgreSQL analyses the body first, then refuses with
 * 42P05 and keeps the old statement; so the server runs the client's PREPARE under the old
 * statement's server-side name (prepared ahead of it where the server lacks it): the body's own
 * errors, 25P02, or the 42P05 (naming the client's statement) come from the server as they would.
 * A statement SQL cannot prepare again (OID types), missing there, gets the failing stand-in.
 */
function prepareTaken(cmd: Extract<SqlCommand, { kind: 'prepare' }>, taken: Statement, cache: ServerStatementCache): StatementPlan {
  const held = cache.has(taken);
  if (!held && taken.prepareSql === null) return standIn('42P05', alreadyExists(cmd.name));
  const stale = !held && cache.takeStale(taken);
  const evicted = held ? null : cache.add(taken);
  const before = held ? '' : `${staleSql(stale, taken)}${evictSql(evicted)}${taken.prepareSql as string};\n`;
  const text = `${before}PREPARE ${taken.serverName}${cmd.types === null ? '' : ` (${cmd.types})`} AS ${cmd.body}`;
  const bodyAt = text.length - cmd.body.length;
  const named = { rename: taken, clientName: cmd.name };
  const own: Part = { evicted: null, prepared: null, own: true, ...named };
  const parts = held ? [own] : withStale(stale, taken, withEviction(evicted, { evicted: null, prepared: taken, ...named }, own));
  return { text, parts, pieces: [{ serverFrom: bodyAt, serverTo: text.length, clientFrom: cmd.bodyStart }], injected: !held, again: null };
}

const alreadyExists = (name: string): string => `prepared statement "${name}" already exists`;

/** A Parse of a name the client holds, on a server lacking a statement only SQL can prepare: the stand-in's 26000 becomes 42P05. */
export function duplicateStatementError(name: string): SqlRewrite {
  return failing('42P05', alreadyExists(name));
}

/**
 * Bind or Describe of a statement only SQL can prepare (SQL PREPARE with type names), which
 * pgmux cannot inject ahead of them: they go to the failing stand-in, this error comes back.
 */
export function sqlOnlyError(name: string): SqlRewrite {
  return failing('0A000', `prepared statement "${name}" was prepared by SQL PREPARE with parameter types; under transaction pooling run it with EXECUTE`);
}

/**
 * A named Parse whose text is SQL PREPARE, EXECUTE or DEALLOCATE: pgmux rewrites those only in
 * a simple Query or an unnamed Parse, where they run once (./link onParse).
 */
export function namedSqlError(name: string): SqlRewrite {
  return failing('0A000', `prepared statement "${name}" would run SQL PREPARE, EXECUTE or DEALLOCATE each time it is executed, which pgmux supports under transaction pooling only in a simple query or an unnamed statement`);
}

/** The Bind or Describe stand-in: a statement name no server holds. */
export const MISSING_STATEMENT = 'pgmux__none';

/** A Bind/Describe of a pgmux server name the client never prepared: PostgreSQL's 26000 for it. */
export function missingStatementError(name: string): SqlRewrite {
  return failing('26000', `prepared statement "${name}" does not exist`);
}

/**
 * A Bind of a statement prepared afresh on a server where it returns other columns than the
 * client was told (./link): sent to the failing stand-in, whose 26000 becomes PostgreSQL's own
 * stale-plan error (lib/protocol/refusals).
 */
export function columnsChangedError(): SqlRewrite {
  return new SqlRewrite([{ evicted: null, prepared: null, own: true, error: errorResponse(refusals.statementColumnsChanged()) }], null);
}

function failing(code: string, message: string): SqlRewrite {
  return new SqlRewrite(standIn(code, message).parts, null);
}

/** A statement the server answers with the no-op, its tag replaced. */
function noOp(own: Part): StatementPlan {
  return { text: NO_OP, parts: [own], pieces: [], injected: false, again: null };
}

/**
 * EXECUTE of a name the client does not hold: what wraps it (EXPLAIN .., CREATE TABLE .. AS) is
 * kept around the failing stand-in's EXECUTE, so a Describe of its portal answers as PostgreSQL's
 * would (EXPLAIN's QUERY PLAN column) before the 26000, which names the client's statement.
 */
function missingExecute(cmd: Extract<SqlCommand, { kind: 'execute' }>): StatementPlan {
  const plan = standIn('26000', `prepared statement "${cmd.name}" does not exist`);
  return cmd.wrap === '' ? plan : { ...plan, text: `${cmd.wrap}EXECUTE ${MISSING_STATEMENT}` };
}

/** The failing stand-in, whose 26000 becomes this error. */
function standIn(code: string, message: string): StatementPlan {
  return { text: FAILS, parts: [{ evicted: null, prepared: null, own: true, error: sqlError(code, message) }], pieces: [], injected: false, again: null };
}

function sqlError(code: string, message: string): Buffer {
  return errorResponse({ severity: 'ERROR', code, message });
}

function evictSql(evicted: Statement | null): string {
  return evicted === null ? '' : `DEALLOCATE ${evicted.serverName};\n`;
}

function withEviction(evicted: Statement | null, ...rest: Part[]): Part[] {
  return evicted === null ? rest : [{ evicted, prepared: null }, ...rest];
}

/** `DEALLOCATE` of the server's stale copy of `stmt`, ahead of preparing it again. */
function staleSql(stale: boolean, stmt: Statement): string {
  return stale ? `DEALLOCATE ${stmt.serverName};\n` : '';
}

function withStale(stale: boolean, stmt: Statement, rest: Part[]): Part[] {
  return stale ? [{ evicted: null, prepared: null, stale: stmt }, ...rest] : rest;
}
