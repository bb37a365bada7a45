// Owns one pool: the servers of one (database, user) pair and the clients waiting for them.
// It is the only code that moves servers between states (moveServer) and the only code that
// links a client to a server.
//
// State is collection membership: a server is in exactly one of login/idle/active/used/tested.

import type { ErrorFields } from '../protocol/backend';
import type { DatabaseDef, PoolMode } from '../config';
import { ServerConnection, type ServerOwner, type ServerState } from '../server/server-connection';
import { readPostmasterStart } from '../server/postmaster-start';
import { failureKind, type Backend } from '../failover/backend';
import { SqlState } from '../protocol/codes';
import type { ServerCredential } from '../auth/server-login';
import * as refusals from '../protocol/refusals';
import { Fifo } from './fifo';
import { clock, nowUs } from '../clock';
import { log } from '../log';
import { SettingValues } from '../session/settings';
import { PoolStats } from '../metrics/counters';
import { PinCounts } from '../session/pins';

/** What the pool needs from a client. */
export interface PoolClient {
  readonly id: number;
  /** When the client joined the wait queue (clock.now). */
  waitSince: number;
  /** nowUs() when it was queued for a server or the welcome; 0 when not waiting (SHOW STATS wait_time). */
  waitStart: number;
  /** The running request's timing: the pool adds the time it waited (the slow-query log). */
  readonly timing: { waitUs: number };
  link(server: ServerConnection): void;
  /** Server parameters for the welcome are known now. */
  welcome(params: ReadonlyMap<string, string>): void;
  /** Refuse the client with this error and close it. */
  fail(error: ErrorFields): void;
  /** The linked server died under the client. */
  serverLost(reason: string, server: ServerConnection): void;
}

/** Settings in force for one pool; recomputed on RELOAD. */
export interface PoolSettings {
  poolMode: PoolMode;
  poolSize: number;
  minPoolSize: number;
  reservePool: number;
  reservePoolTimeout: number;
  serverResetQuery: string;
  serverResetQueryAlways: boolean;
  serverCheckQuery: string;
  serverCheckDelay: number;
  serverLifetime: number;
  serverIdleTimeout: number;
  serverLoginRetry: number;
  serverRoundRobin: boolean;
  queryWaitTimeout: number;
  unixSocketDir: string;
  /** max_prepared_statements: each server's statement cache bound (0: pass-through). */
  maxPreparedStatements: number;
}

/**
 * Where a pool's servers are: the database's primary (which the failover layer may be looking
 * for) or one replica host. lib/pool/registry.ts makes one per pool.
 */
export interface PoolTarget {
  /** The host new servers dial and linked clients use; null while a failover searches (requests wait). */
  backend(): Backend | null;
  /** The error requests get at once (no primary after failover_timeout); null otherwise. */
  refusal(): ErrorFields | null;
  /** Requests wait for a failover now: no fast fail on failing logins. */
  readonly holding: boolean;
  /** A request was queued while holding (counted for SHOW HOSTS and the metrics). */
  heldOne(): void;
  /** A server of `backend` closed under the pool or was refused: the failover layer looks at once. */
  trouble(backend: Backend): void;
  /**
   * While holding: server parameters another pool of the database learned from its primary, for
   * the welcome of a client whose pool has none yet (there is no primary to log in to); null if none.
   */
  borrowedParams(): ReadonlyMap<string, string> | null;
}

/** Limits shared between pools (max_db_connections, max_user_connections). */
export interface SharedLimits {
  canOpen(pool: Pool): boolean;
  opened(pool: Pool): void;
  closed(pool: Pool): void;
  /** A server of this pool closed or freed a slot: other pools of the db/user may launch. */
  slotFreed(pool: Pool): void;
}

export class Pool implements ServerOwner {
  /** Servers logging in. */
  readonly login = new Set<ServerConnection>();
  /** Servers ready for a client; the end of the array is the most recently used. */
  readonly idle: ServerConnection[] = [];
  /** Servers linked to a client. */
  readonly active = new Set<ServerConnection>();
  /** Released servers running server_reset_query. */
  readonly used = new Set<ServerConnection>();
  /** Idle servers running server_check_query before being handed out. */
  readonly tested = new Set<ServerConnection>();
  /** Of the used servers, those running connect_query (its failure does not close them). */
  private readonly connectQuerying = new Set<ServerConnection>();
  /** Logged-in clients waiting for a server, in arrival order. */
  readonly waiting = new Fifo<PoolClient>();
  /** Clients that passed authentication and wait for the first server's parameters. */
  readonly welcomeWaiting = new Set<PoolClient>();
  /**
   * All logged-in clients of this pool (its own, not those of a primary pool routed here for a
   * while: SHOW POOLS places each client by its state, lib/admin/rows).
   */
  readonly clients = new Set<PoolClient>();

  /** The first successful login's ParameterStatus set: every client's welcome. */
  serverParams: ReadonlyMap<string, string> | null = null;
  /** SCRAM keys of a client, for servers when the userlist holds only a SCRAM secret. */
  scramKeys: { clientKey: Buffer; serverKey: Buffer } | null = null;
  private lastLoginFailure = 0;
  /** True while closeAll ends the servers: a login pgmux cut short itself did not fail. */
  private closingAll = false;
  private lastLoginError: ErrorFields | null = null;
  /** Set by the admin console (PAUSE, KILL, SUSPEND; lib/admin/control.ts) and shutdown: hands out and opens nothing. */
  paused = false;
  /** Traffic counters for SHOW STATS (lib/metrics/counters.ts). */
  readonly stats = new PoolStats();
  /** Clients of this pool pinned by session state, by reason (SHOW PINS, max_pinned_clients_per_pool). */
  readonly pins = new PinCounts();
  /** `host:port` when this pool's servers are on a replica of db (lib/routing/router.ts); SHOW POOLS shows `db@host:port`. */
  replicaAddress: string | null = null;

  constructor(
    /** Its [databases] line; Registry.reload puts in the new one when a RELOAD changed it. */
    public db: DatabaseDef,
    /** The user clients logged in as (the pool's name in SHOW POOLS). */
    readonly user: string,
    /** The user pgmux logs in to the server as (db line user= overrides). */
    readonly serverUser: string,
    public settings: PoolSettings,
    private readonly credential: () => ServerCredential,
    private readonly limits: SharedLimits,
    /** Where its servers are (registry.ts); may be re-pointed by a failover. */
    public target: PoolTarget,
  ) {}

  get name(): string {
    return `${this.db.name}/${this.user}`;
  }

  /** Clients need a server now: queued for one, or waiting for the first login's welcome. */
  get hasWaiters(): boolean {
    return this.waiting.size > 0 || this.welcomeWaiting.size > 0;
  }

  get serverCount(): number {
    return this.login.size + this.idle.length + this.active.size + this.used.size + this.tested.size;
  }

  // ---- clients ----

  /** A client authenticated: welcome it now if the server parameters are known. */
  clientLoggedIn(client: PoolClient): void {
    this.clients.add(client);
    // PgBouncer's check_fast_fail: while logins fail and no server is up, refuse at once rather
    // than queue clients for a server that is not coming before server_login_retry has passed.
    const refusal = this.target.refusal();
    if (refusal !== null) {
      client.fail(refusal);
      return;
    }
    if (this.loginFailing()) {
      client.fail(refusals.serverLoginRetry());
      return;
    }
    // During a failover a new pool borrows another pool's parameters (lib/pool/database-hosts).
    const params = this.serverParams ?? (this.target.holding ? this.target.borrowedParams() : null);
    if (params !== null) {
      client.welcome(params);
      return;
    }
    this.welcomeWaiting.add(client);
    client.waitStart = nowUs();
    if (this.serverCount === 0) this.launch();
  }

  /** A client has a request and needs a server. */
  requestServer(client: PoolClient): void {
    const refusal = this.target.refusal();
    if (refusal !== null) {
      client.fail(refusal);
      return;
    }
    client.waitSince = clock.now;
    if (this.target.holding) this.target.heldOne();
    this.waiting.push(client);
    this.dispatch();
    // Still queued (not linked at once): from now on it waits, for wait_time and maxwait.
    if (this.waiting.size > 0) client.waitStart = nowUs();
  }

  /**
   * Its target has a new host, or the same one back (a failover ended): logins that failed
   * against the old one say nothing about it, so server_login_retry does not hold it back.
   */
  targetChanged(): void {
    this.lastLoginError = null;
    this.lastLoginFailure = 0;
  }

  /** Fails every client queued for a server or for the welcome with `error` (failover_timeout). */
  failWaiting(error: ErrorFields): void {
    const queued: PoolClient[] = [];
    while (this.waiting.size > 0) queued.push(this.waiting.shift() as PoolClient);
    for (const client of [...queued, ...this.welcomeWaiting]) client.fail(error);
    this.welcomeWaiting.clear();
  }

  /** A queued client's request was answered without a server (cancelled): it waits no more. */
  withdraw(client: PoolClient): void {
    this.waiting.remove(client);
  }

  /** A client left: forget it wherever it was waiting. */
  clientGone(client: PoolClient): void {
    this.clients.delete(client);
    this.welcomeWaiting.delete(client);
    this.waiting.remove(client);
  }

  /**
   * Unlinks a client from its server. `clean` means the server is between transactions and may
   * serve someone else; otherwise it is closed, since its session state is unknown. `pinned`:
   * its client left holding session state that cannot move (lib/session/pins): the server is
   * reset before anyone else gets it, whatever server_reset_query says.
   */
  release(server: ServerConnection, clean: boolean, pinned = false): void {
    server.client = null;
    server.lastUsed = clock.now;
    server.resume();
    if (server.isClosed()) return;
    if (!clean || server.closeOnRelease || this.pastLifetime(server)) {
      this.moveServer(server, 'used');
      server.close(clean ? 'server lifetime or reconnect' : 'client left mid-transaction', true);
      return;
    }
    if (pinned) {
      // DISCARD ALL releases advisory locks too; the unlock is said on its own all the same, so
      // that the locks go even if DISCARD ALL fails. Each runs alone (DISCARD ALL refuses a
      // multi-statement string), ahead of anything else.
      server.statements.clear();
      this.moveServer(server, 'used');
      server.runInternal('SELECT pg_catalog.pg_advisory_unlock_all()');
      server.runInternal('DISCARD ALL');
      return;
    }
    const s = this.settings;
    const reset = s.poolMode === 'session' || s.serverResetQueryAlways ? s.serverResetQuery : '';
    if (reset !== '') {
      // DISCARD ALL drops pgmux's prepared statements on that server too.
      if (/\b(discard|deallocate)\s+all\b/i.test(reset)) server.statements.clear();
      // What clients SET on it is gone too (lib/session/settings).
      if (/\b(discard|reset)\s+all\b/i.test(reset)) server.settings = SettingValues.EMPTY;
      this.moveServer(server, 'used');
      server.runInternal(reset);
      return;
    }
    if (server.hasInternalPending()) {
      // Reading back what its last client's transaction set (lib/session/settings): idle once answered.
      this.moveServer(server, 'used');
      return;
    }
    this.moveServer(server, 'idle');
    this.dispatch();
  }

  // ---- ServerOwner ----

  serverReady(server: ServerConnection): void {
    if (server.state === 'login') {
      this.stats.metrics?.connect.observe(nowUs() - server.openedUs);
      this.lastLoginError = null;
      server.run = server.backend.serverLoggedIn();
      // The first server of a run of the host's postmaster reads when it started: pipelined
      // ahead of whatever it serves first, so nobody waits and no other server is opened.
      if (server.run.claimLearning()) readPostmasterStart(server, server.run);
      if (this.db.connectQuery) {
        // connect_query runs once per server, before any client sees it; what it SETs is part
        // of the welcome (PgBouncer waits for it too), else clients' syncs would undo it.
        this.moveServer(server, 'used');
        this.connectQuerying.add(server);
        server.runInternal(this.db.connectQuery);
        return;
      }
      this.welcomeClients(server);
    } else if (server.state !== 'used' && server.state !== 'tested') {
      return; // a stray ReadyForQuery of an idle server
    } else {
      const err = server.takeInternalError();
      if (err !== null && this.connectQuerying.delete(server)) {
        // As PgBouncer ("error while executing exec_on_query"): the login worked, the server
        // serves. Closing it would only open the next one into the same error, again and again.
        log.warn(`connect_query failed: ${err.message}; using the server anyway`, server);
      } else if (err !== null) {
        log.warn(`internal query failed: ${err.message}; closing server`, server);
        server.close('internal query failed', true);
        return;
      }
      this.connectQuerying.delete(server);
      // Just checked: good for another server_check_delay, else takeIdle would check it forever.
      if (server.state === 'tested') server.lastUsed = clock.now;
      // The first connect_query done (no reset or check runs before a welcome).
      if (this.serverParams === null) this.welcomeClients(server);
    }
    // RECONNECT tagged it while it logged in or ran a reset/check: it may not serve again.
    if (server.closeOnRelease) {
      server.close('close_needed', true);
      return;
    }
    this.moveServer(server, 'idle');
    this.dispatch();
  }

  /** The first server ready: its parameters are every client's welcome from now on. */
  private welcomeClients(server: ServerConnection): void {
    if (this.serverParams === null) this.serverParams = new Map(server.params);
    for (const client of this.welcomeWaiting) {
      this.chargeWait(client);
      client.welcome(this.serverParams);
    }
    this.welcomeWaiting.clear();
  }

  serverLoginFailed(server: ServerConnection, error: ErrorFields): void {
    this.lastLoginFailure = clock.now;
    this.lastLoginError = error;
    log.warn(`server login failed: ${error.message}`, server);
    // 57P03 (starting up, shutting down, in recovery) passes, and a full host (53300) is up;
    // anything else (a bad password, a missing role) would fail again the same way.
    server.backend.serverFailed(error.code === SqlState.ConnectionFailure ? 'network' : failureKind(error), error.message);
    this.target.trouble(server.backend);
    // While a failover holds requests, clients waiting for the welcome wait on with them.
    if (this.target.holding) return;
    // Clients that wait only for the welcome learn the server's own words (PgBouncer does this).
    for (const client of this.welcomeWaiting) client.fail(refusals.serverLoginFailed(error));
    this.welcomeWaiting.clear();
  }

  serverClosed(server: ServerConnection, reason: string, byServer: boolean): void {
    this.connectQuerying.delete(server);
    const was = this.stateSetRemove(server);
    if (was === null) return;
    if (server.run !== null) server.backend.serverEnded(server.run, byServer);
    if (byServer) {
      // Refused, reset, shut down (57P01 while idle): the host's probe checks now.
      if (was === 'login') server.backend.serverFailed('network', reason);
      // Its idle siblings may be dying too (a shutdown ends every connection at once): none is
      // handed out until the probe has answered.
      else if (was !== 'active') server.backend.suspectDown(() => this.dispatch());
      this.target.trouble(server.backend);
    }
    if (was === 'login' && !this.closingAll) {
      // Gone before login finished (refused, dropped, timed out): a failed login too, so
      // server_login_retry spaces out the next attempt instead of a reconnect loop.
      this.lastLoginFailure = clock.now;
      this.lastLoginError ??= refusals.serverConnLost();
    }
    server.statements.clear();
    this.limits.closed(this);
    if (was === 'active' && server.client !== null) {
      const client = server.client as unknown as PoolClient;
      server.client = null;
      client.serverLost(reason, server);
    }
    log.debug(`closing server: ${reason}`, server);
    this.limits.slotFreed(this);
    this.dispatch();
  }

  serverReadOnly(server: ServerConnection): void {
    server.backend.serverFailed('recovery', 'a write was refused as read-only (25006)');
    this.target.trouble(server.backend);
  }

  // ---- handing out servers ----

  /** Links waiting clients to idle servers and opens servers for the rest, within limits. */
  dispatch(): void {
    if (this.paused) return;
    // A failover is looking for the primary, or the host is suspect: requests wait in the
    // queue, not on a lost host.
    const backend = this.target.backend();
    if (backend === null || backend.suspect) return;
    while (this.waiting.size > 0) {
      const server = this.takeIdle(backend);
      if (server === null) break;
      const client = this.waiting.shift() as PoolClient;
      this.moveServer(server, 'active');
      server.lastUsed = clock.now;
      this.chargeWait(client);
      client.link(server);
    }
    const wanted = this.waiting.size + this.welcomeWaiting.size - this.login.size;
    for (let i = 0; i < wanted; i++) if (!this.launch()) break;
  }

  /** Opens one server if limits allow. Returns false when it may not. */
  launch(reserve = false): boolean {
    // PAUSE, KILL, SUSPEND or shutdown: no new servers until RESUME.
    if (this.paused) return false;
    const s = this.settings;
    const cap = s.poolSize + (reserve ? s.reservePool : 0);
    if (this.serverCount >= cap) return false;
    if (!this.limits.canOpen(this)) return false;
    if (this.lastLoginError !== null && clock.now - this.lastLoginFailure < s.serverLoginRetry * 1000 && !this.target.holding) return false;
    const backend = this.target.backend();
    // No primary now (held), or the host's circuit breaker is open: its probe decides when to try.
    if (backend === null || !backend.dialable) return false;
    const startup: Record<string, string> = { user: this.serverUser, database: this.db.dbname };
    const db = this.db;
    if (db.clientEncoding) startup.client_encoding = db.clientEncoding;
    if (db.datestyle) startup.datestyle = db.datestyle;
    if (db.timezone) startup.timezone = db.timezone;
    if (db.applicationName) startup.application_name = db.applicationName;
    const server = new ServerConnection(
      this,
      backend,
      startup,
      this.credential(),
      `${db.name}/${this.serverUser}`,
      clock.now,
      s.maxPreparedStatements,
    );
    server.stats = this.stats;
    this.login.add(server);
    this.limits.opened(this);
    log.debug('new connection to server', server);
    return true;
  }

  /** The next idle server on `backend` to hand out, after a health check if it has been idle long. */
  private takeIdle(backend: Backend): ServerConnection | null {
    const s = this.settings;
    while (this.idle.length > 0) {
      const server = s.serverRoundRobin ? this.idle[0] : this.idle[this.idle.length - 1];
      if (server.backend !== backend) {
        // Left from before a failover (or a RELOAD's new host): never serves again.
        server.close('the primary moved to another host', true);
        continue;
      }
      const idleFor = clock.now - server.lastUsed;
      if (s.serverCheckQuery !== '' && s.serverCheckDelay >= 0 && idleFor > s.serverCheckDelay * 1000) {
        // Checked first; it comes back through serverReady and is handed out then.
        this.moveServer(server, 'tested');
        server.runInternal(s.serverCheckQuery);
        continue;
      }
      return server;
    }
    return null;
  }

  /**
   * Adds a client's time in the queue to wait_time (SHOW STATS) once it got what it waited for;
   * the wait histogram also counts those that waited not at all (an idle server was there).
   */
  private chargeWait(client: PoolClient): void {
    const metrics = this.stats.metrics;
    if (client.waitStart === 0) {
      metrics?.wait.observe(0);
      return;
    }
    const waited = nowUs() - client.waitStart;
    this.stats.waitTime += waited;
    client.timing.waitUs += waited;
    metrics?.wait.observe(waited);
    client.waitStart = 0;
  }

  /** Logins have been failing, no server is up, and server_login_retry has not passed yet. */
  private loginFailing(): boolean {
    if (this.target.holding) return false;
    if (this.lastLoginError === null || this.serverCount > this.login.size) return false;
    return clock.now - this.lastLoginFailure < this.settings.serverLoginRetry * 1000;
  }

  private pastLifetime(server: ServerConnection): boolean {
    const life = this.settings.serverLifetime;
    return life > 0 && clock.now - server.connectedAt > life * 1000;
  }

  /** The only writer of server.state. Throws on a move that cannot happen. */
  moveServer(server: ServerConnection, to: ServerState): void {
    const from = server.state;
    if (from === 'closed') throw new Error(`moveServer: S-${server.id} is closed, cannot become ${to}`);
    this.removeFrom(server, from);
    server.state = to;
    switch (to) {
      case 'idle':
        this.idle.push(server);
        break;
      case 'active':
        this.active.add(server);
        break;
      case 'used':
        this.used.add(server);
        break;
      case 'tested':
        this.tested.add(server);
        break;
      case 'login':
        this.login.add(server);
        break;
      case 'closed':
        break;
    }
  }

  /** Removes a server from the set of the state it is in (moveServer: twice per transaction). */
  private removeFrom(server: ServerConnection, state: ServerState): void {
    switch (state) {
      case 'idle': {
        // takeIdle hands out the newest idle server, the last one, unless server_round_robin.
        const last = this.idle.length - 1;
        if (last >= 0 && this.idle[last] === server) this.idle.pop();
        else {
          const i = this.idle.indexOf(server);
          if (i >= 0) this.idle.splice(i, 1);
        }
        return;
      }
      case 'active':
        this.active.delete(server);
        return;
      case 'used':
        this.used.delete(server);
        return;
      case 'tested':
        this.tested.delete(server);
        return;
      case 'login':
        this.login.delete(server);
        return;
      case 'closed':
        return;
    }
  }

  /** Removes a server from whichever set holds it; returns the state it had, or null. */
  private stateSetRemove(server: ServerConnection): ServerState | null {
    if (this.login.delete(server)) return 'login';
    if (this.active.delete(server)) return 'active';
    if (this.used.delete(server)) return 'used';
    if (this.tested.delete(server)) return 'tested';
    const i = this.idle.lastIndexOf(server);
    if (i >= 0) {
      this.idle.splice(i, 1);
      return 'idle';
    }
    return null;
  }

  /** Closes every server (KILL, shutdown). */
  closeAll(reason: string): void {
    this.closingAll = true;
    try {
      for (const s of [...this.login, ...this.idle, ...this.active, ...this.used, ...this.tested]) s.close(reason, true);
    } finally {
      this.closingAll = false;
    }
  }
}
