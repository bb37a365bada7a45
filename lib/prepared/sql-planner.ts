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
//   DEALLOCATE foo | ALL                UNLISTEN pgmux__none                 tag made DEALLOCATE [ALL]
//   PREPARE foo .. (foo is taken)       PREPARE pgmux_N .. AS body (fails)   42P05 naming foo
//   unknown name, a form pgmux cannot   DEALLOCATE pgmux__none (fails)       its 26000 replaced by
//     handle                                                                 the error for the client's
//
// DEALLOCATE drops the client's names only; the server keeps its statements for other clients.
// An eviction the server's cache needs goes first, as `DEALLOCATE pgmux_M;` (tag swallowed), and
// so does the server's stale copy of the statement itself (its plan's result type changed).
// Effects are applied when the Query is sent (so pipelined queries see them) and undone for
// the statements a failing Query did not complete.
//
// The SqlRewrite returned with each plan (./sql-rewrite) treats the server's responses.

import { commandComplete, errorResponse } from '../protocol/backend';
import type { SqlCommand } from './sql-lexer';
import { PositionShift, SqlRewrite, type Part } from './sql-rewrite';
import type { ServerStatementCache, Statement, StatementRegistry } from './statements';

const NOTHING: Part = { evicted: null, prepared: null };
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
}

/**
 * Plans the server's Query for a recognised statement, and applies its effects on the client's
 * names and the server's cache (undone by SqlRewrite.failed).
 */
export function planSql(
  sql: string,
  cmd: SqlCommand,
  names: Map<string, Statement>,
  registry: StatementRegistry,
  cache: ServerStatementCache,
): SqlPlan {
  switch (cmd.kind) {
    case 'prepare': {
      const taken = names.get(cmd.name);
      if (taken !== undefined) return prepareTaken(sql, cmd, taken, cache);
      const stmt = cmd.types === null ? registry.intern(cmd.body, []) : registry.internSql(cmd.body, cmd.types);
      stmt.uses++;
      names.set(cmd.name, stmt);
      const added = new Map([[cmd.name, stmt]]);
      if (cache.has(stmt)) return plan(NO_OP, [NOTHING], commandComplete('PREPARE'), null, added, null, null);
      const stale = cache.takeStale(stmt);
      const evicted = cache.add(stmt);
      const text = staleSql(stale, stmt) + evictSql(evicted) + (stmt.prepareSql as string);
      const bodyAt = text.length - 1 - cmd.body.length;
      const shift = new PositionShift(text, bodyAt, bodyAt + cmd.body.length, sql, cmd.bodyStart);
      return plan(text, withStale(stale, stmt, withEviction(evicted, { evicted: null, prepared: stmt })), null, null, added, null, shift);
    }
    case 'execute': {
      const stmt = names.get(cmd.name);
      if (stmt === undefined) return standIn('26000', `prepared statement "${cmd.name}" does not exist`);
      if (stmt.prepareSql === null) {
        return standIn('0A000', `prepared statement "${cmd.name}" has parameter types given as OIDs, which SQL EXECUTE cannot prepare again under transaction pooling; execute it with Bind`);
      }
      stmt.uses++;
      const own = `EXECUTE ${stmt.serverName}`;
      const rest = sql.slice(cmd.nameEnd);
      const injected = !cache.has(stmt);
      const stale = injected && cache.takeStale(stmt);
      const evicted = injected ? cache.add(stmt) : null;
      const before = injected ? `${staleSql(stale, stmt)}${evictSql(evicted)}${stmt.prepareSql};\n${own}` : own;
      const text = before + rest;
      const parts = injected ? withStale(stale, stmt, withEviction(evicted, { evicted: null, prepared: stmt }, NOTHING)) : [NOTHING];
      const shift = new PositionShift(text, before.length, text.length, sql, cmd.nameEnd);
      const again = injected ? null : { sql, cmd, stmt };
      return { text, rewrite: new SqlRewrite(parts, null, null, null, null, shift, stmt, cmd.name, again), injected };
    }
    case 'deallocate': {
      if (cmd.name === null) {
        const dropped = new Map(names);
        names.clear();
        return plan(NO_OP, [NOTHING], commandComplete('DEALLOCATE ALL'), null, null, dropped, null);
      }
      const stmt = names.get(cmd.name);
      if (stmt === undefined) return standIn('26000', `prepared statement "${cmd.name}" does not exist`);
      names.delete(cmd.name);
      return plan(NO_OP, [NOTHING], commandComplete('DEALLOCATE'), null, null, new Map([[cmd.name, stmt]]), null);
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
function prepareTaken(sql: string, cmd: Extract<SqlCommand, { kind: 'prepare' }>, taken: Statement, cache: ServerStatementCache): SqlPlan {
  const held = cache.has(taken);
  if (!held && taken.prepareSql === null) return standIn('42P05', alreadyExists(cmd.name));
  const stale = !held && cache.takeStale(taken);
  const evicted = held ? null : cache.add(taken);
  const before = held ? '' : `${staleSql(stale, taken)}${evictSql(evicted)}${taken.prepareSql as string};\n`;
  const text = `${before}PREPARE ${taken.serverName}${cmd.types === null ? '' : ` (${cmd.types})`} AS ${cmd.body}`;
  const bodyAt = text.length - cmd.body.length;
  const shift = new PositionShift(text, bodyAt, text.length, sql, cmd.bodyStart);
  const parts = held ? [NOTHING] : withStale(stale, taken, withEviction(evicted, { evicted: null, prepared: taken }, NOTHING));
  return { text, rewrite: new SqlRewrite(parts, null, null, null, null, shift, taken, cmd.name), injected: !held };
}

const alreadyExists = (name: string): string => `prepared statement "${name}" already exists`;

/** A Parse of a name the client holds, on a server lacking a statement only SQL can prepare: the stand-in's 26000 becomes 42P05. */
export function duplicateStatementError(name: string): SqlRewrite {
  return new SqlRewrite([NOTHING], null, sqlError('42P05', alreadyExists(name)), null, null, null);
}

/**
 * Bind or Describe of a statement only SQL can prepare (SQL PREPARE with type names), which
 * pgmux cannot inject ahead of them: they go to the failing stand-in, this error comes back.
 */
export function sqlOnlyError(name: string): SqlRewrite {
  return new SqlRewrite([NOTHING], null, sqlError('0A000', `prepared statement "${name}" was prepared by SQL PREPARE with parameter types; under transaction pooling run it with EXECUTE`), null, null, null);
}

/** The Bind or Describe stand-in: a statement name no server holds. */
export const MISSING_STATEMENT = 'pgmux__none';

/** A Bind/Describe of a pgmux server name the client never prepared: PostgreSQL's 26000 for it. */
export function missingStatementError(name: string): SqlRewrite {
  return new SqlRewrite([NOTHING], null, sqlError('26000', `prepared statement "${name}" does not exist`), null, null, null);
}

function plan(
  text: string,
  parts: Part[],
  tag: Buffer | null,
  error: Buffer | null,
  added: Map<string, Statement> | null,
  dropped: Map<string, Statement> | null,
  shift: PositionShift | null,
): SqlPlan {
  return { text, rewrite: new SqlRewrite(parts, tag, error, added, dropped, shift), injected: false };
}

function standIn(code: string, message: string): SqlPlan {
  return plan(FAILS, [NOTHING], null, sqlError(code, message), null, null, null);
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
