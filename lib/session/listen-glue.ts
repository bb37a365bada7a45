// Owns where a client connection meets LISTEN handling in transaction and statement pooling:
// which of its Query frames pgmux answers itself (LISTEN, UNLISTEN, pg_listening_channels()),
// which it only watches (DISCARD ALL, and COMMIT/ROLLBACK while its transaction LISTENed), and
// holding the client while a new channel's LISTEN reaches the listener connection.
//
// An idle client's LISTEN never takes a server: its answer waits until the listener LISTENs
// (so a NOTIFY sent after the answer is never missed), then goes out. Inside a transaction the
// client is linked: the answer is built in order, and the client connection sends it in place of
// the server's: at once, or right after the server's answer to the requests pipelined before it.
// An idle client's extended-protocol batch that only runs LISTEN/UNLISTEN is answered the same
// way (./listen-extended); inside a transaction, an extended-protocol LISTEN goes to the server
// as it is (see README, "Session state in transaction mode").

import { FrontendCode, HEADER_LENGTH, TxStatus, type TxStatusByte } from '../protocol/codes';
import { Action } from '../protocol/relay';
import { errorResponse, READY_IDLE, type ErrorFields } from '../protocol/backend';
import type { ChannelHub, ListenSession, NotificationSink } from './channels';
import { firstKeyword, Keyword, listenScript, mayBeListen, type ListenStatement } from './listen-statements';
import { answerListenStatements, type ListenAnswer } from './listen-answers';
import { extendedListenBatch, type ExtendedListen } from './listen-extended';
import { decodeParse } from '../protocol/frontend';

/** A client's LISTEN state as it goes to another process (a restart, lib/client/carried-session). */
export interface CarriedListens {
  /** Channels it listens on, in the order it listened. */
  readonly channels: readonly string[];
  /** Its named statements that are a LISTEN or UNLISTEN: name, text. */
  readonly named: readonly (readonly [string, string])[];
}

/** linkedFrame's answer when the frame is not one pgmux answers: the client goes on as usual. */
export const NOT_OURS = -1;

/** Spotted without decoding, in a SELECT of a client that listens. */
const CHANNELS_FUNCTION = Buffer.from('pg_listening_channels');

/** What the glue needs of the client connection. */
export interface ListenHost extends NotificationSink {
  pauseReading(): void;
  resumeReading(): void;
  /** A chunk held while a LISTEN waited, handled now as if it had just come. */
  replay(chunk: Buffer): void;
  fail(error: ErrorFields): void;
  readonly isClosed: boolean;
  /**
   * A LISTEN/UNLISTEN pgmux parsed under `name` for the client: it joins the client's named
   * statements (lib/prepared), as the server would have held it. False when the client's names
   * are not tracked (max_prepared_statements = 0) or it holds `name` already.
   */
  nameStatement(name: string, sql: string): boolean;
  /** Whether the client may name a statement `name` here (see nameStatement). */
  mayName(name: string): boolean;
  /** Sends the linked server a Sync for a batch pgmux answered (its ReadyForQuery reaches the client as usual). */
  sendSync(): void;
  /** Sends an answer pgmux built while linked, later than the frame it answers (see linkedFrame). */
  answerLinked(answer: LocalAnswer): void;
}

/** Answers built while linked, for the client connection to send in place of the server's. */
export interface LocalAnswer {
  readonly bytes: Buffer;
  /** The transaction status of the last answer's ReadyForQuery. */
  readonly status: TxStatusByte;
  /** How many requests it answers (one ReadyForQuery each). */
  readonly count: number;
}

/**
 * A pipelined request pgmux answers once the server has answered those before it; or a COMMIT
 * or ROLLBACK pipelined behind such a request, noted in its place so it sees that request's LISTEN.
 */
type Deferred =
  | { readonly kind: 'answer'; readonly statements: readonly ListenStatement[]; readonly after: number }
  | { readonly kind: 'commit' | 'rollback'; readonly after: number };

export class ListenGlue {
  /** Made at the client's first LISTEN (or pg_listening_channels()). */
  session: ListenSession | null = null;
  /** Built by linkedFrame, taken by the client's afterFrame. */
  answer: LocalAnswer | null = null;
  /** Chunks the client sent while its LISTEN waited for the listener; null when none waits. */
  private held: Buffer[] | null = null;
  /** Pipelined requests pgmux answers, waiting for the server's answers before them. */
  private readonly deferred: Deferred[] = [];
  /** The server's ReadyForQuery messages that reached the client so far (deferred answers count them). */
  private serverReadies = 0;
  /** The client's named statements that are a LISTEN or UNLISTEN, by name (their Parses' texts); null until one is. */
  private named: Map<string, string> | null = null;

  constructor(
    private readonly hub: ChannelHub,
    private readonly host: ListenHost,
  ) {}

  /** A LISTEN of this idle client waits for the listener: it is not between messages. */
  get waiting(): boolean {
    return this.held !== null;
  }

  /** Answers of pgmux's own are due after a server's ReadyForQuery, or one waits for the listener. */
  get answersPending(): boolean {
    return this.deferred.length > 0 || this.held !== null;
  }

  /**
   * No LISTEN so far: nothing listens, no statement is a named LISTEN, no answer is deferred.
   * Such a client's statements matter here only if they are a LISTEN or UNLISTEN (a COMMIT, a
   * SELECT of pg_listening_channels() or a DISCARD ALL only once it listens), which their first
   * letter rules out for nearly all of them (mayBeListen).
   */
  private get neverListened(): boolean {
    return this.session === null && this.named === null && this.deferred.length === 0;
  }

  /** Parse frames are looked at: the open transaction LISTENed (its COMMIT is watched), or a named statement is a LISTEN. */
  get watchesParse(): boolean {
    return this.named !== null || (this.session !== null && this.session.inTransaction);
  }

  /**
   * A chunk from the idle client (not in a transaction, no server). True when it was handled
   * here: a lone Query that is all LISTEN/UNLISTEN/pg_listening_channels() (answered, maybe once
   * the listener has LISTENed), or anything while such an answer waits (held, then replayed).
   */
  idleChunk(chunk: Buffer): boolean {
    if (this.held !== null) {
      this.held.push(chunk);
      return true;
    }
    const first = chunk[0];
    if (first === FrontendCode.Parse || first === FrontendCode.Bind) return this.idleExtended(chunk);
    if (first !== FrontendCode.Query || chunk.length < HEADER_LENGTH + 1 || chunk.readInt32BE(1) + 1 !== chunk.length) return false;
    if (this.neverListened && !mayBeListen(FrontendCode.Query, chunk, 0, chunk.length)) return false;
    const statements = this.statements(firstKeyword(FrontendCode.Query, chunk, 0, chunk.length), chunk, 0, chunk.length);
    if (statements === null) return false;
    if (statements.length === 1 && statements[0].kind === 'discard-all') {
      // Goes on to a server (it resets more than channels); the channels go now.
      this.session?.unlisten(null);
      return false;
    }
    this.answerIdle(answerListenStatements(statements, (this.session ??= this.hub.session(this.host)), TxStatus.Idle));
    return true;
  }

  /**
   * An idle chunk starting with Parse or Bind: the Parses of LISTEN/UNLISTEN under a name are
   * remembered; a batch that only runs LISTEN/UNLISTEN is answered here (./listen-extended).
   * Ordinary batches cost a byte check per Parse, and a Bind's name is read only once a LISTEN
   * statement has a name.
   */
  private idleExtended(chunk: Buffer): boolean {
    let listens = false;
    for (let pos = 0; pos + HEADER_LENGTH <= chunk.length; ) {
      const end = pos + 1 + chunk.readInt32BE(pos + 1);
      if (end > chunk.length || end < pos + HEADER_LENGTH) break;
      if (chunk[pos] === FrontendCode.Parse) listens = this.noteParse(chunk, pos, end) || listens;
      else if (chunk[pos] === FrontendCode.Bind && this.named !== null) listens = true;
      pos = end;
    }
    if (!listens) return false;
    const batch = extendedListenBatch(chunk, this.named, (name) => this.host.mayName(name));
    if (batch === null) return false;
    for (const p of batch.parsed) {
      this.host.nameStatement(p.name, p.sql);
      (this.named ??= new Map()).set(p.name, p.sql);
    }
    this.answerIdle({ bytes: Buffer.concat([batch.bytes, READY_IDLE]), newChannels: this.runBatch(batch) });
    return true;
  }

  /**
   * A chunk from the linked client, before the relay sees it. True when it was handled here: a
   * Bind/Execute/Sync of a named LISTEN or UNLISTEN with nothing else outstanding on a server not
   * in a transaction (asyncpg prepares with Parse/Describe/Flush, so its server is still linked
   * when it executes): answered here up to the Sync, which goes to the server, whose
   * ReadyForQuery ends the batch as usual (once the listener LISTENs, for a new channel). Also
   * anything sent while that waits (held, then replayed). Costs a byte check per chunk otherwise.
   */
  activeChunk(chunk: Buffer, quiet: boolean, status: number): boolean {
    if (this.held !== null) {
      this.held.push(chunk);
      return true;
    }
    if (this.named === null || chunk[0] !== FrontendCode.Bind || !quiet || status !== TxStatus.Idle) return false;
    const batch = extendedListenBatch(chunk, this.named, () => false);
    if (batch === null) return false;
    this.host.writeToClient(batch.bytes);
    const fresh = this.runBatch(batch);
    if (fresh.length === 0) {
      this.host.sendSync();
      return true;
    }
    this.wait(fresh, (error) => {
      if (error !== null) {
        for (const c of fresh) (this.session as ListenSession).unlisten(c);
        // The server's ReadyForQuery follows the error, as after any failed Execute.
        this.host.writeToClient(errorResponse(error));
      }
      this.host.sendSync();
    });
    return true;
  }

  /** Applies an extended batch's LISTEN/UNLISTEN outside a transaction; the channels that are new. */
  private runBatch(batch: ExtendedListen): string[] {
    const session = (this.session ??= this.hub.session(this.host));
    const fresh: string[] = [];
    for (const s of batch.statements) {
      if (s.kind === 'listen') {
        if (session.listen(s.channel)) fresh.push(s.channel);
      } else session.unlisten(s.channel);
    }
    return fresh;
  }

  /**
   * Holds the client (its reads paused, what it sent anyway kept) until the listener LISTENs on
   * `channels`, then `then` answers it and what was held is handled in order.
   */
  private wait(channels: readonly string[], then: (error: ErrorFields | null) => void): void {
    this.held = [];
    this.host.pauseReading();
    this.hub.whenListening(channels, (error) => {
      if (this.host.isClosed) return;
      const held = this.held as Buffer[];
      this.held = null;
      then(error);
      this.session?.flush();
      this.host.resumeReading();
      for (const c of held) {
        if (this.host.isClosed) return;
        this.host.replay(c);
      }
    });
  }

  /**
   * A Parse seen (idle or linked): a named LISTEN/UNLISTEN is remembered by name, and a name
   * parsed again for something else is forgotten. True when it is a LISTEN or UNLISTEN.
   */
  private noteParse(buf: Buffer, start: number, end: number): boolean {
    const keyword = firstKeyword(FrontendCode.Parse, buf, start, end);
    const listens = keyword === Keyword.Listen || keyword === Keyword.Unlisten;
    if (!listens && this.named === null) return false;
    const p = decodeParse(buf, start, end);
    if (p.kind !== 'parse' || p.name === '') return listens;
    if (listens) (this.named ??= new Map()).set(p.name, p.sql);
    else if (this.named !== null) {
      this.named.delete(p.name);
      if (this.named.size === 0) this.named = null;
    }
    return listens;
  }

  /** Sends an idle client's answer, once the listener LISTENs on its new channels when there are any. */
  private answerIdle(answer: ListenAnswer): void {
    const session = this.session as ListenSession;
    if (answer.newChannels.length === 0) {
      this.host.writeToClient(answer.bytes);
      return;
    }
    this.wait(answer.newChannels, (error) => {
      if (error === null) this.host.writeToClient(answer.bytes);
      else {
        // Not listening after all: PostgreSQL's LISTEN either takes effect or fails.
        for (const c of answer.newChannels) session.unlisten(c);
        this.host.writeToClient(Buffer.concat([errorResponse(error), READY_IDLE]));
      }
    });
  }

  /**
   * A whole Query or Parse frame of the linked client (`status` is its transaction's, `owed` the
   * ReadyForQuery count including this frame's, `mayListen` its scan's MayListen of
   * lib/session/statement-scan, which mayBeListen asks). NOT_OURS, or the relay verdict:
   * Swallow | Notify with `answer` set for the client connection to send.
   */
  linkedFrame(type: number, buf: Buffer, start: number, end: number, status: number, owed: number, mayListen: boolean): number {
    if (this.neverListened && !mayListen) return NOT_OURS;
    if (type === FrontendCode.Parse) this.noteParse(buf, start, end);
    const keyword = firstKeyword(type, buf, start, end);
    if (keyword === Keyword.Other) return NOT_OURS;
    const session = this.session;
    if (keyword === Keyword.Commit || keyword === Keyword.Rollback) {
      const kind = keyword === Keyword.Commit ? 'commit' : 'rollback';
      if (this.deferred.length > 0) this.deferred.push({ kind, after: this.serverReadies + owed - 1 - this.deferredAnswers() });
      else this.transactionEnding(kind);
      return NOT_OURS;
    }
    if (type !== FrontendCode.Query) return NOT_OURS;
    const statements = this.statements(keyword, buf, start, end);
    if (statements === null) return NOT_OURS;
    if (statements.length === 1 && statements[0].kind === 'discard-all') {
      // Outside a transaction it runs (and clears the channels); inside one the server refuses it.
      if (status === TxStatus.Idle) session?.unlisten(null);
      return NOT_OURS;
    }
    // Behind requests the server has not answered yet (pipelined): answered right after the
    // ReadyForQuery of the last of them (serverReady), with the transaction status it gives.
    const before = owed - 1 - this.deferredAnswers();
    if (before > 0 || this.deferred.length > 0) {
      this.deferred.push({ kind: 'answer', statements, after: this.serverReadies + before });
      return Action.Swallow;
    }
    const tx = status === TxStatus.InTransaction || status === TxStatus.Failed ? status : TxStatus.Idle;
    const answer = answerListenStatements(statements, (this.session ??= this.hub.session(this.host)), tx);
    const local: LocalAnswer = { bytes: answer.bytes, status: tx, count: 1 };
    // The last frame of what the client sent (it waits for this answer before sending more, as
    // every driver that does not pipeline): held until the listener LISTENs on a new channel, so
    // a NOTIFY after the answer (or after the COMMIT that follows) is never missed.
    if (answer.newChannels.length > 0 && end === buf.length && !this.hub.listeningOn(answer.newChannels)) {
      this.wait(answer.newChannels, () => this.host.answerLinked(local));
      return Action.Swallow;
    }
    this.answer = local;
    return Action.Swallow | Action.Notify;
  }

  /**
   * A ReadyForQuery of the server reached the linked client (`status` is its byte): the pipelined
   * answers due after it, in order, for the client connection to send now; null when none.
   */
  serverReady(status: number): LocalAnswer | null {
    this.serverReadies++;
    if (this.deferred.length === 0 || this.deferred[0].after > this.serverReadies) return null;
    const parts: Buffer[] = [];
    let last = status;
    while (this.deferred.length > 0 && this.deferred[0].after <= this.serverReadies) {
      const d = this.deferred.shift() as Deferred;
      if (d.kind !== 'answer') {
        this.transactionEnding(d.kind);
        continue;
      }
      const a = this.run(d.statements, status);
      parts.push(a.bytes);
      last = a.status;
    }
    if (parts.length === 0) return null;
    return { bytes: parts.length === 1 ? parts[0] : Buffer.concat(parts), status: last as TxStatusByte, count: parts.length };
  }

  private deferredAnswers(): number {
    let n = 0;
    for (const d of this.deferred) if (d.kind === 'answer') n++;
    return n;
  }

  /** The client sent COMMIT/END or ROLLBACK/ABORT/PREPARE TRANSACTION: a transaction that LISTENed learns how it ends. */
  private transactionEnding(kind: 'commit' | 'rollback'): void {
    const session = this.session;
    if (session === null || !session.inTransaction) return;
    if (kind === 'commit') session.commitSeen();
    else session.rollbackSeen();
  }

  /** Runs statements pgmux answers for the linked client whose transaction status is `status`. */
  private run(statements: readonly ListenStatement[], status: number): LocalAnswer {
    const tx = status === TxStatus.InTransaction || status === TxStatus.Failed ? status : TxStatus.Idle;
    // Not waited for here (the relay goes on): by COMMIT, or by the client's next request, the listener has it.
    const answer = answerListenStatements(statements, (this.session ??= this.hub.session(this.host)), tx);
    return { bytes: answer.bytes, status: tx, count: 1 };
  }

  takeAnswer(): LocalAnswer {
    const a = this.answer as LocalAnswer;
    this.answer = null;
    return a;
  }

  /** What goes with the idle client to another process; null when it holds nothing. */
  carry(): CarriedListens | null {
    const channels = this.session === null ? [] : [...this.session.channels];
    if (channels.length === 0 && this.named === null) return null;
    return { channels, named: this.named === null ? [] : [...this.named] };
  }

  /**
   * A client another process carried here, idle: it listens on its channels here from now on, and
   * is held (as an idle LISTEN is) until the listener LISTENs on them, so that a NOTIFY sent after
   * its next answer is never missed. If the listener cannot, the session ends with that error.
   */
  adopt(carried: CarriedListens): void {
    if (carried.named.length > 0) this.named = new Map(carried.named);
    if (carried.channels.length === 0) return;
    const session = (this.session ??= this.hub.session(this.host));
    const fresh = carried.channels.filter((c) => session.listen(c));
    if (fresh.length > 0) this.wait(fresh, (error) => error !== null && this.host.fail(error));
  }

  /** The client left. */
  leave(): void {
    this.session?.leave();
    this.held = null;
  }

  /**
   * The statements of a Query this client's channels answer, decoded only when its first keyword
   * can start one (a SELECT only when it names pg_listening_channels and the client listens;
   * DISCARD only when it listens); else null.
   */
  private statements(keyword: number, buf: Buffer, start: number, end: number): ReturnType<typeof listenScript> {
    switch (keyword) {
      case Keyword.Listen:
      case Keyword.Unlisten:
        break;
      case Keyword.Select: {
        // Only a listening client's SELECT is searched (others get the server's empty answer, which is right).
        if (this.session === null || !this.session.listening) return null;
        const at = buf.indexOf(CHANNELS_FUNCTION, start + HEADER_LENGTH);
        if (at < 0 || at >= end) return null;
        break;
      }
      case Keyword.Discard:
        if (this.session === null || !this.session.listening) return null;
        break;
      default:
        return null;
    }
    // The text ends with the frame's NUL.
    return listenScript(buf.toString('utf8', start + HEADER_LENGTH, end - 1));
  }
}
