// Owns one client connection: its state, the welcome, what the server's answers mean for the
// client (owed ReadyForQuery, LISTEN answers, lost servers), and when the linked server may go
// back to its pool: readyForQuery decides, released() gives it back once the server's chunk has
// been relayed (never in the middle of it). What the client sends while linked is framed and
// looked at by client-requests.ts.
//
// States: startup -> auth -> welcome (waiting for the pool's server parameters) -> idle <->
// waiting (queued for a server) <-> active (linked) -> closed. `state` is written only by
// setState. A login to database "pgbouncer" goes startup -> auth -> console: an admin console
// session (lib/admin) gets its bytes instead of a pool.
// The packets before login are StartupPhase's (startup-phase.ts), who the client is is
// LoginAuth's (login-auth.ts), TLS is tls-upgrade.ts's. An idle client holds only what it needs
// to be idle: the request path and the prepared-statement link wait for its first request.

import { FrontendCode, TxStatus } from '../protocol/codes';
import { SYNC } from '../protocol/frontend';
import { QueuedInput } from './queued-input';
import type { ClientContext } from './client-context';
import { ClientRequests } from './client-requests';
import { clientLimits, frameRefusal } from './client-limits';
import { AUTHENTICATION_OK, errorResponse, READY_IDLE, welcomeFrames, type ErrorFields } from '../protocol/backend';
import * as refusals from '../protocol/refusals';
import { ADMIN_DATABASE } from '../config';
import { syncParams } from '../server/params';
import type { ServerConnection, ServerPeer } from '../server/server-connection';
import type { Pool, PoolClient } from '../pool/pool';
import { clock } from '../clock';
import type { LoginOutcome, LoginSubject } from './login-auth';
import { isSession, type ConsoleSession } from './console-gate';
import { DETACHED_STATS, RequestTiming, type PoolStats } from '../metrics/counters';
import { RequestTags } from '../metrics/observer';
import { PreparedLink } from '../prepared/link';
import { StartupPhase } from './startup-phase';
import type { SocketOwner } from './socket-events';
import { CLIENT_HIGH_WATER_MARK, remoteOf, type ClientSocket } from './client-socket';
import { NO_PARAMS, sessionParams } from './session-params';
import type { ClientRouter } from '../routing/router';
import { log, type LogSubject } from '../log';
import type { TlsClient } from './tls-upgrade';
import { UnansweredRequest } from './resend';
import { canceledWhileWaiting } from './cancel-waiting';
import type { ClientRules } from '../rules/client-rules';
import { ListenGlue, type ListenHost, type LocalAnswer } from '../session/listen-glue';
import { PinWatch } from './pin-watch';
import { replayFor, type SessionSettings } from '../session/settings';
import { carriedSettings, readSettingsBack, welcomeSettings } from './session-settings';
import type { SessionRoute } from '../routing/classify-types';
import { carriedStatements, internCarried, type CarriedSession } from './carried-session';

export type ClientState = 'startup' | 'auth' | 'welcome' | 'idle' | 'waiting' | 'active' | 'console' | 'closed';

let nextClientId = 1;

/** Before the welcome: no key (one shared object, not one per accepted connection). */
const NO_CANCEL_KEY = Object.freeze({ pid: 0, secret: 0 });

export class ClientConnection implements ServerPeer, PoolClient, LogSubject, LoginSubject, SocketOwner, TlsClient, ListenHost {
  readonly id = nextClientId++;
  state: ClientState = 'startup';
  /** When the current state was entered (clock.now), for the janitor's timeouts. */
  stateSince: number;
  readonly connectedAt: number;
  waitSince = 0;
  user = '';
  database = '';
  pool: Pool | null = null;
  /**
   * The pool the client is queued in or linked through now: `pool`, or a replica pool when
   * routed (lib/routing/router); null while idle or waiting for a replica to catch up.
   */
  private linkedPool: Pool | null = null;
  /** Read/write splitting state; null when the database has no replicas. */
  router: ClientRouter | null = null;
  /** Session state that keeps this client on its server (transaction/statement mode; lib/session/pins); null in session mode. */
  pinWatch: PinWatch | null = null;
  /** What the [rules] and the result cache do to this client's statements (lib/rules); made at its first request. */
  rules: ClientRules | null = null;
  server: ServerConnection | null = null;
  /**
   * Tracked session parameters as this client believes them to be. Clients welcomed with the
   * same values share one map until a value changes (./session-params).
   */
  params: ReadonlyMap<string, string> = NO_PARAMS;
  /** Every other session setting (SET, set_config, startup options) and the transaction's changes to them (lib/session/settings); null before the welcome. */
  settings: SessionSettings | null = null;
  /** Transaction or statement pooling: statements are watched for SET, which follows the client (lib/session/settings). */
  watchSets = false;
  cancelKey: { pid: number; secret: number } = NO_CANCEL_KEY;
  /** ReadyForQuery messages the server still owes for this client's Sync/Query/FunctionCall. */
  owed = 0;
  /** Messages sent since the last Sync or Query: the server is mid extended-protocol batch. */
  unsynced = 0;
  /**
   * When the request under way began: its first message (a Query, or the first extended-protocol
   * message after the last Sync) sent with nothing owed before it (query_timeout; PgBouncer's
   * query_start, which a batch never ended by Sync also starts).
   */
  requestSince = 0;
  /** When the last ReadyForQuery reached this client (idle_transaction_timeout). */
  readySince = 0;
  /** A server has answered this client (a ReadyForQuery), or it was carried here from another worker: its settings were applied before. */
  private served = false;
  closeReason = '';
  /** Named prepared statements across servers (transaction/statement mode); null = pass through. */
  prepared: PreparedLink | null = null;
  /**
   * Decided at login: this client's prepared statements are tracked (transaction/statement mode
   * and max_prepared_statements > 0). Its `prepared` link is made at its first request.
   */
  tracksPrepared = false;
  /** The admin console session, for a client of database "pgbouncer". */
  console: ConsoleSession | null = null;
  /** The pool's SHOW STATS counters (a throwaway set until the pool is known). */
  stats: PoolStats = DETACHED_STATS;
  /** When the running query and transaction began (SHOW STATS times, SHOW CLIENTS wait). */
  readonly timing = new RequestTiming();
  /** The statements of the running request, while metrics or the slow-query log are on; else null. */
  tags: RequestTags | null = null;
  /** PoolClient: nowUs() while queued (SHOW STATS wait_time), else 0. */
  waitStart = 0;
  /** The TLS session ("TLSv1.3/TLS_AES_256_GCM_SHA384") once the handshake is done, else ''. */
  tlsInfo = '';
  /** The connection (./client-socket); read by the admin console too (SHOW CLIENTS addresses, SUSPEND). */
  readonly socket: ClientSocket;

  /** The packets before login (states startup, auth, welcome); null from the welcome on. */
  private startup: StartupPhase | null;
  /** The client half of the forwarding path (./client-requests), made at the first request (an idle client never had one). */
  private requests: ClientRequests | null = null;
  /**
   * Accepted over max_client_conn or while shutting down: its StartupMessage gets this refusal
   * (lib/pgmux accept). Null for a client that counts.
   */
  turnedAway: ErrorFields | null;
  /** What the client sent while no server was linked. */
  private readonly queued = new QueuedInput();
  /**
   * The request since this server was linked, while no byte of its answer has come back: sent
   * again if the server dies unanswered in a way that proves it did not commit (./resend).
   */
  private readonly unanswered = new UnansweredRequest();
  /** The router's placement of the current request was a read-only statement. */
  private placedReadOnly = false;
  /**
   * LISTEN, UNLISTEN and pg_listening_channels() answered by pgmux in transaction and statement
   * pooling (lib/session/listen-glue); null in session pooling, where the server LISTENs itself.
   */
  listenGlue: ListenGlue | null = null;
  /** Chunks the client sent while its server reads back its settings (settingsReadBack), else null. */
  private heldForReadBack: Buffer[] | null = null;
  /**
   * Workers > 1: the server's ReadyForQuery 'I' ending a commit in a shared scope was swallowed
   * (holdsReady), and the client gets it once every other worker has recorded the commit
   * (commitShared); what the client sends meanwhile is held here. Null otherwise.
   */
  private heldForCommit: Buffer[] | null = null;
  /** holdsReady said yes for the ReadyForQuery being handled (readyForQuery reads it once). */
  private readyHeld = false;
  /** A request of the chunk being fed was answered by pgmux and ended the transaction: release after the chunk. */
  private releaseAfterFeed = false;

  /**
   * The peer as logs and rules name it (address:port, or unix), asked of the socket when first
   * needed: a getpeername per accepted connection was 3 % of pgmux's user CPU under pgbench -C,
   * and with log_connections off most clients never need it. Kept once known.
   */
  private remoteText: string | null;

  constructor(
    socket: ClientSocket,
    readonly ctx: ClientContext,
    remote: string | null = null,
    turnedAway: ErrorFields | null = null,
  ) {
    this.remoteText = remote;
    this.turnedAway = turnedAway;
    this.connectedAt = this.stateSince = clock.now;
    this.startup = new StartupPhase(this, ctx);
    this.socket = socket;
    socket.attach(this);
  }

  /** The peer (see remoteText). A TCP peer that can no longer be asked (reset, or closed here) reads '(disconnected)'. */
  get remote(): string {
    if (this.remoteText !== null) return this.remoteText;
    const peer = this.socket.remoteEnd();
    // No address: a unix-socket client, or a TCP peer that can no longer be asked.
    if (peer.address === undefined && (this.socket.destroyed || this.socket.localPort !== undefined)) return '(disconnected)';
    this.remoteText = remoteOf(peer);
    return this.remoteText;
  }

  logPrefix(): string {
    return `C-${this.id}: ${this.database || '(nodb)'}/${this.user || '(nouser)'}@${this.remote}`;
  }

  // ---- input ----

  /** SocketOwner: bytes from the client. */
  onData(chunk: Buffer): void {
    if (this.heldForCommit !== null) {
      // Copied: the chunk's buffer may be reused by the next read.
      this.heldForCommit.push(Buffer.from(chunk));
      return;
    }
    switch (this.state) {
      case 'startup':
      case 'auth':
      case 'welcome':
        (this.startup as StartupPhase).feed(chunk);
        return;
      case 'idle':
        if (chunk.length === 5 && chunk[0] === FrontendCode.Terminate && chunk.readInt32BE(1) === 4) {
          this.close('client close request');
          return;
        }
        if (this.requests === null) this.firstRequest();
        if (this.listenGlue !== null && this.listenGlue.idleChunk(chunk)) return;
        if (this.prepared !== null && this.answerParses(chunk)) return;
        this.queued.begin(chunk);
        if (this.timing.queryStart === 0) this.beginRequest();
        this.setState('waiting');
        this.waitSince = clock.now;
        if (this.rules === null || this.admitRequest()) this.requestServer();
        // Not linked at once: from here on what it sends is checked while it waits.
        if ((this.state as ClientState) === 'waiting') this.whileQueued(chunk);
        return;
      case 'waiting':
        this.queued.add(chunk);
        this.whileQueued(chunk);
        return;
      case 'active':
        if (this.heldForReadBack !== null) {
          // Copied: the chunk's buffer may be reused by the next read.
          this.heldForReadBack.push(Buffer.from(chunk));
          this.socket.pause();
          return;
        }
        if (this.listenGlue !== null && this.listenGlue.activeChunk(chunk, this.owed === 0 && this.atBoundary() && (this.prepared === null || this.prepared.pending === 0), (this.server as ServerConnection).txStatus)) return;
        if (this.unanswered.kept) this.unanswered.keep(chunk);
        this.feedRelay(chunk);
        return;
      case 'console':
        (this.console as ConsoleSession).feed(chunk);
        return;
      case 'closed':
        return;
    }
  }

  /**
   * A chunk a queued client sent: its headers are checked now (lib/protocol/limits), so a type no
   * client sends or a length PostgreSQL refuses ends the client at once; past pkt_buf bytes the
   * client is no longer read until it has a server (PgBouncer's packet buffer).
   */
  private whileQueued(chunk: Buffer): void {
    const err = this.queued.checkHeaders(chunk, clientLimits(this.ctx.settings));
    if (err !== null) this.fail(frameRefusal(err.type, err.reason, this.ctx.settings));
    else if (this.queued.full(this.ctx.settings.pkt_buf)) this.socket.pause();
  }

  /** What an idle client never needed until now: the request path, the prepared-statement link, its rules, pins and LISTEN glue. */
  private firstRequest(): void {
    this.requests = new ClientRequests(this, clientLimits(this.ctx.settings));
    const pool = this.pool as Pool;
    this.watchedPins();
    const hub = this.ctx.listenHubFor?.(pool) ?? null;
    if (hub !== null) this.listenGlue = new ListenGlue(hub, this);
    // Made before any message reaches a server, so its queue sees every request owed.
    if (this.tracksPrepared) this.prepared = new PreparedLink(this.ctx.statements, () => this.searchPath());
    // Always made (even with no rules loaded): a RELOAD that adds rules reaches this client too.
    this.rules = this.ctx.rulesFor?.(this, this.pool as Pool) ?? null;
    if (this.rules !== null && this.settings !== null && this.settings.values.values.size > 0) this.rules.sessionSettings();
  }

  /** The session's search_path as pgmux follows it ('' when the client set none): its statements are shared per value (lib/prepared/statements). */
  private searchPath(): string {
    return this.settings?.values.values.get('search_path') ?? this.params.get('search_path') ?? '';
  }

  /**
   * The session pins' watch, made when first needed: at the first request, or at login for a
   * routed client, whose router keeps its pins in the same account (lib/pool/registry routerFor).
   * Null in session pooling (or before login).
   */
  watchedPins(): PinWatch | null {
    const pool = this.pool;
    if (this.pinWatch === null && pool !== null && pool.settings.poolMode !== 'session') this.pinWatch = new PinWatch(pool.pins, this);
    return this.pinWatch;
  }

  /**
   * Parses of statements known to be good, then Sync or Flush, sent while no server is linked:
   * pgmux answers them itself (lib/prepared/unlinked-parse says why, and why it is safe), so a
   * client that prepares synchronously never waits for a server it does not need.
   */
  private answerParses(chunk: Buffer): boolean {
    const local = (this.prepared as PreparedLink).answerUnlinked(chunk, this.ctx.settings.max_packet_size);
    if (local === null) return false;
    const router = this.router;
    if (router !== null) for (let i = 0; i < local.names.length; i++) router.observe(local.statements[i].sql, local.names[i]);
    if (this.pinWatch !== null) for (let i = 0; i < local.names.length; i++) this.pinWatch.parsedUnlinked(local.names[i], local.statements[i].sql);
    const settings = this.settings;
    if (this.watchSets && settings !== null) for (let i = 0; i < local.names.length; i++) settings.observeText(local.statements[i].sql, local.names[i]);
    this.socket.write(local.answer);
    if (local.synced) this.readySince = clock.now;
    return true;
  }

  /**
   * Queues for a server of the pool the router picks for what the client sent (the primary's
   * when not routed). A read waiting for a replica to replay the client's write stays in
   * 'waiting' until the lag tracker's next poll calls reroute().
   */
  private requestServer(): void {
    let pool = this.pool as Pool;
    const router = this.router;
    this.placedReadOnly = false;
    if (router !== null) {
      const placed = router.place(this.queued.all, this.rules?.route ?? null);
      if (placed.kind === 'wait') {
        // Queued nowhere until the lag tracker's next poll decides again (reroute).
        this.linkedPool = null;
        return;
      }
      if (placed.kind === 'refuse') {
        this.fail({ severity: 'FATAL', code: '57P03', message: `pgmux: ${placed.reason}` });
        return;
      }
      pool = placed.pool;
      this.placedReadOnly = placed.readOnly;
      // A replica's answer may predate writes read_your_writes promises: the cache must know.
      if (!placed.primary) this.rules?.onReplica();
    }
    this.linkedPool = pool;
    pool.requestServer(this);
  }

  /**
   * The rules' word on the queued request before it is placed: go on (true), or it was
   * answered here (a cached answer, a denial, a rate refusal) or is held by a rate (false).
   */
  private admitRequest(): boolean {
    const admitted = (this.rules as ClientRules).admit(this.queued.all, clock.now);
    switch (admitted.kind) {
      case 'go':
        return true;
      case 'answer':
        this.queued.take();
        this.socket.write(admitted.bytes);
        this.timing.end(this.stats, true);
        this.setState('idle');
        this.socket.resume();
        return false;
      case 'hold':
        // Only a throttled request pays for a timer; the janitor's query_wait_timeout still applies.
        setTimeout(() => {
          if (this.state === 'waiting' && this.server === null && this.admitRequest()) this.requestServer();
        }, admitted.ms).unref();
        return false;
    }
  }

  /** RulesOrigin: the text of one of this client's named statements (for a Bind), when pgmux tracks them. */
  statementText(name: string): string | undefined {
    return this.prepared?.names.get(name)?.sql;
  }

  /**
   * A CancelRequest while the request waits for a server: answered 57014 here, since it never ran
   * (lib/client/cancel-waiting), and the session goes on. False when there is no such request.
   */
  cancelWaiting(): boolean {
    if (this.state !== 'waiting' || this.server !== null) return false;
    const answer = canceledWhileWaiting(this.queued.all);
    if (answer === null) return false;
    (this.linkedPool ?? this.pool)?.withdraw(this);
    this.queued.take();
    this.socket.write(answer);
    this.timing.end(this.stats, true);
    this.setState('idle');
    this.socket.resume();
    return true;
  }

  /** The janitor: the running statement passed a rule's statement_timeout; cancel it on its server. */
  cancelStatement(): void {
    this.ctx.cancel(this.cancelKey.pid, this.cancelKey.secret);
  }

  /** A routing wait ended or the chosen replica left rotation: decide again. */
  reroute(): void {
    if (this.state !== 'waiting') return;
    this.requestServer();
  }

  /**
   * SocketOwner: the client sent FIN. The listener allows half-open sockets so that a message
   * cut short by it can still be answered with an error; otherwise FIN ends the session.
   */
  onEnd(): void {
    if (this.state === 'startup' || this.state === 'auth' || this.state === 'welcome') {
      if ((this.startup as StartupPhase).cutShort()) {
        this.fail(refusals.partialStartupPacket());
        return;
      }
    } else if ((this.state === 'active' && !this.atBoundary()) || (this.state === 'waiting' && !this.queued.atBoundary())) {
      // Cut short while linked, or while it waited for a server (its headers were checked as they came: whileQueued).
      this.fail(refusals.protocolViolation('truncated message: the client closed the connection in the middle of a message'));
      return;
    }
    this.close('client close request');
  }

  /** SocketOwner: the client's socket can take more; so can the server's reads again. */
  onDrain(): void {
    this.server?.resume();
  }

  /** SocketOwner. */
  onError(err: Error): void {
    this.close(`client socket error: ${err.message}`);
  }

  /** SocketOwner. */
  onClose(): void {
    this.close('client close request');
  }

  /** Between messages: nothing of a started one is outstanding (true before the first request). */
  private atBoundary(): boolean {
    return this.requests === null || this.requests.atBoundary();
  }

  private feedRelay(chunk: Buffer): void {
    const err = (this.requests as ClientRequests).feed(chunk);
    if (err !== null) this.fail(frameRefusal(err.type, err.reason, this.ctx.settings));
    else if (this.releaseAfterFeed) this.releaseAnsweredHere();
  }

  // ---- login ----

  /**
   * The pool SHOW POOLS counts this logged-in client in: the one it is queued in or linked
   * through (a replica's when routed), else its own; null before login and for the console.
   */
  get countedIn(): Pool | null {
    return this.linkedPool ?? this.pool;
  }

  /** Whether the client is on TLS (hba hostssl/hostnossl). */
  get tls(): boolean {
    return this.tlsInfo !== '';
  }

  /** LoginSubject: still logging in. */
  get inAuth(): boolean {
    return this.state === 'auth';
  }

  /** StartupPhase: the login's outcome. Refuse, or welcome the client (to its pool, or to the console). */
  loggedIn(outcome: LoginOutcome): void {
    if (outcome.kind === 'refused') {
      this.fail(outcome.error);
      return;
    }
    const ack = outcome.final === null ? AUTHENTICATION_OK : Buffer.concat([outcome.final, AUTHENTICATION_OK]);
    if (this.database === ADMIN_DATABASE) {
      this.socket.write(ack);
      this.attachConsole();
      return;
    }
    const pool = outcome.pool as Pool;
    if (outcome.scramKeys !== null && pool.scramKeys === null) pool.scramKeys = outcome.scramKeys;
    this.joinPool(pool);
    this.setState('welcome');
    // Welcomed at once (the pool knows its server parameters): the ack goes out in the welcome's write.
    (this.startup as StartupPhase).loginAck = ack;
    pool.clientLoggedIn(this);
    // Not welcomed yet (the pool's first server is still logging in): the client hears now that it is in.
    this.flushLoginAck();
  }

  /** Writes the AuthenticationOk (after SASLFinal) that loggedIn kept for the welcome, when it is still kept. */
  private flushLoginAck(): void {
    const startup = this.startup;
    if (startup === null || startup.loginAck === null) return;
    const ack = startup.loginAck;
    startup.loginAck = null;
    this.socket.write(ack);
  }

  /** What a client of `pool` holds from its login on (a login here, or a session carried from another process). */
  private joinPool(pool: Pool): void {
    this.pool = pool;
    this.stats = pool.stats;
    this.tracksPrepared = pool.settings.poolMode !== 'session' && this.ctx.settings.max_prepared_statements > 0;
    // Settings are followed in transaction and statement pooling (in session pooling the server is the client's).
    this.watchSets = pool.settings.poolMode !== 'session';
    this.router = this.ctx.routerFor?.(this, pool) ?? null;
  }

  private attachConsole(): void {
    const startup = this.startup as StartupPhase;
    // The startup packet's map was made for this client alone.
    this.params = startup.params;
    const session = this.ctx.console.open(this);
    if (!isSession(session)) {
      this.fail(session);
      return;
    }
    this.console = session;
    this.setState('console');
    // Queries pipelined behind the password reach the session once the login frames are done.
    this.startup = null;
    for (const chunk of startup.end()) this.onData(chunk);
  }

  /** PoolClient: the pool knows its server parameters; send the welcome. */
  welcome(serverParams: ReadonlyMap<string, string>): void {
    if (this.state !== 'welcome') return;
    const startup = this.startup as StartupPhase;
    const welcome = sessionParams(serverParams, startup.params, this.ctx.tracked);
    this.params = welcome.params;
    this.settings = welcomeSettings(serverParams, startup.settings, startup.params, this.ctx.tracked);
    this.router?.startupSettings(this.settings.values.values.keys());
    this.cancelKey = this.ctx.assignCancelKey(this);
    this.socket.write(welcomeFrames(startup.loginAck, welcome.status, this.cancelKey.pid, this.cancelKey.secret));
    startup.loginAck = null;
    this.setState('idle');
    // What the client pipelined behind its login is its first request; the login's state goes.
    this.startup = null;
    for (const chunk of startup.end()) this.onData(chunk);
  }

  // ---- linked to a server ----

  /** PoolClient: a server is ours now. Bring its parameters in line, then send what waited. */
  link(server: ServerConnection): void {
    this.server = server;
    server.client = this;
    server.resume();
    // Skipped when this server was last brought in line with this very map (see syncedParams).
    const tracked = this.ctx.tracked;
    if (server.syncedParams !== this.params || server.syncedTracked !== tracked) {
      const sync = syncParams(this.params, server.params, tracked);
      if (sync !== null) server.replay(sync);
      server.syncedParams = this.params;
      server.syncedTracked = tracked;
    }
    const settings = this.settings;
    if (settings !== null) {
      const replay = replayFor(settings.values, server.settings);
      if (replay !== null) server.replay(replay, settings.values);
    }
    this.setState('active');
    const queued = this.queued.take();
    // Session pooling keeps a server for good: a lost one is a lost session.
    this.unanswered.begin(queued, this.placedReadOnly, (this.pool as Pool).settings.poolMode === 'session');
    if (this.unanswered.kept) server.awaitAnswer();
    for (const chunk of queued) {
      this.feedRelay(chunk);
      if (this.state !== 'active') break;
    }
    // What routing read of the batch when it placed it (observed as it went) is let go.
    this.router?.placedFed();
    if (this.state === 'active') this.socket.resume();
  }

  // ServerPeer (server -> client)

  sendToClient(bytes: Buffer): boolean {
    this.unanswered.answered();
    if (this.rules !== null && this.rules.capturing) this.rules.captured(bytes);
    return this.socket.forward(bytes) < CLIENT_HIGH_WATER_MARK;
  }

  forward(bytes: Buffer): number {
    if (this.rules !== null && this.rules.capturing) this.rules.captured(bytes);
    // Below the stream (./client-socket): what the kernel did not take is still pending.
    const pending = this.socket.forward(bytes);
    return pending < CLIENT_HIGH_WATER_MARK ? pending : -1;
  }

  /** ServerPeer: a server's ErrorResponse as the client should see it (a rule's error in place of its marker's), or null. */
  rewriteError(buf: Buffer, start: number, end: number): Buffer | null {
    this.listenGlue?.session?.errorSeen();
    const refusal = this.pinWatch?.rewriteError(buf, start, end) ?? null;
    if (refusal !== null) return refusal;
    return this.rules === null ? null : this.rules.rewriteError(buf, start, end);
  }

  parameterReported(name: string, value: string): boolean {
    const canonical = this.ctx.tracked.lookup(name);
    if (canonical === undefined) return false;
    // Usually the value the client already has (pgmux's sync of the server, reported at the
    // client's ReadyForQuery): no copy then, and the report is not the client's.
    if (this.params.get(canonical) === value) return true;
    // A new map, never a change in place: servers remember the map they were synced with (link).
    const own = new Map(this.params);
    own.set(canonical, value);
    this.params = own;
    return false;
  }

  /** ServerPeer: true when the server goes back to the pool once the chunk is relayed (released). */
  readyForQuery(status: number): boolean {
    this.served = true;
    if (this.owed > 0) this.owed--;
    // A held ReadyForQuery that turns out not to end the transaction here goes out in its place.
    const holding = this.readyHeld && this.owed === 0 && this.unsynced === 0 && this.server !== null && this.atBoundary();
    if (this.readyHeld && !holding) this.socket.write(READY_IDLE);
    this.readyHeld = false;
    this.listenGlue?.session?.ready(status);
    // LISTENs pipelined behind this request: pgmux's answers follow the server's.
    if (this.listenGlue !== null) {
      const due = this.listenGlue.serverReady(status);
      if (due !== null) {
        this.answeredHere(due);
        // answeredHere has settled the request; the release below is readyForQuery's own.
        this.releaseAfterFeed = false;
        status = due.status;
      }
    }
    this.rules?.ready(status, this.owed);
    if (this.owed === 0) this.unanswered.done();
    if (this.owed === 0 && this.timing.queryStart !== 0) {
      const timing = this.timing;
      timing.end(this.stats, status === TxStatus.Idle);
      this.tags?.ended(this, this.linkedPool ?? (this.pool as Pool), timing.lastQueryUs, timing.waitUs, timing.lastXactUs);
    }
    this.readySince = clock.now;
    const server = this.server;
    if (server === null) return false;
    if (!this.acceptsReady(status)) {
      this.fail(refusals.statementModeTransaction());
      return false;
    }
    if (this.owed > 0 || this.unsynced > 0 || !(this.requests as ClientRequests).atBoundary()) {
      this.pinWatch?.ready();
      return false;
    }
    if (holding) {
      this.heldForCommit = [];
      (this.router as ClientRouter).transactionEnded(this.commitShared);
    } else if (status === TxStatus.Idle) this.router?.transactionEnded();
    if ((this.pool as Pool).settings.poolMode === 'session') return false;
    if (status !== TxStatus.Idle) {
      this.pinWatch?.ready();
      return false;
    }
    // Session state that cannot move keeps the server (lib/session/pins); in doubt it is asked first.
    const kept = this.pinWatch !== null && this.pinWatch.keeps(server, this);
    // The transaction may have set something: learn what it left before the server goes. The
    // client has its ReadyForQuery already; the server stays linked until the answer is in, so
    // its next request cannot reach another server before its values are known.
    if (this.watchSets && (this.settings as SessionSettings).needsReadBack) {
      // A request sent before the answer waits for it, then is routed afresh (not run on this server just because it is still linked).
      if (!kept) this.heldForReadBack = [];
      readSettingsBack(this.settings as SessionSettings, server, this);
    } else if (!kept) return true;
    // Still linked between transactions (pinned, or reading back): notifications that came during the result go now.
    if (this.server !== null) this.listenGlue?.session?.flush();
    return false;
  }

  /**
   * ServerPeer: the chunk whose ReadyForQuery let the server go (readyForQuery said true) has
   * been relayed; it goes back now unless the client or the server moved on meanwhile.
   */
  released(server: ServerConnection): void {
    if (this.server !== server || !this.restingOnServer()) return;
    this.unlink(true);
  }

  /**
   * A pin check's or a settings read-back's answer is in: the server goes back unless the
   * other answer is still to come, the client still needs it, or it sent something meanwhile.
   * (PinWatch.keeps; a method, not a closure per client.)
   */
  releaseIfDone(server: ServerConnection): void {
    if (this.server !== server || !this.restingOnServer() || server.hasInternalPending() || this.keptByPins()) return;
    this.unlink(true);
  }

  /** Linked, between transactions (ReadyForQuery 'I'), nothing owed, no frame half-relayed. */
  private restingOnServer(): boolean {
    const server = this.server;
    return this.state === 'active' && server !== null && server.txStatus === TxStatus.Idle && this.owed === 0 && this.unsynced === 0 && this.atBoundary();
  }

  /** Session state that cannot move keeps the server (lib/session/pins), or is being checked. */
  private keptByPins(): boolean {
    const pins = this.pinWatch?.pins;
    return pins !== undefined && (pins.holdsServer || pins.checking);
  }

  /** readSettingsBack: the read-back is in (see releaseIfDone). */
  settingsReadBack(server: ServerConnection, error: ErrorFields | null): void {
    if (error !== null) log.warn(`reading back session settings failed: ${error.message}; closing that server`, this);
    this.releaseIfDone(server);
    const held = this.heldForReadBack;
    if (held === null) return;
    this.heldForReadBack = null;
    if (this.state === 'closed') return;
    this.socket.resume();
    for (const chunk of held) this.onData(chunk);
  }

  /**
   * ServerPeer: a replayed setting failed; the server skips this client's request, so the session
   * cannot go on. Before any server answered this client, the settings were its startup packet's.
   */
  settingsRefused(error: ErrorFields): void {
    this.fail(this.served ? refusals.settingNotRestored(error) : refusals.startupSettingRefused(error));
  }

  /**
   * ServerPeer: whether a ReadyForQuery with this status may reach the client. Statement mode
   * refuses an open transaction, and the refusal replaces that ReadyForQuery (as PgBouncer
   * drops it), so the client's BEGIN fails instead of seeming to succeed.
   */
  acceptsReady(status: number): boolean {
    return status === TxStatus.Idle || (this.pool as Pool).settings.poolMode !== 'statement';
  }

  /** ServerPeer: see heldForCommit. */
  holdsReady(status: number): boolean {
    const router = this.router;
    if (router === null || router.set.shared === null) return false;
    this.readyHeld = status === TxStatus.Idle && this.owed === 1 && this.unsynced === 0 && this.listenGlue?.answersPending !== true && router.sharesCommit;
    return this.readyHeld;
  }

  /** Every other worker has recorded the commit: the client gets its ReadyForQuery, then what it sent meanwhile is handled. */
  private readonly commitShared = (): void => {
    const held = this.heldForCommit;
    this.heldForCommit = null;
    if (held === null || this.state === 'closed') return;
    this.socket.write(READY_IDLE);
    for (const chunk of held) this.onData(chunk);
  };

  resumeClient(): void {
    if (this.state === 'active') this.socket.resume();
  }

  pauseClient(): void {
    this.socket.pause();
  }

  /** Gives the server back to the pool. */
  private unlink(clean: boolean): void {
    const server = this.server as ServerConnection;
    this.server = null;
    this.owed = 0;
    this.unsynced = 0;
    if (this.state === 'active') this.setState('idle');
    // Back to the pool it came from (a replica's, when routed).
    (this.linkedPool ?? (this.pool as Pool)).release(server, clean);
    this.linkedPool = null;
    if (this.state === 'idle') this.socket.resume();
  }

  /**
   * PoolClient: the server died under us. A request it never answered goes to another server
   * when that is safe (./resend); otherwise the client fails, as PostgreSQL would have closed the
   * session too.
   */
  serverLost(reason: string, lost: ServerConnection): void {
    this.server = null;
    if (this.pinWatch !== null && this.pinWatch.pins.holdsServer) {
      // Its temp tables, locks and cursors went with the server: the session cannot go on elsewhere.
      this.pinWatch.pins.clear();
      log.warn(`server connection lost while it held this client's session state: ${reason}`, this);
      this.fail(refusals.serverConnLost());
      return;
    }
    const loss = this.unanswered.lost(this.atBoundary());
    switch (loss.kind) {
      case 'check': {
        // 57P01 is also what pg_terminate_backend says, and a query an operator killed must not
        // come back: it goes again only if the host itself went away (lib/failover/backend wentAway).
        this.setState('waiting');
        this.waitSince = clock.now;
        this.queued.restore(loss.chunks, loss.bytes);
        lost.backend.wentAway(lost.run, (away) => {
          // Cancelled meanwhile (cancelWaiting), maybe with a new request waiting now: not this one.
          if (this.state !== 'waiting' || this.queued.all !== loss.chunks) return;
          if (!away) this.refuseWith(loss.refused, `server terminated the connection: ${reason}`);
          else this.resend(this.queued.take(), loss.bytes, `${reason}; the server shut down or restarted`);
        });
        return;
      }
      case 'resend':
        this.resend(loss.chunks, loss.bytes, reason);
        return;
      case 'fail':
        // The shutdown's words the client did not see yet, then the loss.
        if (loss.refused !== null) this.socket.write(loss.refused);
        log.warn(`server connection lost: ${reason}`, this);
        this.fail(refusals.serverConnLost(reason));
    }
  }

  /** Ends the session with an error frame the server sent (kept while pgmux decided what to do with it). */
  private refuseWith(frame: Buffer, reason: string): void {
    log.warn(reason, this);
    this.socket.write(frame);
    this.close(reason, true);
  }

  /** ServerPeer: the first frame of the answer (not a shutdown's refusal) came: the request can never be sent again. */
  answerBegun(): void {
    this.unanswered.answered();
  }

  /** ServerPeer: the server's first answer was its shutdown's word (`frame`, swallowed). */
  refusedByShutdown(frame: Buffer, fatal: boolean): void {
    this.unanswered.refusedByShutdown(frame, fatal);
  }

  /** Sends an unanswered request again, routed afresh (the lost host is avoided by the failover layer). */
  private resend(chunks: readonly Buffer[], bytes: number, reason: string): void {
    const attempt = this.unanswered.resent();
    log.info(`server connection lost before it answered (${reason}); sending the request again (try ${attempt})`, this);
    this.owed = 0;
    this.unsynced = 0;
    this.prepared?.reset();
    this.rules?.resent();
    this.requests = new ClientRequests(this, clientLimits(this.ctx.settings));
    this.queued.restore([...chunks], bytes);
    this.setState('waiting');
    this.waitSince = clock.now;
    this.requestServer();
  }

  // ---- answered by pgmux while linked; notifications (lib/session/listen-glue) ----

  /** A request pgmux answered itself while linked (a LISTEN in a transaction): as the server's ReadyForQuery would be. */
  /** Also ./client-requests', for a LISTEN it answers in the middle of a chunk. */
  answeredHere(answer: LocalAnswer): void {
    this.unanswered.answered();
    this.socket.write(answer.bytes);
    this.owed = Math.max(0, this.owed - answer.count);
    this.listenGlue?.session?.ready(answer.status);
    this.rules?.ready(answer.status, this.owed);
    this.readySince = clock.now;
    if (this.owed === 0) {
      this.unanswered.done();
      const timing = this.timing;
      if (timing.queryStart !== 0) {
        timing.end(this.stats, answer.status === TxStatus.Idle);
        this.tags?.ended(this, this.linkedPool ?? (this.pool as Pool), timing.lastQueryUs, timing.waitUs, timing.lastXactUs);
      }
    }
    // readyForQuery would release the server now; in the middle of the client's chunk it waits for its end.
    if (answer.status === TxStatus.Idle) this.releaseAfterFeed = true;
  }

  /** After a chunk in which pgmux answered a request outside a transaction: the server goes back if nothing is owed. */
  private releaseAnsweredHere(): void {
    this.releaseAfterFeed = false;
    if (!this.restingOnServer() || (this.pool as Pool).settings.poolMode === 'session') return;
    this.router?.transactionEnded();
    if (this.keptByPins()) return;
    this.unlink(true);
  }

  /** NotificationSink: idle between transactions, and no LISTEN answer pending. */
  get betweenMessages(): boolean {
    if (this.listenGlue?.waiting === true) return false;
    if (this.state === 'idle') return true;
    // A client that keeps its server (pinned) is between transactions at ReadyForQuery 'I' with nothing owed.
    return this.restingOnServer();
  }

  /** NotificationSink. */
  writeToClient(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** NotificationSink. */
  get unsentBytes(): number {
    return this.socket.writableLength;
  }

  /** ListenHost. */
  pauseReading(): void {
    this.socket.pause();
  }

  /** ListenHost. */
  resumeReading(): void {
    if (this.state === 'idle' || this.state === 'active') this.socket.resume();
  }

  /** ListenHost. */
  replay(chunk: Buffer): void {
    this.onData(chunk);
  }

  /** ListenHost. */
  get isClosed(): boolean {
    return this.state === 'closed';
  }

  /** ListenHost: an answer to the client's last frame, sent after the listener caught up (lib/session/listen-glue). */
  answerLinked(answer: LocalAnswer): void {
    if (this.state !== 'active') return;
    this.answeredHere(answer);
    if (this.releaseAfterFeed) this.releaseAnsweredHere();
  }

  /** ListenHost: through the request path like the client's own, so it is owed and counted as one. */
  sendSync(): void {
    if (this.state === 'active') this.feedRelay(SYNC);
  }

  /** ListenHost. */
  mayName(name: string): boolean {
    return this.prepared !== null && !this.prepared.names.has(name);
  }

  /** ListenHost: recorded as answerUnlinked records a Parse pgmux answered (lib/prepared). */
  nameStatement(name: string, sql: string): boolean {
    if (!this.mayName(name)) return false;
    const stmt = this.ctx.statements.intern(sql, []);
    stmt.uses++;
    (this.prepared as PreparedLink).names.set(name, stmt);
    return true;
  }

  // ---- ending ----

  /** Refuses the client with an ErrorResponse and closes it. */
  fail(error: ErrorFields): void {
    if (this.state === 'closed') return;
    const pool = this.linkedPool ?? this.pool;
    if (pool !== null) pool.stats.metrics?.pgmuxError(error.code);
    else this.ctx.observer?.loginError(error.code);
    if (this.ctx.settings.log_pooler_errors) log.warn(`pooler error: ${error.message}`, this);
    // Refused by its pool right after authenticating: the AuthenticationOk comes first, as it always did.
    this.flushLoginAck();
    if (error.severity === 'FATAL' || this.state !== 'active') {
      this.socket.write(errorResponse({ ...error, severity: 'FATAL' }));
      this.close(error.message, true);
      return;
    }
    this.socket.write(errorResponse(error));
  }

  /** Closes the socket (flushing what was written when `flush`) and gives back what it held. */
  close(reason: string, flush = false): void {
    if (this.state === 'closed') return;
    const wasState = this.state;
    this.state = 'closed';
    this.closeReason = reason;
    this.console?.closed();
    const server = this.server;
    const pool = this.pool;
    const linked = this.linkedPool ?? pool;
    // Held session state goes with the client: its server is reset before anyone else gets it.
    const pinned = this.pinWatch?.left() ?? false;
    if (server !== null && linked !== null) {
      this.server = null;
      // Reusable only between transactions with nothing in flight; otherwise its state is unknown.
      const clean = this.owed === 0 && this.unsynced === 0 && server.txStatus === TxStatus.Idle && this.atBoundary();
      linked.release(server, clean, pinned);
    }
    if (pool !== null) pool.clientGone(this);
    if (linked !== null && linked !== pool) linked.clientGone(this);
    this.router?.closed();
    this.rules?.closed();
    this.listenGlue?.leave();
    this.ctx.clientClosed(this);
    // A client that never sent a startup packet (a port probe, a cancel request) was never announced.
    if (this.ctx.settings.log_disconnections && (wasState !== 'startup' || this.user !== '') && reason !== HANDED_OVER) {
      log.info(`closing because: ${reason} (age=${Math.round((clock.now - this.connectedAt) / 1000)}s)`, this);
    }
    if (flush) {
      this.socket.end();
      // The peer's FIN must still be read for the socket to close (a paused socket never sees
      // it), and a peer that never sends one is not waited for: its fd is released regardless.
      this.socket.resume();
      setTimeout(destroySocket, CLOSE_GRACE_MS, this.socket).unref();
    } else this.socket.destroy();
  }

  /** A request begins: timed for SHOW STATS, and tagged while metrics or the slow-query log are on. */
  beginRequest(): void {
    this.timing.begin(this.stats);
    const observer = this.ctx.observer;
    if (observer !== undefined && observer.active !== (this.tags !== null)) this.tags = observer.active ? new RequestTags(observer) : null;
  }

  /** The only writer of `state` (StartupPhase moves a client into 'auth'). */
  setState(to: ClientState): void {
    this.state = to;
    this.stateSince = clock.now;
    // Notifications that came while it was busy go out once it is between transactions again.
    if (to === 'idle') {
      this.listenGlue?.session?.flush();
      this.ctx.wentIdle?.(this);
    }
  }

  // ---- handed between processes (a restart: lib/workers/handover) ----

  /**
   * Idle between transactions with nothing half-read, owed, held or unwritten: its session can
   * go to another process as it stands (carry), with its socket.
   */
  get atRest(): boolean {
    return (
      this.state === 'idle' &&
      this.heldForReadBack === null &&
      this.atBoundary() &&
      (this.prepared === null || this.prepared.pending === 0) &&
      this.listenGlue?.waiting !== true &&
      this.socket.writableLength === 0
    );
  }

  /** The session as another process adopts it (while atRest). */
  carry(): CarriedSession {
    const pool = this.pool as Pool;
    const keys = pool.scramKeys;
    return {
      user: this.user,
      database: this.database,
      params: [...this.params],
      reported: pool.serverParams === null ? [] : [...pool.serverParams.keys()],
      settings: this.settings === null ? [] : [...this.settings.values.values],
      statements: this.prepared === null ? [] : carriedStatements(this.prepared.names),
      listens: this.listenGlue?.carry() ?? null,
      cancelKey: { ...this.cancelKey },
      route: this.router === null ? null : { session: this.router.sessionRoute, key: this.router.sessionKey, writePending: this.router.writePending },
      scramKeys: keys === null ? null : { clientKey: keys.clientKey.toString('base64'), serverKey: keys.serverKey.toString('base64') },
    };
  }

  /** Its session and socket went to another process: everything here is let go, and nothing is said to the client. */
  handedOver(): void {
    this.close(HANDED_OVER);
  }

  /**
   * A session another process carried here, idle between transactions: it joins `pool` as a
   * logged-in client. Nothing is sent: it had its welcome, and keeps its key (`cancelKey`, which
   * the caller registers). Its prepared statements are prepared on servers here as they are used.
   */
  adopt(carried: CarriedSession, pool: Pool): void {
    this.served = true;
    this.user = carried.user;
    this.database = carried.database;
    this.startup = null;
    this.joinPool(pool);
    pool.clients.add(this);
    this.cancelKey = { ...carried.cancelKey };
    this.params = new Map(carried.params);
    const settings = carriedSettings(carried.settings, carried.reported, this.ctx.tracked);
    this.settings = settings;
    const router = this.router;
    if (router !== null) {
      router.startupSettings(settings.values.values.keys());
      if (carried.route !== null) {
        router.sessionRoute = carried.route.session as SessionRoute;
        router.sessionKey = carried.route.key;
        if (carried.route.writePending) router.carriedWrite();
      }
    }
    // What a first request would make (request path, prepared link, pins, LISTEN glue), made now when the session brings some of it.
    if ((this.tracksPrepared && carried.statements.length > 0) || carried.listens !== null) this.firstRequest();
    if (this.tracksPrepared && carried.statements.length > 0) {
      const names = (this.prepared as PreparedLink).names;
      // As a Parse pgmux answers without a server is recorded (answerParses).
      for (const s of carried.statements) {
        names.set(s.name, internCarried(this.ctx.statements.scoped(this.searchPath()), s));
        router?.observe(s.sql, s.name);
        this.pinWatch?.parsedUnlinked(s.name, s.sql);
        settings.observeText(s.sql, s.name);
      }
    }
    this.setState('idle');
    if (carried.listens !== null) this.listenGlue?.adopt(carried.listens);
  }
}

/** close()'s reason for a client handed to another process (not logged as a disconnection: it is not one). */
const HANDED_OVER = 'handed over to another process';

/** How long a refused client may take to read its ErrorResponse and close before its socket is destroyed. */
const CLOSE_GRACE_MS = 2000;

function destroySocket(socket: ClientSocket): void {
  socket.destroy();
}
