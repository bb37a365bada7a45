// Owns one connection from pgmux to a PostgreSQL server: connecting, login, reading it (below the
// stream when plain, ../handle-read), the server half of the forwarding path, sending internal
// queries (parameter sync, reset, health check; their answers are ./internal-queries') and closing.
//
// The pool decides where a server belongs; this class reports what happened through ServerOwner
// and forwards the server's bytes to whichever client is linked (ServerPeer).

import * as net from 'node:net';
import { BackendCode, ServerSqlState, SqlState, TxStatus } from '../protocol/codes';
import { Action, Relay, type RelayHandler } from '../protocol/relay';
import { Framer } from '../protocol/framer';
import { anyTypeLimits } from '../protocol/limits';
import { decodeErrorFields, decodeParameterStatus, errorCode, isShutdownFatal, type ErrorFields } from '../protocol/backend';
import { query, startupMessage, terminate } from '../protocol/frontend';
import { ServerLogin, type ServerCredential } from '../auth/server-login';
import { log, type LogSubject } from '../log';
import { clock, nowUs } from '../clock';
import { DETACHED_STATS, type PoolStats } from '../metrics/counters';
import { COMPLETION_TYPES, type PreparedLink, type PreparedServer } from '../prepared/link';
import { ServerStatementCache } from '../prepared/statements';
import type { ConnectEvents, PendingConnect } from '../connect';
import type { Backend } from '../failover/backend';
import type { PostmasterRun } from '../failover/postmaster-runs';
import type { BackendAddress } from '../failover/dialer';
import { SettingValues, type Replay } from '../session/settings';
import { onWriteFailed, writeDirect, writeDirectFits } from '../direct-write';
import { readBelow, startReading, stopReading, type HandleReader, type ReadHandle } from '../handle-read';
import { InternalQueries } from './internal-queries';

/** Responses after which a statement (or the transaction) may have committed: a request is not sent again after one. */
const COMPLETES_STATEMENT = new Uint8Array(256);
for (const t of [BackendCode.CommandComplete, BackendCode.ReadyForQuery, BackendCode.CopyInResponse, BackendCode.CopyOutResponse, BackendCode.CopyBothResponse]) COMPLETES_STATEMENT[t] = 1;

/** FATAL 57P01 (fast shutdown, pg_terminate_backend), or a WARNING 57P01/57P02 (immediate shutdown, crash). */
function isShutdownWord(type: number, buf: Buffer, start: number, end: number): boolean {
  if (type === BackendCode.ErrorResponse) return isShutdownFatal(buf, start, end);
  if (type !== BackendCode.NoticeResponse) return false;
  const code = errorCode(buf, start, end);
  return code === ServerSqlState.AdminShutdown || code === ServerSqlState.CrashShutdown;
}

/** Response types the prepared-statement queue must see, as a lookup table (hot path). */
const IS_COMPLETION = new Uint8Array(256);
for (const t of COMPLETION_TYPES) IS_COMPLETION[t] = 1;

/** Server-side frames are only bounded by PostgreSQL itself (1 GB per field). */
const SERVER_LIMITS = anyTypeLimits(0x7fffffff, 'the limit for server messages');

/** Size of a server's read buffer: what node reads at once by default. */
const READ_BUFFER_SIZE = 64 * 1024;

/** Where a server is in its life; the pool is the only writer (through moveServer). */
export type ServerState = 'login' | 'idle' | 'active' | 'used' | 'tested' | 'closed';

/** The client side of a link, as the server sees it. */
export interface ServerPeer {
  /** Forwards server bytes to the client; false when the client's buffer is full. */
  sendToClient(bytes: Buffer): boolean;
  /**
   * The forwarding path's write: the bytes still queued on the client's socket afterwards (0
   * when the kernel took them all, so `bytes` is no longer referenced), or -1 when the client's
   * buffer is full (pause the server).
   */
  forward(bytes: Buffer): number;
  /**
   * The server reported a parameter while linked to this client. True when the client already
   * has that value of a tracked parameter: the report echoes pgmux's own sync (PostgreSQL
   * reports it at the client's ReadyForQuery), which PostgreSQL itself would never send this
   * client, so it is not forwarded.
   */
  parameterReported(name: string, value: string): boolean;
  /**
   * A ReadyForQuery for one of this client's requests has been forwarded. True when the server
   * may go back to its pool: released() is called once the chunk being relayed is done.
   */
  readyForQuery(status: number): boolean;
  /** The chunk whose ReadyForQuery let the server go has been relayed: give it back (unless something changed since). */
  released(server: ServerConnection): void;
  /** False when a ReadyForQuery with this status must be swallowed (readyForQuery then refuses). */
  acceptsReady(status: number): boolean;
  /**
   * True when the client sends this (accepted) ReadyForQuery itself, later: workers > 1, and it
   * ends a commit the other workers must know of first (lib/workers/commit-share).
   */
  holdsReady(status: number): boolean;
  /** The client's prepared-statement link, when it tracks named statements; else null. */
  readonly prepared: PreparedLink | null;
  /** An ErrorResponse as the client must see it instead (lib/rules: a denial, a rule's timeout), or null. */
  rewriteError(buf: Buffer, start: number, end: number): Buffer | null;
  /** Resume reading from the client (its server side drained). */
  resumeClient(): void;
  pauseClient(): void;
  /** The first frame answering the client's request arrived (lib/client/resend: it can no longer be sent again). */
  answerBegun(): void;
  /**
   * The server's first answer was a shutdown's word (`frame`, swallowed): FATAL 57P01 (fast
   * shutdown or pg_terminate_backend: nothing committed), or a WARNING 57P01/57P02 (immediate
   * shutdown or a crash: it may have). The request may go to another server (lib/client/resend).
   */
  refusedByShutdown(frame: Buffer, fatal: boolean): void;
  /**
   * A SET replayed in front of the client's request failed (lib/session/settings replayFor):
   * the server skips the request; the client must hear why, and the server cannot serve again.
   */
  settingsRefused(error: ErrorFields): void;
}

/** Reads the answer of an internal query (runInternal): its rows, then its end. */
export interface InternalReader {
  /** A DataRow of the answer (the whole frame, from its type byte). */
  row(buf: Buffer, start: number, end: number): void;
  /** The query's ReadyForQuery came; `error` when it failed. Called once the frame has been handled. */
  done(server: ServerConnection, error: ErrorFields | null): void;
  /** Its answer is pgmux's own bookkeeping, which PgBouncer never asks: not counted in SHOW STATS bytes. */
  readonly unmetered?: boolean;
  /** The connection closed before the answer ended (RECONNECT, server_lifetime, the server went away): `done` is never called. */
  lost?(): void;
}

/** What the pool learns from a server. */
export interface ServerOwner {
  /** Login finished, or an internal query (reset/check) finished: the server may go idle. */
  serverReady(server: ServerConnection): void;
  serverLoginFailed(server: ServerConnection, error: ErrorFields): void;
  /**
   * The connection is gone. `byServer`: the server ended it (socket error or close, a FATAL while
   * idle), not pgmux; the failover layer hears of those.
   */
  serverClosed(server: ServerConnection, reason: string, byServer: boolean): void;
  /** The server refused a write as read-only (25006): maybe a standby now (lib/failover looks). */
  serverReadOnly(server: ServerConnection): void;
}


let nextServerId = 1;

export class ServerConnection implements RelayHandler, LogSubject, PreparedServer, ConnectEvents, HandleReader {
  readonly id = nextServerId++;
  state: ServerState = 'login';
  /** Parameters this server currently has (from login, then ParameterStatus). */
  readonly params = new Map<string, string>();
  pid = 0;
  secret = 0;
  txStatus: number = TxStatus.Idle;
  client: ServerPeer | null = null;
  readonly connectedAt: number;
  /** nowUs() when the connection was begun (the connect-time histogram). */
  readonly openedUs = nowUs();
  /** Last time a client was linked or released (for server_idle_timeout, server_check_delay). */
  lastUsed: number;
  /** Set by RECONNECT/lifetime: close instead of returning to idle. */
  closeOnRelease = false;
  /** The run of the host's postmaster it logged in to (its backend tracks it); null before login. */
  run: PostmasterRun | null = null;
  /** The pool's counters: bytes received after login count as SHOW STATS total_sent. */
  stats: PoolStats = DETACHED_STATS;
  /** Statements prepared on this server under pgmux's names (max_prepared_statements). */
  readonly statements: ServerStatementCache;
  /** The session settings clients have left on this server, beyond its login's (lib/session/settings). */
  settings: SettingValues = SettingValues.EMPTY;
  /**
   * The client parameter map (never changed in place: lib/client parameterReported replaces it)
   * and tracked set this server's parameters were last brought in line with, while no
   * ParameterStatus has changed them since: a link of a client with that same map needs no
   * syncParams (its twelve map lookups were a tenth of pgmux's own time per transaction at
   * the link). Null when unknown.
   */
  syncedParams: object | null = null;
  syncedTracked: object | null = null;
  /** The frame just inspected was a ReadyForQuery for the linked client (afterFrame tells it). */
  private readyPending = false;
  /**
   * That ReadyForQuery lets the server go back to its pool: the linked client releases it after
   * the chunk (onData), never in the middle of relaying it, so the next client is not linked
   * (and its request written here) while this one's answer is still being read.
   */
  private releaseDue = false;
  /** An error swallowed for the client's rewriteError(): sent in its place by afterFrame. */
  private rewritten: Buffer | null = null;
  /**
   * The linked client's request may be sent again if this server refuses it at shutdown before
   * any of the answer is written to the client (lib/client/resend): true until the first write.
   */
  private awaiting = false;
  /** Since the request came: a statement completed (CommandComplete, ReadyForQuery, COPY), so something may have committed. */
  private completedSome = false;

  /** Read by the admin console (SHOW SERVERS addresses, SUSPEND's flush check); its TLS socket after 'S'. */
  socket: net.Socket;
  /** The TLS session ("TLSv1.3/TLS_AES_256_GCM_SHA384/ECDH=X25519") once the handshake is done, else ''. */
  tlsInfo = '';
  /** The connection attempt until it succeeds or fails (lib/failover/dialer). */
  private dial: PendingConnect | null;
  /**
   * Reads land in this reused buffer (net's `onread`) instead of a new Buffer per read: on the
   * forwarding path that allocation and the stream machinery around it cost more than the
   * rest of pgmux's per-message work. Whatever is forwarded from it is written at once; when a
   * write stays queued (the client is slow), the queue still points into it, so the next read
   * gets a fresh buffer (readKept).
   */
  private readBuffer = Buffer.allocUnsafe(READ_BUFFER_SIZE);
  private readKept = false;
  /**
   * The plain socket's handle once connected: its reads come to received() and readEnded()
   * (../handle-read), not through node's onStreamRead, which the HTTP listener's sockets share
   * (issue 13). Null before that, for a TLS socket (which emits 'data'), and once closed.
   */
  private readHandle: ReadHandle | null = null;
  private login: ServerLogin | null;
  private loginFramer: Framer | null;
  private readonly relay: Relay;
  /** pgmux's own queries on this server (sync, reset, checks, replays) and their answers' readers. */
  private readonly internal = new InternalQueries();
  private closed = false;
  /** A write failed (writeFailed): nothing more is written, what the server sent is still read. */
  private writeError: string | null = null;
  /** This connection paused its socket (a client not keeping up): resume() undoes only that. */
  private paused = false;
  /** The socket events handled here, kept so that a TLS upgrade can move them to the TLS socket. */
  private readonly handlers = {
    // Only a TLS socket emits 'data' and 'end': a plain one is read below the stream (received, readEnded).
    data: (chunk: Buffer) => {
      clock.tick();
      this.onData(chunk);
    },
    drain: () => this.client?.resumeClient(),
    error: (err: Error) => this.close(`server connection error: ${err.message}`, false, true),
    // 'end' (the server's FIN) comes a tick before 'close': stop handing this server out at once.
    end: () => this.close('server closed the connection', false, true),
    close: () => this.close('server closed the connection', false, true),
  };

  constructor(
    private readonly owner: ServerOwner,
    /** The host it is on: its dialer opens the connection, and it hears how the connection fares. */
    readonly backend: Backend,
    private readonly startupParams: Record<string, string>,
    credential: ServerCredential,
    private readonly label: string,
    now: number,
    maxPrepared = 0,
  ) {
    this.statements = new ServerStatementCache(maxPrepared);
    this.connectedAt = now;
    this.lastUsed = now;
    this.login = new ServerLogin(startupParams.user, credential);
    this.loginFramer = new Framer((t, b, s, e) => this.onLoginFrame(t, b, s, e), SERVER_LIMITS);
    this.relay = new Relay(this, SERVER_LIMITS);
    this.dial = backend.dialer.connect(this, {
      buffer: () => this.nextReadBuffer(),
      callback: (length: number, buf: Buffer) => {
        // A release, an idle spell, a wait that begins here: stamped with this reading.
        clock.tick();
        this.onData(buf.subarray(0, length));
        return true;
      },
    });
    this.socket = this.dial.socket;
  }

  /** The buffer the next read goes into: a new one when a queued write still points into the last. */
  private nextReadBuffer(): Buffer {
    if (this.readKept) {
      this.readKept = false;
      this.readBuffer = Buffer.allocUnsafe(READ_BUFFER_SIZE);
    }
    return this.readBuffer;
  }

  /** ConnectEvents: TCP (and TLS, when negotiated) is up: log in. */
  connected(socket: net.Socket, tlsInfo: string): void {
    this.dial = null;
    this.socket = socket;
    this.tlsInfo = tlsInfo;
    for (const [event, handler] of Object.entries(this.handlers)) socket.on(event, handler);
    // Plain: read below the stream from now on, into the buffer net's onread set up (readBuffer).
    const handle = tlsInfo === '' ? (socket as net.Socket & { _handle: ReadHandle | null })._handle : null;
    if (handle !== null) {
      readBelow(handle, this, null);
      this.readHandle = handle;
    }
    onWriteFailed(socket, (err) => this.writeFailed(err));
    socket.write(startupMessage(this.startupParams));
  }

  /** ConnectEvents: no connection. A TLS refusal is pgmux's own: the waiting clients hear it. */
  connectFailed(reason: string, tls: boolean): void {
    this.dial = null;
    if (tls) this.refuseLogin(reason);
    else this.close(`server connection error: ${reason}`, false, true);
  }

  /** Login cannot go on for a reason of pgmux's own (TLS): tell the pool's waiting clients, then close. */
  private refuseLogin(message: string): void {
    if (this.closed) return;
    this.loginFramer?.halt();
    this.owner.serverLoginFailed(this, { severity: 'FATAL', code: SqlState.ConnectionFailure, message });
    this.close(message);
  }

  get address(): BackendAddress {
    return this.backend.address;
  }

  logPrefix(): string {
    return `S-${this.id}: ${this.label}@${this.backend.label}`;
  }

  /** Forwards client bytes (below the stream, ../direct-write); false when the server's buffer is full (pause the client). */
  sendToServer(bytes: Buffer): boolean {
    if (this.writeError !== null) return true;
    return writeDirectFits(this.socket, bytes);
  }

  /** Bytes of pgmux's own after login (internal queries, a settings replay); dropped once a write failed. */
  private sendOwn(bytes: Buffer): void {
    if (this.writeError === null) writeDirect(this.socket, bytes);
  }

  /**
   * A write failed with EPIPE or ECONNRESET: the server had closed the connection, and may have
   * said why first (FATAL 57P01 of a shutdown or of pg_terminate_backend, which decides whether
   * the linked client's request may go again; a pooled connection handed out in the moment a
   * restart ends it fails so). As libpq does, what it sent is read to its end, and the
   * socket's 'end' or 'error' closes it; nothing more is written. Reading that is paused, or any
   * other write error, closes it now.
   */
  private writeFailed(err: NodeJS.ErrnoException): void {
    if (this.closed || this.writeError !== null) return;
    this.writeError = `server connection error: ${err.message}`;
    if (this.paused || (err.code !== 'EPIPE' && err.code !== 'ECONNRESET')) this.close(this.writeError, false, true);
  }

  /** Runs SQL whose results no client sees (SET sync, reset, check); ahead of any client bytes. */
  runInternal(sql: string, reader: InternalReader | null = null): void {
    this.internal.sent(reader);
    this.sendOwn(query(sql));
  }

  /**
   * Sends a settings replay (lib/session/settings replayFor) or a parameter sync (./params
   * syncParams) ahead of the linked client's request; from now on the server has the client's
   * `values` (a replay's), or its reported parameters.
   */
  replay(replay: Replay, values?: SettingValues): void {
    this.internal.replaySent(replay.statements);
    if (values !== undefined) this.settings = values;
    this.sendOwn(replay.bytes);
  }

  hasInternalPending(): boolean {
    return this.internal.pending > 0;
  }

  /** The error of the last internal query, if it failed (read by the pool for logging). */
  takeInternalError(): ErrorFields | null {
    return this.internal.takeError();
  }

  pause(): void {
    this.paused = true;
    if (this.readHandle !== null) stopReading(this.readHandle);
    else this.socket.pause();
  }

  /**
   * Only a socket this connection paused is resumed: resume() runs at every link and release,
   * and net.Socket's resume, shared with the HTTP listener's sockets once metrics are on, turns
   * megamorphic there (0.2-0.3 µs per transaction in a perf profile under pgbench).
   */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.readHandle === null) {
      this.socket.resume();
      return;
    }
    const err = startReading(this.readHandle);
    // Told after the caller's turn, as net.Socket does: the caller is in the middle of a link or release.
    if (err !== null) process.nextTick(() => this.close(`server connection error: ${err.message}`, false, true));
  }

  /** HandleReader: `length` bytes of the server's are at the start of readBuffer. */
  received(length: number): Buffer | undefined {
    // Closed (politely, and the server still talks): nobody is listening any more.
    if (this.closed) return undefined;
    // A release, an idle spell, a wait that begins here: stamped with this reading.
    clock.tick();
    this.onData(this.readBuffer.subarray(0, length));
    return this.readKept ? this.nextReadBuffer() : undefined;
  }

  /** HandleReader: the server's FIN (`err` null) or a read error; libuv reads no more. */
  readEnded(err: NodeJS.ErrnoException | null): void {
    // After a polite close (Terminate sent) this is the server's answer: the socket can go.
    if (this.closed) this.socket.destroy();
    else this.close(err === null ? 'server closed the connection' : `server connection error: ${err.message}`, false, true);
  }

  /** Ends the connection politely (Terminate) or at once; the owner hears serverClosed once. */
  close(reason: string, polite = false, byServer = false): void {
    if (this.closed) return;
    this.closed = true;
    const wasState = this.state;
    this.state = 'closed';
    this.internal.lost();
    if (this.dial !== null) {
      this.dial.abort();
      this.dial = null;
    } else if (polite && wasState !== 'login' && !this.socket.destroyed) {
      // The server's FIN answers the Terminate: a paused read must see it (readEnded then destroys a plain socket).
      this.resume();
      this.socket.end(terminate());
    } else this.socket.destroy();
    this.readHandle = null;
    this.owner.serverClosed(this, reason, byServer);
  }

  isClosed(): boolean {
    return this.closed;
  }

  private onData(chunk: Buffer): void {
    if (this.loginFramer !== null) {
      const fault = this.loginFramer.feed(chunk);
      if (fault !== null) this.close(`bad message from server during login: ${fault.reason}`);
      return;
    }
    this.stats.serverBytes += chunk.length;
    const err = this.relay.feed(chunk);
    const due = this.releaseDue;
    this.releaseDue = false;
    if (err !== null) this.close(`bad message from server: ${err.reason}`);
    else if (due) this.client?.released(this);
  }

  private onLoginFrame(type: number, buf: Buffer, start: number, end: number): void {
    const login = this.login;
    if (login === null || this.closed) return;
    const step = login.onFrame(type, buf, start, end);
    switch (step.kind) {
      case 'continue':
        return;
      case 'send':
        this.socket.write(step.bytes);
        return;
      case 'failed':
        this.loginFramer?.halt();
        this.owner.serverLoginFailed(this, step.error);
        this.close(`server login failed: ${step.error.message}`);
        return;
      case 'done': {
        for (const [k, v] of login.params) this.params.set(k, v);
        this.pid = step.pid;
        this.secret = step.secret;
        this.txStatus = step.txStatus;
        const framer = this.loginFramer as Framer;
        framer.halt();
        this.login = null;
        this.loginFramer = null;
        this.owner.serverReady(this);
        // Anything the server sent after ReadyForQuery goes through the normal path.
        const rest = framer.takeRemainder();
        if (rest !== null && !this.closed) this.onData(rest);
        return;
      }
    }
  }

  // ---- RelayHandler: the server half of the forwarding path ----

  /** The linked client's request may be sent again until this server starts answering it. */
  awaitAnswer(): void {
    this.awaiting = true;
    this.completedSome = false;
  }

  onHeader(type: number, length: number): number {
    if (this.internal.busy()) return Action.Inspect;
    if (this.awaiting && COMPLETES_STATEMENT[type] === 1) this.completedSome = true;
    // The prepared-statement queue takes a plain answer at its header (PreparedLink.inspects).
    if (IS_COMPLETION[type] === 1 && this.client?.prepared != null && this.client.prepared.inspects(type, length)) return Action.Inspect;
    if (type === BackendCode.ReadyForQuery || type === BackendCode.ParameterStatus) return Action.Inspect;
    // Errors are rare: each is looked at whole (a shutdown's FATAL, or one while idle); so is a
    // notice that may be an immediate shutdown's before the request's answer has begun.
    if (type === BackendCode.ErrorResponse || (type === BackendCode.NoticeResponse && (this.awaiting || this.client === null))) return Action.Inspect;
    return Action.Forward;
  }

  onFrame(type: number, buf: Buffer, start: number, end: number): number {
    if (type === BackendCode.ParameterStatus) {
      const p = decodeParameterStatus(buf, start, end);
      if (this.internal.busy()) {
        if (p.kind !== 'invalid') this.paramReported(p.name, p.value);
        return Action.Swallow;
      }
      if (p.kind === 'invalid') return Action.Forward;
      this.paramReported(p.name, p.value);
      return this.client?.parameterReported(p.name, p.value) === true ? Action.Swallow : Action.Forward;
    }
    const linked = this.client;
    if (this.awaiting && !this.completedSome && linked !== null && isShutdownWord(type, buf, start, end)) {
      // The server is going away and said so before any statement of the request completed,
      // and nothing of its answer has reached the client: the client does not see this, and the
      // request may go to another server (lib/client/resend decides).
      linked.refusedByShutdown(Buffer.from(buf.subarray(start, end)), type === BackendCode.ErrorResponse);
      return Action.Swallow | Action.Discard;
    }
    const internal = this.internal;
    if (internal.pending === 0 && internal.replaying > 0) return internal.replayFrame(this, type, buf, start, end);
    // "cannot execute ... in a read-only transaction": the client gets it; the failover layer
    // checks whether the host is still the primary (a demoted one says so forever).
    if (type === BackendCode.ErrorResponse && errorCode(buf, start, end) === ServerSqlState.ReadOnlySqlTransaction) this.owner.serverReadOnly(this);
    if (internal.pending > 0) return internal.frame(this, type, buf, start, end);
    if (type === BackendCode.NoticeResponse) {
      // An immediate shutdown's or a crash's warning to an idle server: its end follows, but
      // maybe not in this read; it must not be handed out meanwhile.
      if (linked === null && isShutdownWord(type, buf, start, end)) {
        this.close('server is shutting down (immediate shutdown or crash)', false, true);
        return Action.Swallow;
      }
      // A notice inspected only in case it was a shutdown's: on its way.
      return Action.Forward;
    }
    const client = this.client;
    if (type === BackendCode.ReadyForQuery) {
      this.txStatus = buf[start + 5];
      if (client === null) return Action.Swallow | Action.Notify;
      // Swallowed when it ends a failed try that pgmux runs again (lib/prepared/link): still owed.
      if (client.prepared !== null && (client.prepared.onServerResponse(type, buf, start, end, this) & Action.Swallow) !== 0) return Action.Swallow;
      this.readyPending = true;
      // Refused (statement mode, a transaction left open): what of this answer is not yet written
      // goes too, so the client sees only the refusal, as through PgBouncer, not BEGIN's tag first.
      if (!client.acceptsReady(this.txStatus)) return Action.Swallow | Action.Discard | Action.Notify;
      // Held (swallowed here, sent by the client later) until the other workers know its commit.
      return (client.holdsReady(this.txStatus) ? Action.Swallow : Action.Forward) | Action.Notify;
    }
    if (client !== null && type === BackendCode.ErrorResponse) {
      this.stats.metrics?.serverError(buf, start, end);
      return this.clientError(client, buf, start, end);
    }
    if (client !== null) return client.prepared !== null ? client.prepared.onServerResponse(type, buf, start, end, this) : Action.Forward;
    // An ErrorResponse while no client is linked: the server is telling us it is going away
    // (terminated, shut down). Drop it now, not at the socket's close a tick later, so that a
    // request arriving meanwhile is not handed a dying server.
    const fields = decodeErrorFields(buf, start, end);
    log.warn(`server sent an error while idle: ${fields.kind === 'invalid' ? fields.reason : fields.message}`, this);
    this.close('server sent an error while idle', false, true);
    return Action.Swallow;
  }

  private paramReported(name: string, value: string): void {
    if (this.params.get(name) !== value) this.syncedParams = null;
    this.params.set(name, value);
  }

  /** An error answering the linked client: the prepared-statement queue sees it, then the client may have it rewritten. */
  private clientError(client: ServerPeer, buf: Buffer, start: number, end: number): number {
    const verdict = client.prepared !== null ? client.prepared.onServerResponse(BackendCode.ErrorResponse, buf, start, end, this) : Action.Forward;
    if ((verdict & Action.Swallow) !== 0) return verdict;
    const rewritten = client.rewriteError(buf, start, end);
    if (rewritten === null) return verdict;
    this.rewritten = rewritten;
    return Action.Swallow | Action.Notify;
  }

  afterFrame(): boolean {
    const reader = this.internal.takeDone();
    if (reader !== null) {
      const linked = this.client !== null;
      const error = this.internal.takeError();
      reader.done(this, error);
      // An unlinked server's last internal query: the pool hears it is done, as below.
      if (linked || this.internal.pending > 0 || this.closed) return false;
      if (error !== null) {
        this.close('internal query failed', true);
        return false;
      }
      this.owner.serverReady(this);
      return false;
    }
    const client = this.client;
    if (client !== null) {
      const rewritten = this.rewritten;
      if (rewritten !== null) {
        this.rewritten = null;
        client.sendToClient(rewritten);
      }
      // Synthesized ParseComplete/CloseComplete that were waiting for this response go out now.
      const fakes = client.prepared?.takeFakes() ?? null;
      if (fakes !== null) client.sendToClient(fakes);
      if (this.readyPending) {
        this.readyPending = false;
        if (client.readyForQuery(this.txStatus)) this.releaseDue = true;
      }
      return false;
    }
    // An internal query of an unlinked server (reset or check) has finished.
    this.owner.serverReady(this);
    return false;
  }

  write(bytes: Buffer): void {
    const client = this.client;
    if (client === null) return;
    if (this.awaiting) {
      // The answer reaches the client: the request can never be sent again.
      this.awaiting = false;
      client.answerBegun();
    }
    const queued = client.forward(bytes);
    if (queued === 0) return;
    this.readKept = true;
    if (queued < 0) this.pause();
  }
}
