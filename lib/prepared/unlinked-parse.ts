// Owns answering, without a server, a client's Parse of a statement pgmux knows to be good while
// no server is linked to that client (transaction and statement mode): the chunk it sent is
// nothing but named Parses, then Sync or Flush.
//
// Why: pgbench -M prepared (and libpq's PQprepare generally) prepares synchronously, Parse then
// Sync and wait, outside a transaction. With several connections per pgbench thread on a pool
// smaller than them, the other connections of that thread can hold every server in the middle of
// a transaction; the thread never gets back to them while it waits, so they never give a server
// back: a deadlock, ended by query_wait_timeout (PgBouncer 1.25 deadlocks the same way).
//
// Why it is safe. "Good" (Statement.good) means a server answered ParseComplete for that exact
// text and those parameter types, and none has refused it since. What PostgreSQL answers a Parse
// depends only on the text, the types and the catalog; a Parse does nothing but create the
// statement, which pgmux creates on a server anyway before any Bind or Describe of it needs it
// there (./link.ts ensurePrepared). pgmux already relies on that by sharing one server-side
// statement per (text, types) among all clients. An unlinked client is in no transaction (a
// transaction-mode client is unlinked only at ReadyForQuery 'I'), so PostgreSQL's answer would be
// ParseComplete and ReadyForQuery 'I', never 25P02. If the catalog changed since (a table
// dropped), the client gets that error at its Bind or Describe, from the Parse injected ahead of
// it, as it would for a statement invalidated after its Parse; that error clears the flag, so the
// next Parse of the text goes to a server. The first Parse of a text always goes to a server, so
// bad SQL gets PostgreSQL's own error, in order, from a server.
//
// A Parse of a name the client already holds (PostgreSQL's 42P05), of a statement pgmux has not
// seen succeed, or anything else in the chunk, and the chunk goes to a server as usual.

import { FrontendCode, HEADER_LENGTH } from '../protocol/codes';
import { decodeParse, parseTextIsUtf8 } from '../protocol/frontend';
import { PARSE_COMPLETE, READY_IDLE } from '../protocol/backend';
import type { ParsedStatement, Statement, Statements } from './statements';

/** More Parses than this in one chunk go to a server (an answer is built per Parse). */
const MAX_PARSES = 64;

/** A chunk pgmux answers itself: the statements it names, and the client's answer. */
export interface LocalParses {
  readonly names: readonly string[];
  readonly statements: readonly ParsedStatement[];
  /** ParseComplete per Parse, then ReadyForQuery 'I' when the chunk ended with Sync. */
  readonly answer: Buffer;
  readonly synced: boolean;
}

/**
 * Reads `chunk` as whole frames: named Parses of good statements under names the client does
 * not hold, then one Sync or Flush ending the chunk. Null when any of that is not so. Changes
 * nothing: the caller records the names.
 */
export function localParses(chunk: Buffer, held: ReadonlyMap<string, Statement>, registry: Statements, maxLength: number): LocalParses | null {
  // The cheap tests first: the usual request is not a Parse, or a Parse of the unnamed statement.
  if (chunk.length < HEADER_LENGTH * 2 || chunk[0] !== FrontendCode.Parse || chunk[HEADER_LENGTH] === 0) return null;
  const names: string[] = [];
  const statements: ParsedStatement[] = [];
  let pos = 0;
  for (;;) {
    if (pos + HEADER_LENGTH > chunk.length) return null;
    const type = chunk[pos];
    const length = chunk.readInt32BE(pos + 1);
    if (length < 4 || length > maxLength) return null;
    const end = pos + 1 + length;
    if (end > chunk.length) return null;
    if (type === FrontendCode.Sync || type === FrontendCode.Flush) {
      if (end !== chunk.length || length !== 4 || names.length === 0) return null;
      const synced = type === FrontendCode.Sync;
      const parts = new Array<Buffer>(names.length + (synced ? 1 : 0)).fill(PARSE_COMPLETE);
      if (synced) parts[names.length] = READY_IDLE;
      return { names, statements, answer: Buffer.concat(parts), synced };
    }
    if (type !== FrontendCode.Parse || chunk[pos + HEADER_LENGTH] === 0 || names.length === MAX_PARSES) return null;
    const msg = decodeParse(chunk, pos, end);
    if (msg.kind !== 'parse' || msg.name === '' || held.has(msg.name) || names.includes(msg.name) || !parseTextIsUtf8(chunk, pos, end, msg)) return null;
    const stmt = registry.find(msg.sql, msg.paramTypes);
    if (stmt === undefined || !stmt.good) return null;
    names.push(msg.name);
    statements.push(stmt);
    pos = end;
  }
}
