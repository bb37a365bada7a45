// Owns what a client's request is while no byte of its answer has come back, and whether it may
// be sent again when its server dies before answering. Two cases only, both outside a transaction
// (a client in transaction pooling holds no server between transactions):
//
// - The first thing the server says is FATAL 57P01 (fast shutdown, pg_terminate_backend): the
//   backend stopped at an interrupt check, so whatever it had begun was rolled back. PostgreSQL
//   sends a commit's CommandComplete before it ever looks at interrupts again, and when a
//   synchronous-replication wait is cut short it sends only a WARNING ("already committed
//   locally") and no FATAL at all; so a FATAL first means nothing of the request committed.
// - The connection ends with no byte of an answer, and the request only reads (the router
//   classified it for a replica): running a read twice changes nothing.
//
// Anything else (an immediate shutdown's WARNING, a crash, a reset during a write) may have
// committed, and fails as PostgreSQL failed it. A request that named or dropped prepared
// statements is never sent again: the client's names already changed.

import { FrontendCode, HEADER_LENGTH } from '../protocol/codes';
import { mayBeSqlPrepared } from '../prepared/sql-lexer';

/** Requests larger than this are not kept for a second try (they rarely matter, and cost memory). */
export const RESEND_LIMIT = 64 * 1024;
/** A request is sent at most this many times over (each try must lose its server unanswered). */
export const MAX_RESENDS = 3;

/** Whether the frames of `chunks` leave nothing behind on the client's side when they go unanswered. */
export function resendable(chunks: readonly Buffer[]): boolean {
  const buf = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
  let pos = 0;
  while (pos + HEADER_LENGTH <= buf.length) {
    const type = buf[pos];
    const end = pos + 1 + buf.readInt32BE(pos + 1);
    if (end > buf.length || end < pos + HEADER_LENGTH) return false;
    switch (type) {
      case FrontendCode.Query:
        // PREPARE, EXECUTE and DEALLOCATE change the client's statement names; so does DISCARD.
        if (mayBeSqlPrepared(buf, pos, end) || startsWithWord(buf, pos + HEADER_LENGTH, end, DISCARD)) return false;
        break;
      case FrontendCode.Parse:
        if (buf[pos + HEADER_LENGTH] !== 0) return false; // a named statement
        break;
      case FrontendCode.Bind:
      case FrontendCode.Describe:
      case FrontendCode.Execute:
      case FrontendCode.Sync:
      case FrontendCode.Flush:
      case FrontendCode.FunctionCall:
        break;
      default:
        // Close (of a client's name), COPY data, anything unexpected.
        return false;
    }
    pos = end;
  }
  return pos === buf.length;
}

const DISCARD = Buffer.from('discard', 'latin1');

function startsWithWord(buf: Buffer, i: number, end: number, word: Buffer): boolean {
  while (i < end && (buf[i] === 0x20 || (buf[i] >= 0x09 && buf[i] <= 0x0d))) i++;
  if (i + word.length > end) return false;
  for (let k = 0; k < word.length; k++) if ((buf[i + k] | 0x20) !== word[k]) return false;
  return true;
}
