// Owns prepared statements for one client in transaction mode: the client's names for its
// statements, rewriting Parse/Bind/Describe/Close to pgmux's server-side names, injecting a
// Parse where the linked server lacks the statement, and the queue of responses the server
// owes, so that injected responses are swallowed and synthesized ones come out in order.
//
// The queue (./response-queue) is PgBouncer's outstanding_requests / PgDog's ProtocolState: one
// entry per client message that gets a response, each with an action; plain answers are taken
// at their header (inspects), the rest seen whole (onServerResponse). After an ErrorResponse in the extended
// protocol the server skips to Sync, so the skipped entries are dropped: what they would have
// prepared is forgotten, and what they would have closed is held again, undone newest first so
// that a statement both prepared and evicted in the skipped part ends as it was before it. When
// the client has not sent that Sync yet (a pipeline flushed, psycopg's), everything it sends up
// to the Sync is skipped too: pgmux is `skipping` till the ReadyForQuery, answers none of it
// itself, starts no column check, and undoes whatever is still queued when the ReadyForQuery
// comes. SQL-level PREPARE/EXECUTE/DEALLOCATE in a simple Query are planned by ./sql-planner and
// ride the same queue, as does a SQL DEALLOCATE sent through the extended protocol
// (./sql-extended). The request kinds are ./requests'. Parses of statements known to be good
// from a client no server is linked to are answered by ./unlinked-parse.
//
// A Parse of a name the client already holds gets PostgreSQL's own answer from the server: it
// goes under the old statement's server-side name, so the server analyses it, then fails with
// 42P05 (its name swapped back to the client's) and skips to Sync, in order with the rest.
//
// A stale plan (0A000 "cached plan must not change result type" after DDL) at a Bind or
// Describe of a shared statement is healed on that server: when nothing of the batch has run,
// the server was not in a transaction block, and the batch itself tells the client the new
// columns (a Describe of the statement, or of the Bind's portal before its Execute), the error
// and its ReadyForQuery are swallowed and the batch runs again behind a Close and Parse of the
// statement (./rerun keeps its frames). Otherwise the error reaches the client, and the server's
// copy is marked stale so that the client's next try (or its driver's own re-prepare) gets a
// fresh one. A batch runs again at most once.
//
// A statement prepared again on a server that lacked it (pgmux's injected Parse) is planned
// afresh there, so after DDL it may return other columns than the client was told when it
// described it, with no error from the server: a client that decodes rows by the columns it
// was told (asyncpg, pgJDBC, postgres.js) would misread them. So a Bind that needs the injected
// Parse, of a statement whose columns the client was told, goes to the server only after a
// Describe of the fresh copy has answered (Parse, Describe, Flush first; the Bind and what
// follows it are withheld meanwhile). Same columns (./result-shape), or the batch describes the
// Bind's portal itself (libpq): the withheld frames go on. Else the Bind goes to a name no
// server holds, and its 26000 becomes PostgreSQL's "cached plan must not change result type",
// which drivers heal by preparing the statement again, as against PostgreSQL itself.

import { BackendCode, FrontendCode, ServerSqlState, TxStatus } from '../protocol/codes';
import { bindRenamed, bindWithStatement, close, decodeBind, decodeClose, decodeDescribe, decodeParse, decodeQuery, describe, FLUSH, notUtf8, parse, parseTextIsUtf8, query, SYNC } from '../protocol/frontend';
import { CLOSE_COMPLETE, errorCode, PARSE_COMPLETE } from '../protocol/backend';
import { Action } from '../protocol/relay';
import type { ParsedStatement, ServerStatementCache, Statement, StatementRegistry, Statements } from './statements';
import { lexScript, lexSql, mayBeSqlPrepared } from './sql-lexer';
import { columnsChangedError, duplicateStatementError, missingStatementError, MISSING_STATEMENT, namedSqlError, planScript, planSql, sqlOnlyError } from './sql-planner';
import { patchError, type ExecuteAgain, type SqlRewrite } from './sql-rewrite';
import { bindPortal, describedPortal, HeldBatch, isStalePlan } from './rerun';
import { localParses, type LocalParses } from './unlinked-parse';
import { ExtendedSql, mayBeSqlPreparedParse } from './sql-extended';
import { completes, Fate, Kind, unnamedKind } from './requests';
import { ResponseQueue } from './response-queue';
import { resultShape } from './result-shape';

/** Client name of an injected Close of a stale copy: skipped, it leaves the copy stale. */
const STALE_CLOSE = '\u0000stale';
/** Command tags after which a server holds no prepared statements (and the client none). */
const DISCARD_ALL = 'DISCARD ALL';
const DEALLOCATE_ALL = 'DEALLOCATE ALL';
/** staleRequest's answer when the request runs again. */
const RERUN = 'rerun';

/** Server response types that may complete a request; everything else passes by uninspected. */
export const COMPLETION_TYPES: ReadonlySet<number> = new Set([
  BackendCode.ParseComplete,
  BackendCode.BindComplete,
  BackendCode.CloseComplete,
  BackendCode.RowDescription,
  BackendCode.NoData,
  BackendCode.CommandComplete,
  BackendCode.EmptyQueryResponse,
  BackendCode.PortalSuspended,
  BackendCode.ErrorResponse,
  BackendCode.ReadyForQuery,
  // Only so that a re-run Describe's second one can be swallowed (Describe of a statement only).
  BackendCode.ParameterDescription,
]);

/** The linked server as prepared-statement handling sees it. */
export interface PreparedServer {
  readonly statements: ServerStatementCache;
  /** Status byte of the server's last ReadyForQuery. */
  readonly txStatus: number;
  /** Writes ahead of anything the client sends next (a re-run batch). */
  sendToServer(bytes: Buffer): boolean;
}

export class PreparedLink {
  /** The client's statement names. */
  readonly names = new Map<string, Statement>();
  /** The responses the linked server owes this client's requests (./response-queue). */
  private readonly queue = new ResponseQueue();
  /** Bytes replacing a swallowed server response (a rewritten tag or error), sent by takeFakes. */
  private out: Buffer | null = null;
  /** Bytes to send to the server in place of the frame just swallowed (written by afterFrame). */
  private replacement: Buffer[] = [];
  /** The current batch's frames from its first named Bind/Describe on, for a re-run; else null. */
  private hold: HeldBatch | null = null;
  /** The last hold allocated, reused by the next batch. */
  private spare: HeldBatch | null = null;
  /** A hold was started (or given up) in the current batch: one per batch at most. */
  private holdTried = false;
  /** The queue emptied in the middle of a batch after something of it ran (no longer visible in it). */
  private ranBeforeDrain = false;
  /** A re-run Describe of a statement: its ParameterDescription reached the client the first time. */
  private skipParamDesc = false;
  /**
   * An error made the server skip to a Sync the client has not sent yet: what the client sends
   * until then is skipped too (the ReadyForQuery ends it and undoes what is still queued).
   */
  private skipping = false;
  /** SQL DEALLOCATE through the extended protocol; made at the first unnamed Parse that may be one. */
  private extended: ExtendedSql | null = null;
  /** The columns (./result-shape) the client was last told each statement returns; made at the first. */
  private told: Map<Statement, number> | null = null;
  /**
   * While a fresh copy's columns are checked: the client's frames from the checked Bind on,
   * as they would go to the server, held back until the Describe answers (the Bind first, and
   * its stand-in if the columns changed); else null.
   */
  private withheld: Buffer[] | null = null;
  private standIn: Buffer | null = null;
  /** Queue index of the checked Bind. */
  private checkedBind = 0;
  /** Counters for SHOW PREPARED / specs: Parses injected because a server lacked a statement. */
  static injectedParses = 0;
  /** Batches and SQL EXECUTEs run again after a stale plan. */
  static reruns = 0;
  /** A client's named statement was already on its server (Parse answered by pgmux, Bind/Describe as they are). */
  static cacheHits = 0;
  /** ... was not: pgmux prepared it there (the client's Parse, or one injected). */
  static cacheMisses = 0;
  /** Statements closed on a server to stay within max_prepared_statements. */
  static evictions = 0;
  /** Stale copies (a table's columns changed) closed and prepared again. */
  static reprepares = 0;

  constructor(
    private readonly registry: StatementRegistry,
    /** The client's session search_path ('' when it set none): statements are shared per search_path (./statements scoped). */
    private readonly searchPath: () => string = () => '',
  ) {}

  /** The registry as this client's search_path sees it, at the Parse being handled. */
  private get statements(): Statements {
    return this.registry.scoped(this.searchPath());
  }

  get pending(): number {
    return this.queue.pending;
  }

  /**
   * Execute must be seen whole (lib/client asks per header): the batch's frames are kept, or
   * the Execute may be the one of a SQL DEALLOCATE (./sql-extended).
   */
  get inspectsExecute(): boolean {
    return this.hold !== null || this.withheld !== null || (this.extended !== null && this.extended.awaitsExecute);
  }

  /** Every client frame must come here (withholdFrame for those onClientFrame does not take): see `withheld`. */
  get withholding(): boolean {
    return this.withheld !== null;
  }

  /** Sync, Flush or FunctionCall while withholding: queued as usual, held back with the rest. */
  withholdFrame(type: number, buf: Buffer, start: number, end: number): number {
    this.noteForwarded(type);
    (this.withheld as Buffer[]).push(buf.subarray(start, end));
    return Action.Swallow;
  }

  /**
   * The server died before answering anything of what is queued, and the client's request goes
   * to another server from scratch (lib/client/resend): nothing queued will be answered.
   */
  reset(): void {
    this.queue.clear();
    this.out = null;
    this.replacement = [];
    this.hold = null;
    this.holdTried = false;
    this.ranBeforeDrain = false;
    this.skipParamDesc = false;
    this.withheld = null;
    this.standIn = null;
    this.skipping = false;
    // The unnamed statement it tracked was the dead server's; the resent batch parses it again.
    this.extended = null;
  }

  // ---- client -> server ----

  /**
   * A chunk from a client no server is linked to: when it is only Parses of statements known
   * to be good, then Sync or Flush, they are recorded under the client's names and the answer is
   * returned for pgmux to send (./unlinked-parse); else null, and the chunk goes to a server.
   */
  answerUnlinked(chunk: Buffer, maxLength: number): LocalParses | null {
    const local = localParses(chunk, this.names, this.statements, maxLength);
    if (local === null) return null;
    for (let i = 0; i < local.names.length; i++) {
      const stmt = local.statements[i];
      stmt.uses++;
      this.names.set(local.names[i], stmt);
    }
    return local;
  }

  /** Messages forwarded as they are but that owe a response (Execute, Sync, Query, FunctionCall). */
  noteForwarded(type: number): void {
    switch (type) {
      case FrontendCode.Execute:
        this.push(Kind.Execute, Fate.Forward, null, null);
        return;
      case FrontendCode.Sync:
        if (this.hold !== null) this.keep(SYNC);
        if (this.hold !== null) this.hold.synced = true;
        this.holdTried = false;
        this.push(Kind.Sync, Fate.Forward, null, null);
        return;
      case FrontendCode.Query:
      case FrontendCode.FunctionCall:
        this.endBatch();
        this.push(Kind.Query, Fate.Forward, null, null);
        return;
    }
  }

  /**
   * A whole Parse/Bind/Describe/Close from the client. Returns Forward (unchanged) or
   * Swallow | Notify, in which case takeReplacement() holds what to send instead, and
   * takeClientBytes() what to answer the client at once.
   */
  onClientFrame(type: number, buf: Buffer, start: number, end: number, server: PreparedServer): number {
    // Unnamed statements (most extended-protocol traffic) pass untouched: tell them from the
    // bytes, without decoding the SQL or the parameters into strings.
    const unnamed = unnamedKind(type, buf, start, end);
    if (unnamed === Kind.Parse) return this.onUnnamedParse(buf, start, end, server);
    if (unnamed === Kind.Bind && this.extended !== null) this.extended.onUnnamedBind(buf, start, end);
    if (unnamed === Kind.DescribePortal) return this.describePortal(buf, start, end);
    if (unnamed !== 0) return this.forward(unnamed, buf, start, end);
    switch (type) {
      case FrontendCode.Parse:
        return this.onParse(buf, start, end, server);
      case FrontendCode.Query:
        return this.onQuery(buf, start, end, server);
      case FrontendCode.Bind: {
        const msg = decodeBind(buf, start, end);
        if (msg.kind !== 'bind' || msg.statement === '') return this.forward(Kind.Bind, buf, start, end);
        this.extended?.onBind(msg.portal);
        const stmt = this.names.get(msg.statement);
        const refusal = stmt === undefined ? refuseUnknown(msg.statement) : stmt.parse === null ? sqlOnlyError(msg.statement) : null;
        if (refusal !== null) {
          this.send(bindRenamed(buf, end, msg, MISSING_STATEMENT));
          this.push(Kind.Bind, Fate.Forward, null, null, refusal);
          return Action.Swallow | Action.Notify;
        }
        if (stmt === undefined || stmt.parse === null) return this.forward(Kind.Bind, buf, start, end);
        if (!this.holdTried) this.startHold();
        // Not while skipping: the server would never answer the check, and the withheld Sync never go.
        if (this.ensurePrepared(stmt, stmt.parse, server) && this.withheld === null && !this.skipping && this.told !== null && this.told.has(stmt)) {
          // Prepared afresh: what does it return now? The Bind waits for the answer (onServerResponse).
          this.send(describe('S', stmt.serverName));
          this.push(Kind.DescribeStatement, Fate.Swallow, stmt, msg.statement);
          this.replacement.push(FLUSH);
          this.withheld = [];
          this.standIn = bindRenamed(buf, end, msg, MISSING_STATEMENT);
          this.checkedBind = this.queue.length;
        }
        this.send(bindWithStatement(buf, start, end, msg, stmt.serverNameZ));
        this.push(Kind.Bind, Fate.Forward, stmt, msg.statement);
        return Action.Swallow | Action.Notify;
      }
      case FrontendCode.Describe: {
        const msg = decodeDescribe(buf, start, end);
        if (msg.kind !== 'describe') return this.forward(Kind.DescribeStatement, buf, start, end);
        if (msg.target === 'P') return this.forward(Kind.DescribePortal, buf, start, end);
        if (msg.name === '') return this.forward(Kind.DescribeStatement, buf, start, end);
        const stmt = this.names.get(msg.name);
        const refusal = stmt === undefined ? refuseUnknown(msg.name) : stmt.parse === null ? sqlOnlyError(msg.name) : null;
        if (refusal !== null) {
          this.send(describe('S', MISSING_STATEMENT));
          this.push(Kind.DescribeStatement, Fate.Forward, null, null, refusal);
          return Action.Swallow | Action.Notify;
        }
        if (stmt === undefined || stmt.parse === null) return this.forward(Kind.DescribeStatement, buf, start, end);
        if (!this.holdTried) this.startHold();
        this.ensurePrepared(stmt, stmt.parse, server);
        this.send(describe('S', stmt.serverName));
        this.push(Kind.DescribeStatement, Fate.Forward, stmt, msg.name);
        return Action.Swallow | Action.Notify;
      }
      case FrontendCode.Close: {
        const msg = decodeClose(buf, start, end);
        // A name that is not UTF-8 was never recorded (onParse): the server answers it (22021).
        if (msg.kind !== 'close' || msg.target === 'P' || msg.name === '' || notUtf8(msg.name)) return this.forward(Kind.Close, buf, start, end);
        // Only the client's name goes; the server keeps the statement for others.
        const stmt = this.names.get(msg.name) ?? null;
        this.names.delete(msg.name);
        if (stmt !== null) this.told?.delete(stmt);
        this.push(Kind.Close, Fate.Fake, stmt, msg.name);
        return Action.Swallow | Action.Notify;
      }
      case FrontendCode.Execute:
        // Seen whole only while inspectsExecute (lib/client), else noted by noteForwarded.
        return this.forward(Kind.Execute, buf, start, end, this.extended?.onExecute(buf, start, end) ?? null);
      default:
        return Action.Forward;
    }
  }

  /** An unnamed Parse: forwarded, unless it is a SQL PREPARE, EXECUTE or DEALLOCATE of a client's statement (./sql-extended). */
  private onUnnamedParse(buf: Buffer, start: number, end: number, server: PreparedServer): number {
    // Most unnamed Parses are not one, and most clients never send one: a byte check says so.
    if (!mayBeSqlPreparedParse(buf, start, end)) {
      this.extended?.replaced();
      return this.forward(Kind.Parse, buf, start, end);
    }
    const ahead = (stmt: ParsedStatement): void => void this.ensurePrepared(stmt, stmt.parse, server);
    const plan = (this.extended ??= new ExtendedSql()).onUnnamedParse(buf, start, end, this.names, this.statements, server.statements, ahead);
    if (plan === null) return this.forward(Kind.Parse, buf, start, end);
    this.send(parse('', plan.text, plan.paramTypes));
    this.push(Kind.Parse, Fate.Forward, null, null, plan.rewrite);
    return Action.Swallow | Action.Notify;
  }

  private onParse(buf: Buffer, start: number, end: number, server: PreparedServer): number {
    const msg = decodeParse(buf, start, end);
    // Bytes that are not UTF-8 go to the server as they came, untracked: its answer is
    // PostgreSQL's own (22021 for a UTF8 client), never a statement rebuilt from a lossy string.
    if (msg.kind !== 'parse' || msg.name === '' || !parseTextIsUtf8(buf, start, end, msg)) return this.forward(Kind.Parse, buf, start, end);
    const taken = this.names.get(msg.name);
    if (taken !== undefined) return this.duplicate(msg.name, msg.sql, msg.paramTypes, taken, server);
    // A named statement of SQL PREPARE / EXECUTE / DEALLOCATE would run the client's statement
    // names on the server as they are (creating or reaching a name on a server other clients
    // share), and its effect is at each Execute, not at the Parse: refused, as the failing
    // Describe stand-in whose 26000 becomes the 0A000. Unnamed, pgmux rewrites it (./sql-extended).
    if (mayBeSqlPreparedParse(buf, start, end) && lexSql(msg.sql) !== null) {
      this.send(describe('S', MISSING_STATEMENT));
      this.push(Kind.DescribeStatement, Fate.Forward, null, null, namedSqlError(msg.name));
      return Action.Swallow | Action.Notify;
    }
    const stmt = this.statements.intern(msg.sql, msg.paramTypes);
    stmt.uses++;
    this.names.set(msg.name, stmt);
    if (server.statements.has(stmt)) {
      PreparedLink.cacheHits++;
      this.push(Kind.Parse, Fate.Fake, stmt, msg.name);
    } else {
      PreparedLink.cacheMisses++;
      this.addToServer(stmt, server);
      this.send(stmt.parse);
      this.push(Kind.Parse, Fate.Forward, stmt, msg.name);
    }
    return Action.Swallow | Action.Notify;
  }

  /**
   * A Parse of a name the client holds (no Close before it). PostgreSQL parses and analyses the
   * new text, then refuses with 42P05 and keeps the old statement; so the Parse goes to the
   * server under the old statement's server-side name (prepared there first if it lacks it):
   * a syntax error, 25P02 in an aborted transaction or the 42P05 come from the server itself,
   * in order, and it skips to Sync. A statement only SQL can prepare, missing on this server,
   * gets the failing Describe stand-in instead, whose 26000 becomes the 42P05.
   */
  private duplicate(name: string, sql: string, paramTypes: readonly number[], taken: Statement, server: PreparedServer): number {
    const held = server.statements.has(taken);
    if (!held && taken.parse === null) {
      this.send(describe('S', MISSING_STATEMENT));
      this.push(Kind.DescribeStatement, Fate.Forward, null, null, duplicateStatementError(name));
      return Action.Swallow | Action.Notify;
    }
    if (!held) {
      PreparedLink.injectedParses++;
      this.addToServer(taken, server);
      this.send(taken.parse as Buffer);
      this.push(Kind.Parse, Fate.Swallow, taken, null);
    }
    this.send(parse(taken.serverName, sql, paramTypes));
    this.push(Kind.Duplicate, Fate.Forward, taken, name);
    return Action.Swallow | Action.Notify;
  }

  /** A simple Query: SQL-level PREPARE/EXECUTE/DEALLOCATE are rewritten (./sql), the rest forwarded. */
  private onQuery(buf: Buffer, start: number, end: number, server: PreparedServer): number {
    this.endBatch();
    if (!mayBeSqlPrepared(buf, start, end)) return this.forward(Kind.Query, buf, start, end);
    const msg = decodeQuery(buf, start, end);
    const script = msg.kind === 'query' ? lexScript(msg.sql) : null;
    if (msg.kind !== 'query' || script === null) return this.forward(Kind.Query, buf, start, end);
    const plan = planScript(msg.sql, script, this.names, this.statements, server.statements);
    if (plan.injected) {
      PreparedLink.injectedParses++;
      PreparedLink.cacheMisses++;
    }
    (this.withheld ?? this.replacement).push(query(plan.text));
    this.push(Kind.Query, Fate.Forward, null, null, plan.rewrite);
    return Action.Swallow | Action.Notify;
  }

  /** Prepares `stmt` on the server ahead of a Bind/Describe if it is not there yet; true when it did. */
  private ensurePrepared(stmt: Statement, parse: Buffer, server: PreparedServer): boolean {
    stmt.uses++;
    if (server.statements.has(stmt)) {
      PreparedLink.cacheHits++;
      return false;
    }
    PreparedLink.cacheMisses++;
    PreparedLink.injectedParses++;
    this.addToServer(stmt, server);
    this.send(parse);
    this.push(Kind.Parse, Fate.Swallow, stmt, null);
    return true;
  }

  /**
   * A Describe of a portal, forwarded. Right after a Bind of a named statement (libpq, pgJDBC:
   * Bind, Describe, Execute) it tells the client that statement's columns: noted with it.
   */
  private describePortal(buf: Buffer, start: number, end: number): number {
    const last = this.queue.length - 1;
    const bound = last >= this.queue.head && this.queue.kindAt(last) === Kind.Bind ? this.queue.at(last).stmt : null;
    if (bound === null) return this.forward(Kind.DescribePortal, buf, start, end);
    if (this.hold !== null) this.keep(buf.subarray(start, end));
    this.push(Kind.DescribePortal, Fate.Forward, bound, null);
    return this.pass(buf, start, end);
  }

  private addToServer(stmt: Statement, server: PreparedServer): void {
    if (server.statements.takeStale(stmt)) {
      PreparedLink.reprepares++;
      // The server holds it with a stale plan: close that copy in the same write.
      this.send(close('S', stmt.serverName));
      this.push(Kind.Close, Fate.Swallow, stmt, STALE_CLOSE);
    }
    const evicted = server.statements.add(stmt);
    if (evicted !== null) {
      PreparedLink.evictions++;
      this.send(close('S', evicted.serverName));
      // The evicted statement rides along: if the server skips this Close, it still holds it.
      this.push(Kind.Close, Fate.Swallow, evicted, null);
    }
  }

  /** A client frame forwarded as it is (a held batch keeps a view of it, see ./rerun). */
  private forward(kind: number, buf: Buffer, start: number, end: number, rewrite: SqlRewrite | null = null): number {
    if (this.hold !== null) this.keep(buf.subarray(start, end));
    this.push(kind, Fate.Forward, null, null, rewrite);
    return this.pass(buf, start, end);
  }

  /** A client frame going to the server as it is: now, or held back while withholding. */
  private pass(buf: Buffer, start: number, end: number): number {
    if (this.withheld === null) return Action.Forward;
    // A view: client chunks are never reused (./rerun says why).
    this.withheld.push(buf.subarray(start, end));
    return Action.Swallow;
  }

  /** Bytes sent to the server for the request pushed next (held back while withholding). */
  private send(frame: Buffer): void {
    (this.withheld ?? this.replacement).push(frame);
    if (this.hold !== null) this.keep(frame);
  }

  /** Keeps a frame of the held batch for the request pushed next; a pipelined batch or too many bytes end the hold. */
  private keep(frame: Buffer): void {
    const hold = this.hold as HeldBatch;
    if (hold.synced || !hold.keep(this.queue.length, frame)) this.hold = null;
  }

  private startHold(): void {
    this.holdTried = true;
    this.hold = this.spare ??= new HeldBatch();
    this.hold.reset();
  }

  /** A simple Query or FunctionCall: its own batch, never re-run from here. */
  private endBatch(): void {
    this.hold = null;
    this.holdTried = false;
  }

  /** What to send the server instead of the swallowed frame. */
  takeReplacement(): Buffer | null {
    if (this.replacement.length === 0) return null;
    const out = this.replacement.length === 1 ? this.replacement[0] : Buffer.concat(this.replacement);
    this.replacement = [];
    return out;
  }

  /** Synthesized responses now at the head of the queue (nothing owed before them). */
  takeFakes(): Buffer | null {
    let out: Buffer[] | null = null;
    if (this.out !== null) {
      out = [this.out];
      this.out = null;
    }
    // While skipping, the server ignores the client's requests: so must pgmux's answers.
    while (!this.skipping && this.queue.head < this.queue.length && this.queue.at(this.queue.head).fate === Fate.Fake) {
      (out ??= []).push(this.queue.kindAt(this.queue.head) === Kind.Parse ? PARSE_COMPLETE : CLOSE_COMPLETE);
      this.shift();
    }
    return out === null ? null : out.length === 1 ? out[0] : Buffer.concat(out);
  }

  // ---- server -> client ----

  /**
   * A completion-type response's header (`length` as in the frame): false when it is the plain
   * answer of the head request or of none, taken here without the frame being looked at; true when
   * onServerResponse must see it whole. Plain: forwarded, of none of pgmux's statements, not
   * rewritten, no synthesized answer right behind it, and no error, ReadyForQuery, column check
   * or DISCARD ALL / DEALLOCATE ALL tag (its length says) among what it may be. Most of the
   * extended protocol (pgbench -M extended: ParseComplete, BindComplete, RowDescription,
   * CommandComplete) is that.
   */
  inspects(type: number, length: number): boolean {
    if (type === BackendCode.ErrorResponse || type === BackendCode.ReadyForQuery || type === BackendCode.ParameterDescription) return true;
    // The tags noteDiscard looks for: 4 + 'DISCARD ALL' + NUL, 4 + 'DEALLOCATE ALL' + NUL.
    if (type === BackendCode.CommandComplete && (length === DISCARD_ALL.length + 5 || length === DEALLOCATE_ALL.length + 5)) return true;
    const queue = this.queue;
    if (queue.head >= queue.length) return false;
    if (this.withheld !== null) return true;
    const req = queue.at(queue.head);
    if (req.fate !== Fate.Forward || req.stmt !== null || req.rewrite !== null) return true;
    if (!completes(req.kind, type)) return false;
    // Synthesized answers follow it: onServerResponse sends them after it.
    if (queue.head + 1 < queue.length && queue.at(queue.head + 1).fate === Fate.Fake) return true;
    this.shift();
    return false;
  }

  /** A completion-type response from the server. Returns Forward or Swallow, | Notify when fakes follow. */
  onServerResponse(type: number, buf: Buffer, start: number, end: number, server: PreparedServer): number {
    if (type === BackendCode.ParameterDescription) return this.paramDescription();
    if (type === BackendCode.CommandComplete) this.noteDiscard(buf, start, end, server);
    if (this.queue.head >= this.queue.length) return Action.Forward;
    const req = this.queue.at(this.queue.head);
    const kind = req.kind;
    // The injected Parse (or an eviction) failed: the server skips to the withheld Sync.
    if (type === BackendCode.ErrorResponse && this.withheld !== null) this.release(server, false);
    if (type === BackendCode.ErrorResponse) {
      const rewrite = req.rewrite;
      const stmt = req.stmt;
      const stale = (stmt !== null || rewrite !== null) && isStalePlan(buf, start, end) ? this.staleRequest(kind, stmt, rewrite, server) : null;
      if (stale === RERUN) return Action.Swallow;
      // "bind message supplies 2 parameters, but prepared statement "pgmux_3" requires 1": the client's name.
      const swap =
        rewrite !== null
          ? rewrite.failed(buf, start, end, server.statements, this.names)
          : stmt !== null && (kind === Kind.Bind || kind === Kind.DescribeStatement || kind === Kind.Duplicate)
            ? patchError(buf, start, end, undefined, stmt, req.clientName as string)
            : null;
      // A replaced error goes out through takeFakes, after what was forwarded before it.
      if (swap !== null) this.out = swap;
      const verdict = swap === null ? Action.Forward : Action.Swallow | Action.Notify;
      if (kind !== Kind.Query && kind !== Kind.Sync) this.skipToSync(server, kind === Kind.Parse && stmt !== null && errorCode(buf, start, end) === ServerSqlState.DuplicatePreparedStatement);
      // After the undo above, which may restore() a statement whose eviction was skipped.
      if (stale !== null) server.statements.markStale(stale);
      return kind === Kind.Query || kind === Kind.Sync ? verdict : verdict | this.notifyIfFake();
    }
    if (type === BackendCode.ReadyForQuery) {
      // Everything up to the Sync/Query that this answers is done, or was skipped: a request
      // still queued before it got no answer, so the server skipped it (sent while `skipping`).
      this.skipping = false;
      const end = this.syncAt();
      this.undo(end, server);
      let fate: number = Fate.Forward;
      while (this.queue.head < this.queue.length) {
        const { kind: k, fate: f } = this.queue.at(this.queue.head);
        this.shift();
        if (k === Kind.Sync || k === Kind.Query) {
          fate = f;
          break;
        }
      }
      // It ends a failed try that runs again (rerun): the client's ReadyForQuery is still to come.
      if (fate === Fate.Swallow) return Action.Swallow;
      return Action.Forward | this.notifyIfFake();
    }
    if (kind === Kind.Query) {
      const rewrite = req.rewrite;
      if (rewrite === null || type !== BackendCode.CommandComplete) return Action.Forward;
      const fate = rewrite.commandComplete();
      if (typeof fate === 'number') return fate;
      this.out = fate;
      return Action.Swallow | Action.Notify;
    }
    if (!completes(kind, type)) return Action.Forward;
    // The Execute of a SQL DEALLOCATE's no-op (./sql-extended): DEALLOCATE's tag instead.
    if (kind === Kind.Execute && req.rewrite !== null) return this.rewrittenExecute(type);
    const fate = req.fate;
    if (kind === Kind.DescribeStatement || kind === Kind.DescribePortal) {
      const described = req.stmt;
      if (described !== null) this.noteColumns(kind, fate, described, type, buf, start, end, server);
    }
    // A server parsed it: a client's later Parse of the same may be answered without one.
    if (kind === Kind.Parse) {
      const parsed = req.stmt;
      if (parsed !== null) parsed.good = true;
    }
    // A duplicate's Parse succeeded: the cache was wrong (the server lacked the statement), and
    // the server's copy now holds the client's new text; the next use closes and prepares it again.
    if (kind === Kind.Duplicate) server.statements.markStale(req.stmt as Statement);
    this.shift();
    return (fate === Fate.Swallow ? Action.Swallow : Action.Forward) | this.notifyIfFake();
  }

  private rewrittenExecute(type: number): number {
    const rewrite = this.queue.at(this.queue.head).rewrite as SqlRewrite;
    this.shift();
    const fate = type === BackendCode.CommandComplete ? rewrite.commandComplete() : Action.Forward;
    if (typeof fate === 'number') return fate | this.notifyIfFake();
    this.out = fate;
    return Action.Swallow | Action.Notify;
  }

  /**
   * DISCARD ALL / DEALLOCATE ALL ran on the server (the client sent it): the server holds none
   * of pgmux's statements any more, and the client meant to drop all of its own.
   */
  private noteDiscard(buf: Buffer, start: number, end: number, server: PreparedServer): void {
    // Every CommandComplete comes here: tell the two tags by first byte and length before decoding.
    const length = end - 1 - (start + 5);
    if (buf[start + 5] !== 0x44 || (length !== DISCARD_ALL.length && length !== DEALLOCATE_ALL.length)) return;
    const tag = buf.toString('latin1', start + 5, end - 1);
    if (tag === DISCARD_ALL || tag === DEALLOCATE_ALL) {
      server.statements.clear();
      this.names.clear();
      this.told = null;
    }
  }

  /** A ParameterDescription: swallowed once after a Describe of a statement runs again. */
  private paramDescription(): number {
    // An injected Describe checking a statement prepared afresh: its answer is pgmux's alone.
    if (this.queue.head < this.queue.length && this.queue.kindAt(this.queue.head) === Kind.DescribeStatement && this.queue.at(this.queue.head).fate === Fate.Swallow) return Action.Swallow;
    if (!this.skipParamDesc) return Action.Forward;
    this.skipParamDesc = false;
    return Action.Swallow;
  }

  /**
   * The columns a Describe answered (RowDescription or NoData). A client's own Describe (of the
   * statement, or of the portal right after its Bind) records what it was told; pgmux's check of
   * a statement prepared afresh compares with that and lets the withheld Bind go, or its stand-in.
   */
  private noteColumns(kind: number, fate: number, stmt: Statement, type: number, buf: Buffer, start: number, end: number, server: PreparedServer): void {
    const shape = resultShape(type, buf, start, end);
    const told = (this.told ??= new Map());
    if (fate !== Fate.Swallow) {
      told.set(stmt, shape);
      return;
    }
    if (kind !== Kind.DescribeStatement || this.withheld === null) return;
    const bind = this.checkedBind;
    // Same columns, or the client hears the new ones itself before any row (Describe of the Bind's portal).
    const same = told.get(stmt) === shape || this.queue.kindAt(bind + 1) === Kind.DescribePortal;
    if (!same) {
      // The Bind fails as it would against PostgreSQL: stale plan, transaction aborted, skip to Sync.
      this.queue.at(bind).stmt = null;
      this.queue.at(bind).rewrite = columnsChangedError();
      told.delete(stmt);
    }
    this.release(server, !same);
  }

  /** Sends what was withheld while a fresh copy's columns were checked (the Bind's stand-in first when `failing`). */
  private release(server: PreparedServer, failing: boolean): void {
    const frames = this.withheld as Buffer[];
    if (failing) frames[0] = this.standIn as Buffer;
    this.withheld = null;
    this.standIn = null;
    if (frames.length > 0) server.sendToServer(frames.length === 1 ? frames[0] : Buffer.concat(frames));
  }

  /**
   * A stale plan at the head request. Runs it again (RERUN: the error is swallowed), or returns
   * the statement whose server copy to mark stale, so that its next use closes and prepares it
   * again, while the error goes through; null when it is none of pgmux's statements.
   */
  private staleRequest(kind: number, stmt: Statement | null, rewrite: SqlRewrite | null, server: PreparedServer): Statement | typeof RERUN | null {
    if ((kind === Kind.Bind || kind === Kind.DescribeStatement) && stmt !== null && stmt.parse !== null && rewrite === null) {
      return this.rerun(kind, stmt as ParsedStatement, server) ? RERUN : stmt;
    }
    const again = kind === Kind.Query && rewrite !== null ? rewrite.rerunnable() : null;
    if (again === null) return null;
    return this.rerunSql(again, server) ? RERUN : again.stmt;
  }

  /**
   * Runs the batch again from its failing Bind/Describe, behind a Close and Parse of the stale
   * statement, when that is invisible to the client but for the new columns: the server was
   * idle (no transaction of the client's is aborted), nothing of the batch ran before it, no
   * later batch is on the wire, and the batch tells the client the new columns itself.
   */
  private rerun(kind: number, stmt: ParsedStatement, server: PreparedServer): boolean {
    const hold = this.hold;
    if (hold === null || server.txStatus !== TxStatus.Idle) return false;
    const head = this.queue.head;
    const name = this.queue.at(head).clientName;
    // Earlier requests of the batch: a completed Bind's portal would be gone after the abort.
    let parsedHere = false;
    for (let i = head - 1; ; i--) {
      if (i < 0) {
        if (this.ranBeforeDrain) return false;
        break;
      }
      const k = this.queue.kindAt(i);
      if (k === Kind.Sync || k === Kind.Query) break;
      if (k === Kind.Bind || k === Kind.Execute || k === Kind.DescribePortal) return false;
      if (k === Kind.Parse && this.queue.at(i).clientName === name) parsedHere = true;
    }
    const last = this.queue.length - 1;
    for (let i = head + 1; i <= last; i++) {
      const k = this.queue.kindAt(i);
      if (k === Kind.Query || (k === Kind.Sync && i !== last)) return false;
    }
    const frames = hold.from(head);
    if (frames === null) return false;
    // A client that described the statement in an earlier batch may decode rows by the old
    // columns (postgres.js, pgJDBC do): it must get the error, which their drivers heal.
    if (kind === Kind.Bind && !parsedHere && !this.describedAfter(hold, head, last, stmt)) return false;
    const synced = this.queue.kindAt(last) === Kind.Sync;
    // At most once per batch: the hold goes, and holdTried keeps another from starting before its Sync.
    this.hold = null;
    this.skipParamDesc = kind === Kind.DescribeStatement;
    server.statements.refresh(stmt);
    PreparedLink.reruns++;
    // Answers to come: the ReadyForQuery ending the skip, the Close and the Parse, then the batch's own.
    this.queue.insert(head, Kind.Sync, Fate.Swallow, null, null, null);
    this.queue.insert(head + 1, Kind.Close, Fate.Swallow, null, null, null);
    this.queue.insert(head + 2, Kind.Parse, Fate.Swallow, stmt, null, null);
    // Unsynced (Describe then Flush), pgmux ends the skip itself and flushes what runs again.
    const out = synced ? [close('S', stmt.serverName), stmt.parse, ...frames] : [SYNC, close('S', stmt.serverName), stmt.parse, ...frames, FLUSH];
    server.sendToServer(Buffer.concat(out));
    return true;
  }

  /** Whether the Bind at `head` has its portal (or statement) described before anything executes. */
  private describedAfter(hold: HeldBatch, head: number, last: number, stmt: Statement): boolean {
    const portal = bindPortal(hold.frameAt(head) as Buffer);
    for (let i = head + 1; i <= last; i++) {
      const k = this.queue.kindAt(i);
      if (k === Kind.Execute || k === Kind.Bind) return false;
      if (k === Kind.DescribeStatement && this.queue.at(i).stmt === stmt) return true;
      if (k !== Kind.DescribePortal) continue;
      const frame = hold.frameAt(i);
      if (frame !== null && describedPortal(frame) === portal) return true;
    }
    return false;
  }

  /**
   * A lone SQL EXECUTE whose statement the server held with a stale plan, nothing run yet and
   * nothing sent after it: DEALLOCATE, PREPARE and EXECUTE run instead (its RowDescription
   * tells the client the new columns).
   */
  private rerunSql(again: ExecuteAgain, server: PreparedServer): boolean {
    if (server.txStatus !== TxStatus.Idle || this.queue.head !== this.queue.length - 1) return false;
    server.statements.markStale(again.stmt);
    // Prepares first, so its own rewrite is never rerunnable: at most one re-run.
    const plan = planSql(again.sql, again.cmd, this.names, this.statements, server.statements);
    this.queue.at(this.queue.head).fate = Fate.Swallow;
    PreparedLink.reruns++;
    this.push(Kind.Query, Fate.Forward, null, null, plan.rewrite);
    server.sendToServer(query(plan.text));
    return true;
  }

  private notifyIfFake(): number {
    return this.queue.head < this.queue.length && this.queue.at(this.queue.head).fate === Fate.Fake ? Action.Notify : 0;
  }

  /**
   * The head request failed and the server ignores everything up to Sync: so do we. A Parse the
   * head stood for left nothing prepared, and the statement is no longer known to be good (its
   * next Parse goes to a server, which says why). With no Sync queued yet, what the client sends
   * until it comes is skipped as well (`skipping`).
   *
   * `held`: the head is a Parse under pgmux's server-side name that the server refused with
   * 42P05, so it holds the statement although pgmux had it as not (its Close was skipped in an
   * earlier batch, while this one was already on the wire). Recorded as held again, or every
   * later client's Parse of it there would be refused the same way.
   */
  private skipToSync(server: PreparedServer, held: boolean): void {
    const stmt = this.queue.at(this.queue.head).stmt;
    if (stmt !== null && this.queue.kindAt(this.queue.head) === Kind.Parse && !held) stmt.good = false;
    const end = this.syncAt();
    if (end === this.queue.length) this.skipping = true;
    this.undo(end, server);
    if (held && stmt !== null) server.statements.restore(stmt);
    for (let n = end - this.queue.head; n > 0; n--) this.shift();
  }

  /** Queue index of the first Sync/Query from the head on; the queue's length when there is none. */
  private syncAt(): number {
    return this.queue.syncAt();
  }

  /**
   * Undoes what the requests from the head to `end` (skipped by the server) did to the records,
   * newest first: each record was changed when its request was sent, in queue order, so undoing
   * in reverse gives back the state before them. In queue order, an injected Parse of X followed
   * by a Close evicting X (a later Parse pushed X out) would first remove X (already gone), then
   * restore it: recorded as held on a server that never prepared it, and another client's Parse
   * of X answered by pgmux, its Bind failing with 26000.
   */
  private undo(end: number, server: PreparedServer): void {
    for (let i = end - 1; i >= this.queue.head; i--) this.forget(i, server);
  }

  private forget(i: number, server: PreparedServer): void {
    // A SQL DEALLOCATE's Parse or Execute (./sql-extended) that did not run: its name comes back.
    this.queue.at(i).rewrite?.undo(server.statements, this.names);
    const stmt = this.queue.at(i).stmt;
    if (stmt === null) return;
    if (this.queue.kindAt(i) === Kind.Close) {
      // A skipped Close closed nothing: an eviction leaves the statement on the server, and
      // the client's own Close leaves its name (as PostgreSQL would).
      const name = this.queue.at(i).clientName;
      if (name === null) server.statements.restore(stmt);
      else if (name === STALE_CLOSE) server.statements.restoreStale(stmt);
      else if (!this.names.has(name)) this.names.set(name, stmt);
      return;
    }
    if (this.queue.kindAt(i) !== Kind.Parse) return;
    if (this.queue.at(i).fate !== Fate.Fake) server.statements.remove(stmt);
    const name = this.queue.at(i).clientName;
    if (name !== null && this.names.get(name) === stmt) this.names.delete(name);
  }

  private push(kind: number, fate: number, stmt: Statement | null, clientName: string | null, rewrite: SqlRewrite | null = null): void {
    this.queue.push(kind, fate, stmt, clientName, rewrite);
  }

  private shift(): void {
    const queue = this.queue;
    if (!queue.shift()) return;
    // Emptied before the batch's Sync (Describe then Flush): remember whether anything of it ran.
    const last = queue.kindAt(queue.head - 1);
    if (last === Kind.Sync || last === Kind.Query) this.ranBeforeDrain = false;
    else if (!this.ranBeforeDrain) this.ranBeforeDrain = queue.ranInBatch(queue.head - 1);
    if (this.hold !== null) {
      if (this.hold.synced) this.hold = null;
      else this.hold.drained();
    }
    queue.clear();
  }
}

/**
 * A Bind/Describe of a name the client never prepared goes to the server as it is (PostgreSQL's
 * own 26000 comes back), unless it is one of pgmux's server-side names, which would reach
 * another client's statement: that one goes to a name no server holds, and the 26000 names it.
 */
function refuseUnknown(name: string): SqlRewrite | null {
  return name.startsWith('pgmux_') ? missingStatementError(name) : null;
}
