// Owns prepared statements for one client in transaction mode: the client's names for its
// statements, rewriting Parse/Bind/Describe/Close to pgmux's server-side names, injecting a
// Parse where the linked server lacks the statement, and the queue of responses the server
// owes, so that injected responses are swallowed and synthesized ones come out in order.
//
// The queue is PgBouncer's outstanding_requests / PgDog's ProtocolState: one entry per client
// message that gets a response, each with an action. After an ErrorResponse in the extended
// protocol the server skips to Sync, so the skipped entries are dropped (and what they would
// have prepared is forgotten). SQL-level PREPARE/EXECUTE/DEALLOCATE in a simple Query are
// planned by ./sql and ride the same queue.

import { BackendCode, FrontendCode } from '../protocol/codes';
import { bindRenamed, close, decodeBind, decodeClose, decodeDescribe, decodeParse, decodeQuery, describe, query } from '../protocol/frontend';
import { CLOSE_COMPLETE, PARSE_COMPLETE } from '../protocol/backend';
import { Action } from '../protocol/relay';
import type { ServerStatementCache, Statement, StatementRegistry } from './statements';
import { lexSql, mayBeSqlPrepared, missingStatementError, MISSING_STATEMENT, patchError, planSql, sqlOnlyError, type SqlRewrite } from './sql';

/** What a queued request is, by which response completes it. */
const Kind = { Parse: 1, Bind: 2, DescribeStatement: 3, DescribePortal: 4, Execute: 5, Close: 6, Sync: 7, Query: 8 } as const;
/** What happens to its response. */
const Fate = { Forward: 0, Swallow: 1, Fake: 2 } as const;

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
]);

/** The linked server as prepared-statement handling sees it. */
export interface PreparedServer {
  readonly statements: ServerStatementCache;
}

export class PreparedLink {
  /** The client's statement names. */
  readonly names = new Map<string, Statement>();
  private kinds: number[] = [];
  private fates: number[] = [];
  private stmts: (Statement | null)[] = [];
  private clientNames: (string | null)[] = [];
  /** How a rewritten request's responses are treated (./sql); null for most. */
  private rewrites: (SqlRewrite | null)[] = [];
  private head = 0;
  /** Bytes replacing a swallowed server response (a rewritten tag or error), sent by takeFakes. */
  private out: Buffer | null = null;
  /** Bytes to send to the server in place of the frame just swallowed (written by afterFrame). */
  private replacement: Buffer[] = [];
  /** Counters for SHOW PREPARED / specs: Parses injected because a server lacked a statement. */
  static injectedParses = 0;

  constructor(private readonly registry: StatementRegistry) {}

  get pending(): number {
    return this.kinds.length - this.head;
  }

  // ---- client -> server ----

  /** Messages forwarded as they are but that owe a response (Execute, Sync, Query, FunctionCall). */
  noteForwarded(type: number): void {
    switch (type) {
      case FrontendCode.Execute:
        this.push(Kind.Execute, Fate.Forward, null, null);
        return;
      case FrontendCode.Sync:
        this.push(Kind.Sync, Fate.Forward, null, null);
        return;
      case FrontendCode.Query:
      case FrontendCode.FunctionCall:
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
    if (unnamed !== 0) return this.forward(unnamed);
    switch (type) {
      case FrontendCode.Parse:
        return this.onParse(buf, start, end, server);
      case FrontendCode.Query:
        return this.onQuery(buf, start, end, server);
      case FrontendCode.Bind: {
        const msg = decodeBind(buf, start, end);
        if (msg.kind !== 'bind' || msg.statement === '') return this.forward(Kind.Bind);
        const stmt = this.names.get(msg.statement);
        const refusal = stmt === undefined ? refuseUnknown(msg.statement) : stmt.parse === null ? sqlOnlyError(msg.statement) : null;
        if (refusal !== null) {
          this.replacement.push(bindRenamed(buf, end, msg, MISSING_STATEMENT));
          this.push(Kind.Bind, Fate.Forward, null, null, refusal);
          return Action.Swallow | Action.Notify;
        }
        if (stmt === undefined || stmt.parse === null) return this.forward(Kind.Bind);
        this.ensurePrepared(stmt, stmt.parse, server);
        this.replacement.push(bindRenamed(buf, end, msg, stmt.serverName));
        this.push(Kind.Bind, Fate.Forward, stmt, msg.statement);
        return Action.Swallow | Action.Notify;
      }
      case FrontendCode.Describe: {
        const msg = decodeDescribe(buf, start, end);
        if (msg.kind !== 'describe') return this.forward(Kind.DescribeStatement);
        if (msg.target === 'P') return this.forward(Kind.DescribePortal);
        if (msg.name === '') return this.forward(Kind.DescribeStatement);
        const stmt = this.names.get(msg.name);
        const refusal = stmt === undefined ? refuseUnknown(msg.name) : stmt.parse === null ? sqlOnlyError(msg.name) : null;
        if (refusal !== null) {
          this.replacement.push(describe('S', MISSING_STATEMENT));
          this.push(Kind.DescribeStatement, Fate.Forward, null, null, refusal);
          return Action.Swallow | Action.Notify;
        }
        if (stmt === undefined || stmt.parse === null) return this.forward(Kind.DescribeStatement);
        this.ensurePrepared(stmt, stmt.parse, server);
        this.replacement.push(describe('S', stmt.serverName));
        this.push(Kind.DescribeStatement, Fate.Forward, stmt, msg.name);
        return Action.Swallow | Action.Notify;
      }
      case FrontendCode.Close: {
        const msg = decodeClose(buf, start, end);
        if (msg.kind !== 'close' || msg.target === 'P' || msg.name === '') return this.forward(Kind.Close);
        // Only the client's name goes; the server keeps the statement for others.
        const stmt = this.names.get(msg.name) ?? null;
        this.names.delete(msg.name);
        this.push(Kind.Close, Fate.Fake, stmt, msg.name);
        return Action.Swallow | Action.Notify;
      }
      default:
        return Action.Forward;
    }
  }

  private onParse(buf: Buffer, start: number, end: number, server: PreparedServer): number {
    const msg = decodeParse(buf, start, end);
    if (msg.kind !== 'parse' || msg.name === '') return this.forward(Kind.Parse);
    const stmt = this.registry.intern(msg.sql, msg.paramTypes);
    stmt.uses++;
    this.names.set(msg.name, stmt);
    if (server.statements.has(stmt)) {
      this.push(Kind.Parse, Fate.Fake, stmt, msg.name);
    } else {
      this.addToServer(stmt, server);
      this.replacement.push(stmt.parse);
      this.push(Kind.Parse, Fate.Forward, stmt, msg.name);
    }
    return Action.Swallow | Action.Notify;
  }

  /** A simple Query: SQL-level PREPARE/EXECUTE/DEALLOCATE are rewritten (./sql), the rest forwarded. */
  private onQuery(buf: Buffer, start: number, end: number, server: PreparedServer): number {
    if (!mayBeSqlPrepared(buf, start, end)) return this.forward(Kind.Query);
    const msg = decodeQuery(buf, start, end);
    const cmd = msg.kind === 'query' ? lexSql(msg.sql) : null;
    if (msg.kind !== 'query' || cmd === null) return this.forward(Kind.Query);
    const plan = planSql(msg.sql, cmd, this.names, this.registry, server.statements);
    if (plan.injected) PreparedLink.injectedParses++;
    this.replacement.push(query(plan.text));
    this.push(Kind.Query, Fate.Forward, null, null, plan.rewrite);
    return Action.Swallow | Action.Notify;
  }

  /** Prepares `stmt` on the server ahead of a Bind/Describe if it is not there yet. */
  private ensurePrepared(stmt: Statement, parse: Buffer, server: PreparedServer): void {
    stmt.uses++;
    if (server.statements.has(stmt)) return;
    PreparedLink.injectedParses++;
    this.addToServer(stmt, server);
    this.replacement.push(parse);
    this.push(Kind.Parse, Fate.Swallow, stmt, null);
  }

  private addToServer(stmt: Statement, server: PreparedServer): void {
    const evicted = server.statements.add(stmt);
    if (evicted !== null) {
      this.replacement.push(close('S', evicted.serverName));
      // The evicted statement rides along: if the server skips this Close, it still holds it.
      this.push(Kind.Close, Fate.Swallow, evicted, null);
    }
  }

  private forward(kind: number): number {
    this.push(kind, Fate.Forward, null, null);
    return Action.Forward;
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
    while (this.head < this.kinds.length && this.fates[this.head] === Fate.Fake) {
      (out ??= []).push(this.kinds[this.head] === Kind.Parse ? PARSE_COMPLETE : CLOSE_COMPLETE);
      this.shift();
    }
    return out === null ? null : out.length === 1 ? out[0] : Buffer.concat(out);
  }

  // ---- server -> client ----

  /** A completion-type response from the server. Returns Forward or Swallow, | Notify when fakes follow. */
  onServerResponse(type: number, buf: Buffer, start: number, end: number, server: PreparedServer): number {
    if (type === BackendCode.CommandComplete) this.noteDiscard(buf, start, end, server);
    if (this.head >= this.kinds.length) return Action.Forward;
    const kind = this.kinds[this.head];
    if (type === BackendCode.ErrorResponse) {
      const rewrite = this.rewrites[this.head];
      const stmt = this.stmts[this.head];
      // "bind message supplies 2 parameters, but prepared statement "pgmux_3" requires 1": the client's name.
      const swap =
        rewrite !== null
          ? rewrite.failed(buf, start, end, server.statements, this.names)
          : stmt !== null && (kind === Kind.Bind || kind === Kind.DescribeStatement)
            ? patchError(buf, start, end, undefined, stmt, this.clientNames[this.head] as string)
            : null;
      // A replaced error goes out through takeFakes, after what was forwarded before it.
      if (swap !== null) this.out = swap;
      const verdict = swap === null ? Action.Forward : Action.Swallow | Action.Notify;
      if (kind === Kind.Query || kind === Kind.Sync) return verdict;
      this.fail(server);
      this.skipToSync(server);
      return verdict | this.notifyIfFake();
    }
    if (type === BackendCode.ReadyForQuery) {
      // Everything up to the Sync/Query that this answers is done (or was skipped).
      while (this.head < this.kinds.length) {
        const k = this.kinds[this.head];
        this.shift();
        if (k === Kind.Sync || k === Kind.Query) break;
      }
      return Action.Forward | this.notifyIfFake();
    }
    if (kind === Kind.Query) {
      const rewrite = this.rewrites[this.head];
      if (rewrite === null || type !== BackendCode.CommandComplete) return Action.Forward;
      const fate = rewrite.commandComplete();
      if (typeof fate === 'number') return fate;
      this.out = fate;
      return Action.Swallow | Action.Notify;
    }
    if (!completes(kind, type)) return Action.Forward;
    const fate = this.fates[this.head];
    this.shift();
    return (fate === Fate.Swallow ? Action.Swallow : Action.Forward) | this.notifyIfFake();
  }

  /**
   * DISCARD ALL / DEALLOCATE ALL ran on the server (the client sent it): the server holds none
   * of pgmux's statements any more, and the client meant to drop all of its own.
   */
  private noteDiscard(buf: Buffer, start: number, end: number, server: PreparedServer): void {
    const tag = buf.toString('latin1', start + 5, end - 1);
    if (tag === 'DISCARD ALL' || tag === 'DEALLOCATE ALL') {
      server.statements.clear();
      this.names.clear();
    }
  }

  private notifyIfFake(): number {
    return this.head < this.kinds.length && this.fates[this.head] === Fate.Fake ? Action.Notify : 0;
  }

  /** The head request failed: a Parse it stood for left nothing prepared. */
  private fail(server: PreparedServer): void {
    this.forget(this.head, server);
    this.shift();
  }

  /** After an error the server ignores everything up to Sync: so do we. */
  private skipToSync(server: PreparedServer): void {
    while (this.head < this.kinds.length && this.kinds[this.head] !== Kind.Sync && this.kinds[this.head] !== Kind.Query) {
      this.forget(this.head, server);
      this.shift();
    }
  }

  private forget(i: number, server: PreparedServer): void {
    const stmt = this.stmts[i];
    if (stmt === null) return;
    if (this.kinds[i] === Kind.Close) {
      // A skipped Close closed nothing: an eviction leaves the statement on the server, and
      // the client's own Close leaves its name (as PostgreSQL would).
      const name = this.clientNames[i];
      if (name === null) server.statements.restore(stmt);
      else if (!this.names.has(name)) this.names.set(name, stmt);
      return;
    }
    if (this.kinds[i] !== Kind.Parse) return;
    if (this.fates[i] !== Fate.Fake) server.statements.remove(stmt);
    const name = this.clientNames[i];
    if (name !== null && this.names.get(name) === stmt) this.names.delete(name);
  }

  private push(kind: number, fate: number, stmt: Statement | null, clientName: string | null, rewrite: SqlRewrite | null = null): void {
    this.kinds.push(kind);
    this.fates.push(fate);
    this.stmts.push(stmt);
    this.clientNames.push(clientName);
    this.rewrites.push(rewrite);
  }

  private shift(): void {
    this.stmts[this.head] = null;
    this.rewrites[this.head] = null;
    this.head++;
    if (this.head === this.kinds.length) {
      this.kinds.length = this.fates.length = this.stmts.length = this.clientNames.length = this.rewrites.length = 0;
      this.head = 0;
    }
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

/**
 * The queue kind of a Parse/Bind/Describe/Close that names no prepared statement (so needs no
 * rewriting), read from its first bytes; 0 when it names one or is malformed (decoded then).
 */
function unnamedKind(type: number, buf: Buffer, start: number, end: number): number {
  const body = start + 5;
  if (body >= end) return 0;
  switch (type) {
    case FrontendCode.Parse:
      return buf[body] === 0 ? Kind.Parse : 0;
    case FrontendCode.Bind: {
      // Portal name first, then the statement name.
      const nul = buf.indexOf(0, body);
      return nul >= 0 && nul + 1 < end && buf[nul + 1] === 0 ? Kind.Bind : 0;
    }
    case FrontendCode.Describe:
      if (buf[body] === 0x50) return Kind.DescribePortal; // 'P'
      return buf[body] === 0x53 && body + 1 < end && buf[body + 1] === 0 ? Kind.DescribeStatement : 0;
    case FrontendCode.Close:
      if (buf[body] === 0x50) return Kind.Close;
      return buf[body] === 0x53 && body + 1 < end && buf[body + 1] === 0 ? Kind.Close : 0;
    default:
      return 0;
  }
}

function completes(kind: number, type: number): boolean {
  switch (kind) {
    case Kind.Parse:
      return type === BackendCode.ParseComplete;
    case Kind.Bind:
      return type === BackendCode.BindComplete;
    case Kind.DescribeStatement:
    case Kind.DescribePortal:
      return type === BackendCode.RowDescription || type === BackendCode.NoData;
    case Kind.Execute:
      return (
        type === BackendCode.CommandComplete || type === BackendCode.EmptyQueryResponse || type === BackendCode.PortalSuspended
      );
    case Kind.Close:
      return type === BackendCode.CloseComplete;
    default:
      return false;
  }
}
