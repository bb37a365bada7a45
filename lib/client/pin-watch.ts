// Owns how a client in transaction or statement pooling meets its session pins
// (lib/session/pins): the frames that create or may release them, max_pinned_clients_per_pool
// (the statement that would pin one client too many goes on as a marker whose error is
// replaced by the refusal, so the server's transaction fails as PostgreSQL's would), whether
// the server is kept at ReadyForQuery 'I' (after asking it what remains, when in doubt), and
// what a server needs when its pinned client leaves.

import { FrontendCode, HEADER_LENGTH } from '../protocol/codes';
import { decodeErrorFields, errorResponse } from '../protocol/backend';
import { parse, query } from '../protocol/frontend';
import * as refusals from '../protocol/refusals';
import { ClientPins, describePins, type PinCounts } from '../session/pins';
import { serverPinsOfText } from '../routing/pin-detector';
import { Scan, type StatementText } from '../session/statement-scan';
import { log, type LogSubject } from '../log';
import type { InternalReader, ServerConnection } from '../server/server-connection';

/** A statement refused by the limit goes to the server as this word: a syntax error there, replaced by the refusal. */
const MARKER = 'pgmux_pin_limit_reached';
const MARKER_QUOTED = `"${MARKER}"`;
const SYNTAX_ERROR = '42601';

/** What a server needs from the check (lib/server/server-connection). */
export interface PinnedServer {
  runInternal(sql: string, reader: InternalReader): void;
}

export class PinWatch {
  readonly pins: ClientPins;
  /** Markers sent whose error the server still owes, in order (reset at each ReadyForQuery). */
  private refusalsOwed = 0;
  private refusal: Buffer | null = null;

  constructor(
    counts: PinCounts,
    private readonly subject: LogSubject,
  ) {
    this.pins = new ClientPins([counts]);
  }

  /**
   * A Bind about to be forwarded: a Bind of a named statement whose text pins pins as it does.
   * Returns the frame to send instead when it would pin a client over `limit` (never: see creates).
   */
  bind(buf: Buffer, start: number, end: number, limit: number, counts: PinCounts): Buffer | null {
    const pins = this.pins;
    if (!pins.tracksNamed) return null;
    const portalEnd = buf.indexOf(0, start + HEADER_LENGTH);
    if (portalEnd < 0 || portalEnd >= end) return null;
    const nameEnd = buf.indexOf(0, portalEnd + 1);
    if (nameEnd < 0 || nameEnd >= end) return null;
    return this.creates(pins.namedPins(buf.toString('utf8', portalEnd + 1, nameEnd)), null, limit, counts, FrontendCode.Bind, '');
  }

  /** The bits of lib/session/statement-scan a statement's scan must ask for, for statement(). */
  get wants(): number {
    return this.pins.holdsServer ? Scan.MayPin | Scan.MayRelease : Scan.MayPin;
  }

  /**
   * A Query or Parse about to be forwarded, read by the client's watchers (asked for `wants`).
   * Records the server pins it creates, or that it may release some; returns the frame to send
   * instead when it would pin a client over `limit` (0: no limit) while `counts` already holds that many.
   */
  statement(type: number, buf: Buffer, text: StatementText, limit: number, counts: PinCounts): Buffer | null {
    if (!text.valid) return null;
    const pins = this.pins;
    if (pins.holdsServer && (text.scan & Scan.MayRelease) !== 0) pins.mayHaveReleased();
    const name = text.name;
    if ((text.scan & Scan.MayPin) === 0) {
      if (type === FrontendCode.Parse && name !== '') pins.parsed(name, 0);
      return null;
    }
    const sql = buf.toString('utf8', text.from, text.stop);
    const mask = serverPinsOfText(sql);
    if (type === FrontendCode.Parse && name !== '') pins.parsed(name, mask);
    if (mask === 0) return null;
    return this.creates(mask, sql, limit, counts, type, name);
  }

  /** Named statements pgmux answered Parse for itself (no server linked): a later Bind of one pins as its text does. */
  parsedUnlinked(name: string, sql: string): void {
    if (name !== '') this.pins.parsed(name, serverPinsOfText(sql));
  }

  private creates(mask: number, sql: string | null, limit: number, counts: PinCounts, type: number, name: string): Buffer | null {
    if (mask === 0) return null;
    const pins = this.pins;
    // A Bind cannot be swapped for a marker of its own (its statement is the server's): it pins over the limit.
    if (limit > 0 && !pins.holdsServer && counts.serverClients >= limit && type !== FrontendCode.Bind) {
      this.refusalsOwed++;
      this.refusal = errorResponse(refusals.pinnedClientsLimit(limit, describePins(mask)));
      log.info(`statement refused: max_pinned_clients_per_pool (${limit}) reached`, this.subject);
      return type === FrontendCode.Query ? query(MARKER) : parse(name, MARKER);
    }
    pins.created(mask, sql);
    return null;
  }

  /** A server's ErrorResponse for this client: the refusal in place of a marker's syntax error, else null. */
  rewriteError(buf: Buffer, start: number, end: number): Buffer | null {
    if (this.refusalsOwed === 0) return null;
    const fields = decodeErrorFields(buf, start, end);
    if (fields.kind === 'invalid' || fields.code !== SYNTAX_ERROR || !fields.message.includes(MARKER_QUOTED)) return null;
    this.refusalsOwed--;
    return this.refusal;
  }

  /**
   * ReadyForQuery 'I' with nothing owed: whether the client keeps `server`. When its pins are
   * in doubt the server is asked first; meanwhile it is kept, and `freed` hears when the answer
   * says the client no longer needs it.
   */
  keeps(server: PinnedServer, freed: { releaseIfDone(server: ServerConnection): void }): boolean {
    this.refusalsOwed = 0;
    const sql = this.pins.checkAtIdle();
    if (sql !== null) {
      let answer: string | null = null;
      server.runInternal(sql, {
        row: (buf, start, end) => {
          answer = firstColumn(buf, start, end);
        },
        done: (srv, error) => {
          if (this.checked(error === null ? answer : null)) freed.releaseIfDone(srv);
        },
      });
    }
    return this.pins.holdsServer;
  }

  /** Any other ReadyForQuery: a marker the server skipped (an earlier error in its batch) is owed nothing now. */
  ready(): void {
    this.refusalsOwed = 0;
  }

  /** The check's answer (null: it failed); true when the client no longer needs its server. */
  private checked(answer: string | null): boolean {
    if (!this.pins.checking) return false;
    this.pins.checked(answer);
    if (answer === null) log.warn('could not ask the server which session state remains; the client stays on it', this.subject);
    return !this.pins.holdsServer;
  }

  /**
   * The client left (or lost its server): whether the server it held must be reset before
   * anyone else gets it. A prepared transaction is not the session's: it stays prepared on the
   * database (a transaction manager may still finish it by its gid), so it is only logged.
   */
  left(): boolean {
    const pins = this.pins;
    const reset = pins.holdsServer;
    if (pins.gids.size > 0) {
      log.warn(`client left with prepared transactions not finished through it: ${[...pins.gids].join(', ')}; they stay prepared until COMMIT PREPARED or ROLLBACK PREPARED`, this.subject);
    }
    pins.forgetGids();
    if (reset) log.info(`client left holding session state (${describePins(pins.mask) || 'being checked'}); its server is reset`, this.subject);
    pins.clear();
    return reset;
  }
}

/** A DataRow's first column as text (null for SQL NULL or no column): the check's answer. */
function firstColumn(buf: Buffer, start: number, end: number): string | null {
  if (end - start < 11 || buf.readInt16BE(start + 5) < 1) return null;
  const len = buf.readInt32BE(start + 7);
  if (len < 0 || start + 11 + len > end) return null;
  return buf.toString('utf8', start + 11, start + 11 + len);
}
