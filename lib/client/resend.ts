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
// - The request only begins a transaction (BEGIN, START TRANSACTION): it changes nothing, so it
//   goes again however its server died (pgbench's transactions start so).
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

/** What going unanswered means for a request: 'no' to send it again at all, 'harmless' whatever happened, 'maybe' by the rules above. */
export type Resend = 'no' | 'maybe' | 'harmless';

/**
 * Whether the frames of `chunks` leave nothing behind on the client's side when they go
 * unanswered ('maybe'), and whether they only begin a transaction ('harmless').
 */
export function resendable(chunks: readonly Buffer[]): Resend {
  const buf = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
  let pos = 0;
  let onlyBegin = true;
  while (pos + HEADER_LENGTH <= buf.length) {
    const type = buf[pos];
    const end = pos + 1 + buf.readInt32BE(pos + 1);
    if (end > buf.length || end < pos + HEADER_LENGTH) return 'no';
    switch (type) {
      case FrontendCode.Query:
        // PREPARE, EXECUTE and DEALLOCATE change the client's statement names; so does DISCARD.
        if (mayBeSqlPrepared(buf, pos, end) || startsWithWord(buf, pos + HEADER_LENGTH, end, DISCARD)) return 'no';
        if (!beginsTransaction(buf, pos + HEADER_LENGTH, end - 1)) onlyBegin = false;
        break;
      case FrontendCode.Parse: {
        if (buf[pos + HEADER_LENGTH] !== 0) return 'no'; // a named statement
        // Unnamed: the text follows the empty name.
        const textEnd = buf.indexOf(0, pos + HEADER_LENGTH + 1);
        if (textEnd < 0 || textEnd >= end || !beginsTransaction(buf, pos + HEADER_LENGTH + 1, textEnd)) onlyBegin = false;
        break;
      }
      case FrontendCode.Bind:
      case FrontendCode.Describe:
      case FrontendCode.Execute:
      case FrontendCode.Sync:
      case FrontendCode.Flush:
        break;
      case FrontendCode.FunctionCall:
        onlyBegin = false;
        break;
      default:
        // Close (of a client's name), COPY data, anything unexpected.
        return 'no';
    }
    pos = end;
  }
  if (pos !== buf.length) return 'no';
  return onlyBegin ? 'harmless' : 'maybe';
}

const DISCARD = Buffer.from('discard', 'latin1');
const BEGIN = Buffer.from('begin', 'latin1');
const START = Buffer.from('start', 'latin1');
const TRANSACTION = Buffer.from('transaction', 'latin1');

/**
 * Whether buf[i, end) is one BEGIN or START TRANSACTION (with any modes, a trailing `;`): a
 * statement with no effect of its own. Anything after a `;` (another statement) says no.
 */
function beginsTransaction(buf: Buffer, i: number, end: number): boolean {
  i = skipBlanks(buf, i, end);
  if (startsWithWord(buf, i, end, BEGIN)) i += BEGIN.length;
  else if (startsWithWord(buf, i, end, START)) {
    i = skipBlanks(buf, i + START.length, end);
    if (!startsWithWord(buf, i, end, TRANSACTION)) return false;
    i += TRANSACTION.length;
  } else return false;
  if (i < end && isWordByte(buf[i])) return false; // BEGINNING, STARTS…
  const semi = buf.indexOf(0x3b, i);
  if (semi < 0 || semi >= end) return true;
  return skipBlanks(buf, semi + 1, end) === end;
}

function skipBlanks(buf: Buffer, i: number, end: number): number {
  while (i < end && (buf[i] === 0x20 || (buf[i] >= 0x09 && buf[i] <= 0x0d))) i++;
  return i;
}

function isWordByte(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f;
}

function startsWithWord(buf: Buffer, i: number, end: number, word: Buffer): boolean {
  while (i < end && (buf[i] === 0x20 || (buf[i] >= 0x09 && buf[i] <= 0x0d))) i++;
  if (i + word.length > end) return false;
  for (let k = 0; k < word.length; k++) if ((buf[i + k] | 0x20) !== word[k]) return false;
  return true;
}

/** What a lost server means for the request it was answering (UnansweredRequest.lost). */
export type Loss =
  /** It went away with a shutdown's FATAL first: send again only if the host is going away (its probe says), else end the session with `refused`. */
  | { kind: 'check'; chunks: Buffer[]; bytes: number; refused: Buffer }
  /** A read the router placed, or a lone BEGIN: send it again. */
  | { kind: 'resend'; chunks: Buffer[]; bytes: number }
  /** Nothing may go again; `refused` holds the shutdown's words the client has not seen, if any. */
  | { kind: 'fail'; refused: Buffer | null };

/**
 * One client's request from the moment it is handed to a server until the first byte of its
 * answer: its chunks as the client sent them (while they may go again), and what the server said
 * first if that was its shutdown's word. The client connection asks lost() when the server dies.
 */
export class UnansweredRequest {
  private chunks: Buffer[] | null = null;
  private bytes = 0;
  /** The router placed the request as a read, and the client has sent nothing since. */
  private readOnly = false;
  /** The client sent more after the request went (keep): only what was placed is known to be a read or a lone BEGIN. */
  private grew = false;
  /** The server's first answer was a shutdown's word: the frame, swallowed; else null. */
  private refused: Buffer | null = null;
  /** ...and it was a FATAL (nothing committed), not an immediate shutdown's WARNING. */
  private refusedFatal = false;
  /** Times the current request was sent again (MAX_RESENDS). */
  private resends = 0;

  /** Whether the request is kept: the server must say when its answer begins. */
  get kept(): boolean {
    return this.chunks !== null;
  }

  /**
   * The request just handed to a server (the queued array itself, no copy). `placedReadOnly`:
   * the router placed it as a read; `sessionPooling`: a lost server is a lost session, never resent.
   * Whether it may go again (resendable) is decided only if its server is lost unanswered: every
   * request paid for that scan, and almost all are answered.
   */
  begin(queued: readonly Buffer[], placedReadOnly: boolean, sessionPooling: boolean): void {
    this.refused = null;
    this.readOnly = placedReadOnly;
    this.grew = false;
    let bytes = 0;
    for (const c of queued) bytes += c.length;
    if (bytes === 0 || bytes > RESEND_LIMIT || sessionPooling) {
      this.chunks = null;
      return;
    }
    this.chunks = queued as Buffer[];
    this.bytes = bytes;
  }

  /** More of the client's bytes before the answer began: part of what would go again. */
  keep(chunk: Buffer): void {
    const chunks = this.chunks;
    if (chunks === null) return;
    this.bytes += chunk.length;
    // Only the request the router classified is known to be a read, or seen to be a BEGIN.
    this.readOnly = false;
    this.grew = true;
    if (this.bytes > RESEND_LIMIT) this.chunks = null;
    else chunks.push(chunk);
  }

  /** The answer began (a byte reached the client, or the server's first frame was no shutdown's): never again. */
  answered(): void {
    this.chunks = null;
  }

  /** The server's first answer was its shutdown's word (`frame`, swallowed from the client). */
  refusedByShutdown(frame: Buffer, fatal: boolean): void {
    this.refused = frame;
    this.refusedFatal = fatal;
  }

  /** The request's last ReadyForQuery reached the client: the next one starts with no resends. */
  done(): void {
    this.resends = 0;
  }

  /** The server died; `atBoundary`: the client is between messages. Counts a resend it allows. */
  lost(atBoundary: boolean): Loss {
    const chunks = this.chunks;
    const refused = this.refused;
    this.chunks = null;
    this.refused = null;
    if (chunks === null || this.resends >= MAX_RESENDS || !atBoundary) return { kind: 'fail', refused };
    const kind = resendable(chunks);
    if (kind === 'no') return { kind: 'fail', refused };
    if (refused !== null && this.refusedFatal) return { kind: 'check', chunks, bytes: this.bytes, refused };
    if (this.readOnly || (kind === 'harmless' && !this.grew)) return { kind: 'resend', chunks, bytes: this.bytes };
    return { kind: 'fail', refused };
  }

  /** A resend goes out now (after lost() or a probe's verdict); returns which try it is. */
  resent(): number {
    return ++this.resends + 1;
  }
}
