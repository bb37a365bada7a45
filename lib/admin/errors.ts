// Owns every error the admin console answers a command with: one constructor per condition,
// PgBouncer 1.18's exact text (operators' scripts match on it), severity ERROR and SQLSTATE
// 08P01 as PgBouncer sends them. The session stays open after each; login refusals live in
// protocol/refusals.ts.

import type { ErrorFields } from '../protocol/backend';
import { SqlState } from '../protocol/codes';

function consoleError(message: string, detail?: string): ErrorFields {
  const e: ErrorFields = { severity: 'ERROR', code: SqlState.ProtocolViolation, message };
  if (detail !== undefined) e.detail = detail;
  return e;
}

/** Unparsable or unknown command; `query` is the whole query text as received. */
export const invalidCommand = (query: string): ErrorFields => consoleError(`invalid command '${query}', use SHOW HELP;`);

/** A command word or argument longer than PgBouncer's buffers (15 and 63 bytes). */
export const badArguments = (): ErrorFields => consoleError('bad arguments');

/** A stats_users member ran something other than SHOW (or SHOW FDS). */
export const adminAccessNeeded = (): ErrorFields => consoleError('admin access needed');

export const noSuchDatabase = (db: string): ErrorFields => consoleError(`no such database: ${db}`);

export const databaseRequired = (): ErrorFields => consoleError('a database is required');

export const alreadyPaused = (): ErrorFields => consoleError('already suspended/paused');

export const notPaused = (): ErrorFields => consoleError('pooler is not paused/suspended');

export const databaseNotPaused = (db: string): ErrorFields => consoleError(`database ${db} is not paused`);

export const shuttingDown = (): ErrorFields => consoleError('pooler is shutting down');

export const suspendWithPausedDatabases = (): ErrorFields => consoleError('cannot suspend with paused databases');

/**
 * An operation on the console's own database. `verb` is PgBouncer's word: pause, reconnect,
 * kill, disable, "wait in". PgBouncer 1.18 says "cannot disable" for ENABLE too; so does pgmux.
 */
export const adminDatabase = (verb: string, db: string): ErrorFields => consoleError(`cannot ${verb} admin db: ${db}`);

/** SET of an unknown key or a bad value (PgBouncer's text), or one pgmux refuses, with why. */
export const setFailed = (why?: string): ErrorFields => consoleError('SET failed', why);

/** RELOAD could not read the config; the running one stays (see the log for the reason). */
export const reloadFailed = (reason: string): ErrorFields => ({
  severity: 'ERROR',
  code: 'F0000',
  message: 'RELOAD failed, see logs for additional details',
  detail: reason,
});

/** KILL_CLIENT (a pgmux addition: PgBouncer 1.18 lacks it; the texts are PgBouncer 1.21's). */
export const invalidClientId = (): ErrorFields => consoleError('invalid client pointer supplied');
export const clientNotFound = (): ErrorFields => consoleError('client not found');

/** A command failed inside pgmux (a bug): said as such, and the session goes on. */
export const commandFailed = (reason: string): ErrorFields => ({
  severity: 'ERROR',
  code: SqlState.InternalError,
  message: `admin command failed inside pgmux: ${reason}`,
});

/** Extended-protocol messages: the console speaks only simple Query. */
export const extendedProtocol = (): ErrorFields => consoleError('extended query protocol not supported by admin console');

/** With several workers: the command ran on the worker the console is on, not on every other one (lib/workers). */
export const notOnEveryWorker = (failures: string): ErrorFields =>
  consoleError(`ran on this worker, but not on every other one: ${failures}`);
