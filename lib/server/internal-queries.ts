// Owns a server connection's own queries in flight (parameter sync, reset, checks, connect_query, settings replays): what is still to be swallowed ahead of the linked client's answer, who reads each, and the error of the last.

import { BackendCode } from '../protocol/codes';
import { Action } from '../protocol/relay';
import { decodeErrorFields, type ErrorFields } from '../protocol/backend';
import { log } from '../log';
import type { InternalReader, ServerConnection } from './server-connection';

/** An ErrorResponse's fields, or a protocol violation in their place when they do not decode. */
function errorFields(buf: Buffer, start: number, end: number): ErrorFields {
  const fields = decodeErrorFields(buf, start, end);
  return fields.kind === 'invalid' ? { severity: 'ERROR', code: '08P01', message: fields.reason } : fields;
}

export class InternalQueries {
  /** ReadyForQuery messages still to be swallowed for internal queries sent ahead of clients. */
  pending = 0;
  /** Statements of a settings replay still to complete (they have no ReadyForQuery: no Sync). */
  replaying = 0;
  /** Readers of the internal queries in flight, oldest first (null: nothing reads that one). */
  private readonly readers: (InternalReader | null)[] = [];
  /** A reader whose query just ended: told in the server's afterFrame (takeDone). */
  private readerDone: InternalReader | null = null;
  private error: ErrorFields | null = null;

  /** Whether the server's frames answer pgmux rather than the linked client. */
  busy(): boolean {
    return this.pending > 0 || this.replaying > 0;
  }

  /** A query was sent; `reader` reads its answer (null: swallowed unread). */
  sent(reader: InternalReader | null): void {
    this.pending++;
    this.readers.push(reader);
  }

  /** A settings replay of `statements` statements was sent. */
  replaySent(statements: number): void {
    this.replaying += statements;
  }

  /** The connection closed: the queries still unanswered never end, and whoever waits for one hears so. */
  lost(): void {
    for (const reader of this.readers.splice(0)) reader?.lost?.();
  }

  /** The error of the last internal query, if it failed; cleared. */
  takeError(): ErrorFields | null {
    const e = this.error;
    this.error = null;
    return e;
  }

  /** The reader whose query ended in the frame just handled (the frame asked for Action.Notify), else null; cleared. */
  takeDone(): InternalReader | null {
    const reader = this.readerDone;
    this.readerDone = null;
    return reader;
  }

  /** A frame of `server`'s while an internal query is unanswered (pending > 0): the relay's action for it. */
  frame(server: ServerConnection, type: number, buf: Buffer, start: number, end: number): number {
    if (type === BackendCode.ErrorResponse) {
      this.error = errorFields(buf, start, end);
      // Maybe a parameter sync that failed: the next link syncs again.
      server.syncedParams = null;
    }
    const reader = this.readers[0];
    if (reader?.unmetered === true) server.stats.serverBytes -= end - start;
    if (type === BackendCode.DataRow && reader != null) reader.row(buf, start, end);
    if (type === BackendCode.ReadyForQuery) {
      server.txStatus = buf[start + 5];
      this.pending--;
      this.readers.shift();
      if (reader != null) {
        this.readerDone = reader;
        return Action.Swallow | Action.Notify;
      }
      if (this.pending === 0 && server.client === null) return Action.Swallow | Action.Notify;
    }
    return Action.Swallow;
  }

  /**
   * A frame answering a settings replay (no ReadyForQuery ends it: it has no Sync). Each of its
   * statements ends in CommandComplete; an ErrorResponse means the server now skips the client's
   * request, so the client is told and the server serves no one again.
   */
  replayFrame(server: ServerConnection, type: number, buf: Buffer, start: number, end: number): number {
    if (type === BackendCode.CommandComplete) {
      this.replaying--;
      return Action.Swallow;
    }
    if (type !== BackendCode.ErrorResponse) return Action.Swallow;
    this.replaying = 0;
    server.closeOnRelease = true;
    const error = errorFields(buf, start, end);
    log.warn(`a session setting could not be replayed: ${error.message}`, server);
    server.client?.settingsRefused(error);
    return Action.Swallow;
  }
}
