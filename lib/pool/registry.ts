// Owns the objects pgmux knows about (PgBouncer's objects.c): databases as configured, pools by
// (database, user), logged-in clients, cancel keys, and the limits shared between pools.

import { resolveDatabase, type Config, type DatabaseDef, type Settings } from '../config';
import type { Secret } from '../auth/secret';
import { HBA_AUTH_TYPE, matchHba, type HbaLogin, type HbaTable } from '../auth/hba';
import { issuedSecret, newCancelKey, SINGLE_PROCESS, type CancelKey, type KeyIssuer } from '../auth/cancel-key';
import { AuthQueryCache, type AuthQueryResult, type AuthQueryTarget } from '../auth/auth-query';
import type { ErrorFields } from '../protocol/backend';
import { cancelRequest } from '../protocol/frontend';
import * as refusals from '../protocol/refusals';
import { TrackedParams } from '../server/params';
import type { ServerCredential } from '../auth/server-login';
import type { ServerConnection } from '../server/server-connection';
import type { ClientConnection } from '../client/client-connection';
import type { ClientContext } from '../client/client-context';
import { StatementRegistry } from '../prepared/statements';
import { Pool, type PoolSettings, type SharedLimits } from './pool';
import { log } from '../log';
import { CLOSED_CONSOLE, type ConsoleGate } from '../client/console-gate';
import { ClientRouter, ReplicaSet, type CommitShare } from '../routing/router';
import type { MonitorLogin } from '../routing/monitor';
import type { Backend } from '../failover/backend';
import { DatabaseHosts, type HostsOwner } from './database-hosts';
import { RulesEngine } from '../rules/engine';
import { ClientRules } from '../rules/client-rules';
import { IntegerLiterals, literalsElided, normalizedText } from '../routing/classify';
import type { Connect } from '../connect';
import { RulesDatabases, type RulesDatabasesOwner } from './rules-databases';
import { QueryObserver } from '../metrics/observer';
import type { ChannelHub, Notifications } from '../session/channels';
import { ClientPins } from '../session/pins';

export class Registry implements ClientContext, SharedLimits, HostsOwner, RulesDatabasesOwner {
  readonly pools = new Map<string, Pool>();
  readonly clients = new Set<ClientConnection>();
  /**
   * Clients accepted over max_client_conn or while shutting down: their first packets are
   * answered, their StartupMessage refused (ClientConnection.turnedAway). Not in `clients`: they
   * count toward no limit and show in no SHOW; the janitor closes them after TURNED_AWAY_MS.
   */
  readonly turnedAway = new Set<ClientConnection>();
  /** Logged-in clients by their cancel key's secret. */
  private readonly cancelKeys = new Map<number, ClientConnection>();
  /** What goes into the cancel keys this process issues (peer_id, worker); pgmux.ts sets it. */
  keyIssuer: KeyIssuer = SINGLE_PROCESS;
  /**
   * With workers or [peers]: sends a cancel whose key another worker or pgmux issued there and
   * says true; false for a key of this process. Null: every key is this process's.
   */
  cancelElsewhere: ((pid: number, secret: number) => boolean) | null = null;
  /** Workers > 1: commits in the user, database and key scopes are made known to the other workers (set by lib/workers). */
  commitShare: CommitShare | null = null;
  /** ClientContext: told of every client that goes idle while a restart hands clients over (lib/workers/handover). */
  wentIdle: ((client: ClientConnection) => void) | null = null;
  private readonly serversPerDb = new Map<string, number>();
  private readonly serversPerUser = new Map<string, number>();
  tracked: TrackedParams;
  /** Prepared statements by text, shared by every client and server. */
  readonly statements = new StatementRegistry();
  /** The admin console (database "pgbouncer"); pgmux.ts opens it. */
  console: ConsoleGate = CLOSED_CONSOLE;
  /** PAUSE or SUSPEND of everything (lib/admin/control.ts). */
  pausedAll = false;
  /** Databases paused by PAUSE db or KILL db: their pools hand out and open no server. */
  readonly pausedDbs = new Set<string>();
  /** Databases DISABLEd: new logins to them are refused. */
  readonly disabledDbs = new Set<string>();
  /** auth_hba_file's rules when auth_type = hba (pgmux.ts loads them at start and RELOAD). */
  hba: HbaTable | null = null;
  /** auth_query answers, briefly cached. */
  readonly authQuery = new AuthQueryCache();
  /**
   * Secrets auth_query found, by database and user: the pool of such a user logs in to the
   * server with the latest one. Only users the server knows get here, so it stays bounded.
   */
  private readonly queriedSecrets = new Map<string, Secret>();
  /** Read/write splitting: the replica set of each database with several hosts, made at its first login. */
  readonly replicaSets = new Map<string, ReplicaSet>();
  /** Every database's hosts, primary and failover state (lib/failover through ./database-hosts). */
  readonly hosts: DatabaseHosts;
  /** The [rules], the rate buckets and the result cache (lib/rules). */
  readonly rules: RulesEngine;
  /** Each database as the rules see it (classifier, cache catalog). */
  private readonly rulesDatabases: RulesDatabases;
  /** Databases made from the '*' line whose pools hold no client and no server, and since when (clock.now). */
  private readonly autodbIdleSince = new Map<string, number>();
  /** Per-request metrics and the slow-query log; pgmux.ts turns them on. */
  readonly observer = new QueryObserver();
  /** LISTEN/NOTIFY in transaction and statement pooling: the listener hubs (pgmux.ts makes them). */
  notifications: Notifications | null = null;

  constructor(
    public config: Config,
    public secrets: ReadonlyMap<string, Secret>,
  ) {
    this.tracked = new TrackedParams(config.settings.track_extra_parameters);
    this.hosts = new DatabaseHosts(this);
    this.rules = new RulesEngine(config.rules ?? [], config.settings, { elided: literalsElided, normalized: normalizedText, lastText: () => new IntegerLiterals() });
    this.rulesDatabases = new RulesDatabases(this);
  }

  /**
   * Starts probing the hosts of every configured database, and resolves once each has answered
   * (or failed, or `timeoutMs` passed), so the first client finds roles and replica positions known.
   */
  async startHosts(timeoutMs: number): Promise<void> {
    for (const db of this.config.databases.values()) if (db.name !== '*') this.hosts.topology(db);
    this.hosts.start();
    await this.hosts.firstProbes(timeoutMs);
  }

  get settings(): Settings {
    return this.config.settings;
  }

  /** Applies a reloaded config to running pools (sizes, modes, timeouts). */
  reload(config: Config, secrets: ReadonlyMap<string, Secret>): void {
    this.config = config;
    this.secrets = secrets;
    this.tracked = new TrackedParams(config.settings.track_extra_parameters);
    this.authQuery.clear();
    // Connected clients take the new rules at their next statement.
    this.rules.reload(config.rules ?? []);
    this.rulesDatabases.reload();
    // A database whose line changed gets a new replica set at its next login; clients of the old
    // one use the primary until they reconnect (router.ts).
    for (const [name, set] of this.replicaSets) {
      const db = this.databaseDef(name);
      if (db !== undefined && JSON.stringify({ ...db, source: '' }) === JSON.stringify({ ...set.db, source: '' }) && !routingSettingsChanged(set, config)) {
        // Functions may have been created, dropped or altered since: look their volatility up again.
        set.volatility.refresh();
        continue;
      }
      set.stop();
      this.replicaSets.delete(name);
    }
    this.hosts.reload([...this.hosts.topologies.keys()].map((name) => this.databaseDef(name)).filter((db): db is DatabaseDef => db !== undefined), config.settings);
    for (const pool of this.pools.values()) {
      const db = this.databaseDef(pool.db.name) ?? pool.db;
      // A replica's pool keeps its own address; the rest of the line is the primary's.
      const next = pool.replicaAddress === null ? db : { ...db, host: pool.db.host, port: pool.db.port };
      const dirty = serverTargetChanged(pool.db, next);
      // New servers log in with the new line (before the retired ones close and make room).
      pool.db = next;
      pool.settings = this.poolSettings(db, pool.user);
      if (dirty) {
        log.info(`${pool.name}: database line changed, its server connections close as they become idle`);
        this.retireServers(pool, 'database changed: obsolete connection');
      }
      pool.dispatch();
    }
  }

  /**
   * PgBouncer's tag_database_dirty for one pool (RELOAD of a changed line, RECONNECT): every
   * server is marked close_needed, so it closes instead of serving again; idle ones close now,
   * the others when released, so a transaction running on one finishes there first.
   */
  retireServers(pool: Pool, reason: string): void {
    for (const server of [...pool.login, ...pool.idle, ...pool.active, ...pool.used, ...pool.tested]) server.closeOnRelease = true;
    for (const server of [...pool.idle]) server.close(reason, true);
  }

  /** HostsOwner: after a failover, servers of the old primary never serve again. */
  /** HostsOwner: a frozen old primary would keep its listener connections silent for ever. */
  listenersLeft(host: Backend, reason: string): void {
    this.notifications?.hostLeft(host.dialer.connect, reason);
  }

  retireServersNotOn(pool: Pool, keep: Backend, reason: string): void {
    for (const server of [...pool.login, ...pool.idle, ...pool.active, ...pool.used, ...pool.tested]) if (server.backend !== keep) server.closeOnRelease = true;
    for (const server of [...pool.idle]) if (server.backend !== keep) server.close(reason, true);
  }

  /**
   * HostsOwner: who the health probes of `db` log in as: the line's forced user, else auth_user,
   * else the user of a pool of the database, else the first auth_file user whose secret can log
   * in without a client (plain or md5); null when none can yet.
   */
  probeLogin(db: DatabaseDef): MonitorLogin | null {
    // A SCRAM verifier alone cannot log in: only with the keys a client's proof gave (a pool's).
    const usable = (c: ServerCredential): boolean => c.kind !== 'none' && !(c.kind === 'secret' && c.secret.kind === 'scram');
    const as = (user: string, credential: ServerCredential): MonitorLogin | null =>
      usable(credential) ? { user, database: db.dbname === '*' ? db.name : db.dbname, credential } : null;
    if (db.user !== undefined) return as(db.user, this.credential(db, db.user, null));
    const authUser = db.authUser ?? this.settings.auth_user;
    if (authUser !== '') {
      const found = as(authUser, this.credential(db, authUser, null));
      if (found !== null) return found;
    }
    for (const pool of this.pools.values()) {
      if (pool.db.name !== db.name || pool.replicaAddress !== null) continue;
      const found = as(pool.serverUser, this.credential(pool.db, pool.serverUser, pool));
      if (found !== null) return found;
    }
    for (const [user, secret] of this.secrets) if (secret.kind === 'plain' || secret.kind === 'md5') return as(user, { kind: 'secret', secret });
    return null;
  }

  isPaused(db: string): boolean {
    return this.pausedAll || this.pausedDbs.has(db);
  }

  /** After PAUSE/RESUME/KILL/SUSPEND: every pool takes its flag; a resumed pool serves its queue. */
  applyPause(): void {
    for (const pool of this.pools.values()) {
      const paused = this.isPaused(pool.db.name);
      if (pool.paused === paused) continue;
      pool.paused = paused;
      if (!paused) pool.dispatch();
    }
  }

  // ---- ClientContext ----

  /** Why a login to this database is refused (unknown, disabled), or null. */
  private databaseRefusal(database: string): ErrorFields | null {
    const db = this.databaseDef(database);
    if (db === undefined) return refusals.noSuchDatabase(database);
    if (this.disabledDbs.has(db.name)) return refusals.databaseDisabled(db.name);
    return null;
  }

  findPool(database: string, user: string): Pool | ErrorFields {
    const db = this.databaseDef(database);
    if (db === undefined || this.disabledDbs.has(db.name)) return this.databaseRefusal(database) as ErrorFields;
    const serverUser = db.user ?? user;
    // A forced user (user= on the db line) means one pool for the whole database, as PgBouncer.
    const key = `${db.name}\u0000${serverUser}`;
    let pool = this.pools.get(key);
    if (pool === undefined) {
      // pool.db, not db: a RELOAD may give the pool a new line (and password) later.
      pool = new Pool(db, serverUser, serverUser, this.poolSettings(db, user), () => this.credential((pool as Pool).db, serverUser, pool as Pool), this, this.hosts.primaryTarget(db));
      pool.paused = this.isPaused(db.name);
      this.observer.attach(pool.stats);
      this.pools.set(key, pool);
    }
    return pool;
  }

  /**
   * A router for a client of `pool` when its database has replicas. Session pooling keeps a
   * client on one server for good, so only a read-only alias (route=replica) is routed there:
   * it takes a replica for the session.
   */
  routerFor(client: ClientConnection, pool: Pool): ClientRouter | null {
    const db = pool.db;
    const topology = this.hosts.topology(db);
    if (topology.backends.length < 2) return null;
    if (pool.settings.poolMode === 'session' && db.route !== 'replica') return null;
    let set = this.replicaSets.get(db.name);
    if (set === undefined) {
      const serverUser = pool.serverUser;
      set = new ReplicaSet(db, this.settings, this.hosts.feed(db), () => ({ user: serverUser, database: db.dbname, credential: this.credential(db, serverUser, pool) }), this.commitShare);
      this.replicaSets.set(db.name, set);
    }
    const replicaSet = set;
    const pins = client.watchedPins()?.pins ?? new ClientPins([]);
    return new ClientRouter(replicaSet, client.id, client.user, pool, (i) => this.replicaPool(replicaSet, i, pool), () => client.reroute(), client.tracksPrepared, pins);
  }

  /** The rules as a client of `pool` meets them: always made, so a RELOAD that adds rules reaches every client. */
  rulesFor(client: ClientConnection, pool: Pool): ClientRules {
    return new ClientRules(this.rules, this.rulesDatabases.get(pool.db), client);
  }

  /**
   * The listener hub of `pool`'s database and user in transaction and statement pooling: its
   * connection dials the database's primary now (a new one after failover) and logs in as the
   * pool's servers do. Null in session pooling, where each client's server LISTENs itself.
   */
  listenHubFor(pool: Pool): ChannelHub | null {
    if (this.notifications === null || pool.settings.poolMode === 'session') return null;
    const serverUser = pool.serverUser;
    return this.notifications.hub(`${pool.db.name}\u0000${serverUser}`, () => ({
      connect: () => {
        // As the pool's own launches: not while a failover looks for the primary, nor while its circuit breaker is open.
        const backend = pool.target.backend();
        return backend !== null && backend.dialable ? backend.dialer.connect : null;
      },
      login: () => ({ user: serverUser, database: pool.db.dbname, credential: this.credential(pool.db, serverUser, pool) }),
      database: pool.db.name,
      label: pool.name,
    }));
  }

  /** RulesDatabasesOwner: the dialer for one-off connections to `db`'s primary. */
  primaryConnect(db: DatabaseDef): Connect {
    return this.hosts.primaryConnect(db);
  }

  /**
   * The pool of replica `index` for the users of `primary`: a Pool like any other (SHOW POOLS,
   * SERVERS, the janitor, PAUSE and the limits see it), whose servers are on the replica. Its
   * servers count toward the database's max_db_connections and the user's max_user_connections
   * together with the primary's.
   */
  private replicaPool(set: ReplicaSet, index: number, primary: Pool): Pool {
    const r = this.hosts.topology(set.db).backends[index];
    const key = `${primary.db.name}\u0000${primary.serverUser}\u0000${r.label}`;
    let pool = this.pools.get(key);
    if (pool === undefined) {
      const db: DatabaseDef = { ...primary.db, host: r.address.host, port: r.address.port };
      pool = new Pool(db, primary.user, primary.serverUser, primary.settings, () => this.credential(primary.db, primary.serverUser, primary), this, this.hosts.replicaTarget(set.db, index));
      pool.paused = this.isPaused(db.name);
      pool.replicaAddress = r.label;
      this.observer.attach(pool.stats);
      this.pools.set(key, pool);
    }
    set.pools.set(`${index}\u0000${primary.serverUser}`, pool);
    return pool;
  }

  /**
   * Janitor, autodb_idle_timeout: a database made from the '*' line whose pools have held no
   * client and no server for that long is forgotten, pools and all, as PgBouncer's
   * cleanup_inactive_autodatabases (a paused one is kept). Its next login starts it afresh.
   */
  dropIdleAutodbs(now: number): void {
    const timeoutMs = this.settings.autodb_idle_timeout * 1000;
    if (timeoutMs <= 0) {
      this.autodbIdleSince.clear();
      return;
    }
    const auto = new Set<string>();
    const busy = new Set<string>();
    for (const pool of this.pools.values()) {
      const name = pool.db.name;
      if (this.config.databases.has(name)) continue;
      auto.add(name);
      if (pool.clients.size > 0 || pool.hasWaiters || pool.waiting.size > 0 || pool.serverCount > 0 || this.isPaused(name)) busy.add(name);
    }
    for (const name of [...this.autodbIdleSince.keys()]) if (!auto.has(name) || busy.has(name)) this.autodbIdleSince.delete(name);
    for (const name of auto) {
      if (busy.has(name)) continue;
      const since = this.autodbIdleSince.get(name);
      if (since === undefined) this.autodbIdleSince.set(name, now);
      else if (now - since > timeoutMs) this.dropDatabase(name);
    }
  }

  private dropDatabase(name: string): void {
    for (const [key, pool] of [...this.pools]) if (pool.db.name === name) this.pools.delete(key);
    this.replicaSets.get(name)?.stop();
    this.replicaSets.delete(name);
    this.hosts.forget(name);
    this.autodbIdleSince.delete(name);
    log.info(`database ${name} unused for autodb_idle_timeout: dropped`);
  }

  /** Shutdown: routing stops, and every health probe. */
  stopRouting(): void {
    for (const set of this.replicaSets.values()) set.stop();
    this.replicaSets.clear();
    this.hosts.stop();
    this.rulesDatabases.stop();
  }

  /** Janitor: forget writes every replica has replayed. */
  pruneWrites(): void {
    for (const set of this.replicaSets.values()) set.writes.prune(set.tracker.replicas);
  }

  userSecret(user: string): Secret | undefined {
    return this.secrets.get(user);
  }

  /** auth_type, or under hba the method of the first matching rule ('reject' when none matches). */
  authTypeFor(login: HbaLogin): { authType: string; rule: string | null } {
    const authType = this.settings.auth_type;
    if (authType !== 'hba') return { authType, rule: null };
    const rule = this.hba === null ? undefined : matchHba(this.hba, login);
    return rule === undefined ? { authType: 'reject', rule: null } : { authType: HBA_AUTH_TYPE[rule.method], rule: rule.source };
  }

  /**
   * For a user missing from auth_file: auth_query's answer, when auth_user is set for the
   * database (its line, else [pgbouncer]); null when it is not. The admin console has none.
   */
  queryUserSecret(database: string, user: string): Promise<AuthQueryResult> | null {
    const db = this.databaseDef(database);
    const authUser = db?.authUser ?? this.settings.auth_user;
    if (db === undefined || authUser === '') return null;
    const s = this.settings;
    const authSecret = this.secrets.get(authUser);
    const target: AuthQueryTarget = {
      connect: this.hosts.primaryConnect(db),
      label: `${db.host ?? (s.unix_socket_dir || '/tmp')}:${db.port}`,
      database: db.dbname,
      authUser,
      // auth_user's password: its db line's when it is the line's user, else auth_file's.
      credential:
        db.password !== undefined && db.user === authUser
          ? { kind: 'secret', secret: { kind: 'plain', password: db.password } }
          : authSecret === undefined
            ? { kind: 'none' }
            : { kind: 'secret', secret: authSecret },
      query: s.auth_query,
      timeoutMs: Math.max(s.server_connect_timeout, 1) * 1000,
    };
    const key = `${db.name}\u0000${user}`;
    return this.authQuery.lookup(target, user).then((result) => {
      if (result.kind === 'found') this.rememberQueriedSecret(key, result.secret);
      return result;
    });
  }

  /** A changed secret invalidates SCRAM keys a pool took from an earlier client's proof. */
  private rememberQueriedSecret(key: string, secret: Secret): void {
    const before = this.queriedSecrets.get(key);
    this.queriedSecrets.set(key, secret);
    if (before === undefined || sameSecret(before, secret)) return;
    const pool = this.pools.get(key);
    if (pool !== undefined) pool.scramKeys = null;
  }

  assignCancelKey(client: ClientConnection): CancelKey {
    let key: CancelKey;
    // By secret: with peer_id and workers in the pid, few of its bits are random.
    do key = newCancelKey(this.keyIssuer);
    while (this.cancelKeys.has(key.secret));
    this.cancelKeys.set(key.secret, client);
    return key;
  }

  /** A client another process handed here keeps the key that process issued (same worker index). */
  adoptCancelKey(client: ClientConnection, key: CancelKey): void {
    this.cancelKeys.set(key.secret, client);
  }

  /**
   * Forwards a cancel to the server the client is linked to now, and to no other. A key another
   * worker or peer issued goes to it (cancelElsewhere, set by lib/workers).
   */
  cancel(pid: number, secret: number): void {
    if (this.cancelElsewhere !== null && this.cancelElsewhere(pid, secret)) return;
    this.cancelLocal(pid, secret);
  }

  /** A cancel for a key this process issued. */
  cancelLocal(pid: number, secret: number): void {
    const client = this.cancelKeys.get(issuedSecret(secret, this.keyIssuer));
    if (client === undefined || client.cancelKey.pid !== pid) return;
    const server = client.server;
    if (server === null) {
      // Its request may wait for a server (a failover, a full pool): it is taken back, never run.
      if (client.cancelWaiting()) log.info('cancel request for a request still waiting for a server: answered 57014, it did not run', client);
      return;
    }
    const packet = cancelRequest(server.pid, server.secret);
    // Through the host's dialer, so server_tls_sslmode applies to cancels as to everything else.
    server.backend.dialer.connect({
      connected: (socket) => {
        socket.on('error', (err) => log.warn(`cancel request to server failed: ${err.message}`, server));
        socket.end(packet);
      },
      connectFailed: (reason) => log.warn(`cancel request to server failed: ${reason}`, server),
    });
    log.debug('forwarded cancel request', client);
  }

  /** A turned-away client that may log in after all (the admin console, as PgBouncer lets it past max_client_conn). */
  admitOverLimit(client: ClientConnection): void {
    if (this.turnedAway.delete(client)) this.clients.add(client);
  }

  clientClosed(client: ClientConnection): void {
    this.clients.delete(client);
    this.turnedAway.delete(client);
    if (this.cancelKeys.get(client.cancelKey.secret) === client) this.cancelKeys.delete(client.cancelKey.secret);
  }

  // ---- SharedLimits ----

  canOpen(pool: Pool): boolean {
    const s = this.settings;
    const maxDb = pool.db.maxDbConnections ?? s.max_db_connections;
    const dbCount = () => this.serversPerDb.get(pool.db.name) ?? 0;
    if (!this.underLimit(pool, dbCount, maxDb, (p) => p.db.name === pool.db.name)) return false;
    const maxUser = this.config.users.get(pool.serverUser)?.maxUserConnections ?? s.max_user_connections;
    const userCount = () => this.serversPerUser.get(pool.serverUser) ?? 0;
    return this.underLimit(pool, userCount, maxUser, (p) => p.serverUser === pool.serverUser);
  }

  /**
   * Below `max` (0: no limit), or made so: a pool with clients waiting may close the longest-idle
   * server of a pool sharing the limit (PgBouncer's evict_connection), else a waiter could starve
   * while another pool's servers sit idle. Re-counted after, since closing one lets other
   * waiting pools dispatch at once and one of them may have taken the slot.
   */
  private underLimit(pool: Pool, count: () => number, max: number, shares: (p: Pool) => boolean): boolean {
    if (max <= 0 || count() < max) return true;
    if (!pool.hasWaiters) return false;
    let oldest: ServerConnection | undefined;
    for (const p of this.pools.values()) {
      if (!shares(p)) continue;
      for (const server of p.idle) if (oldest === undefined || server.lastUsed < oldest.lastUsed) oldest = server;
    }
    if (oldest === undefined) return false;
    oldest.close('evicted', true);
    return count() < max;
  }

  opened(pool: Pool): void {
    bump(this.serversPerDb, pool.db.name, 1);
    bump(this.serversPerUser, pool.serverUser, 1);
  }

  closed(pool: Pool): void {
    bump(this.serversPerDb, pool.db.name, -1);
    bump(this.serversPerUser, pool.serverUser, -1);
  }

  slotFreed(freed: Pool): void {
    for (const pool of this.pools.values()) {
      if (pool === freed || pool.waiting.size === 0) continue;
      if (pool.db.name === freed.db.name || pool.serverUser === freed.serverUser) pool.dispatch();
    }
  }

  // ---- helpers ----

  private databaseDef(name: string): DatabaseDef | undefined {
    return resolveDatabase(this.config, name);
  }

  /** Effective settings for a pool: database line, then user line, then [pgbouncer]. */
  private poolSettings(db: DatabaseDef, user: string): PoolSettings {
    const s = this.settings;
    const u = this.config.users.get(user);
    return {
      poolMode: u?.poolMode ?? db.poolMode ?? s.pool_mode,
      poolSize: db.poolSize ?? s.default_pool_size,
      minPoolSize: db.minPoolSize ?? s.min_pool_size,
      reservePool: db.reservePool ?? s.reserve_pool_size,
      reservePoolTimeout: s.reserve_pool_timeout,
      serverResetQuery: s.server_reset_query,
      serverResetQueryAlways: s.server_reset_query_always,
      serverCheckQuery: s.server_check_query,
      serverCheckDelay: s.server_check_delay,
      serverLifetime: s.server_lifetime,
      serverIdleTimeout: s.server_idle_timeout,
      serverLoginRetry: s.server_login_retry,
      serverRoundRobin: s.server_round_robin,
      queryWaitTimeout: s.query_wait_timeout,
      unixSocketDir: s.unix_socket_dir || '/tmp',
      maxPreparedStatements: s.max_prepared_statements,
    };
  }

  /** How pgmux proves itself to the server: db line password, else the userlist's secret. */
  private credential(db: DatabaseDef, serverUser: string, pool: Pool | null): ServerCredential {
    // A pool of the user a reloaded line no longer forces logs in with that user's own secret.
    if (db.password !== undefined && (db.user === undefined || db.user === serverUser)) return { kind: 'secret', secret: { kind: 'plain', password: db.password } };
    const secret = this.secrets.get(serverUser) ?? this.queriedSecrets.get(`${db.name}\u0000${serverUser}`);
    if (secret === undefined) return { kind: 'none' };
    if (secret.kind === 'scram' && pool !== null && pool.scramKeys !== null) return { kind: 'scram-keys', ...pool.scramKeys };
    return { kind: 'secret', secret };
  }
}

function sameSecret(a: Secret, b: Secret): boolean {
  if (a.kind === 'plain' && b.kind === 'plain') return a.password === b.password;
  if (a.kind === 'md5' && b.kind === 'md5') return a.hash === b.hash;
  return a.kind === 'scram' && b.kind === 'scram' && a.storedKey.equals(b.storedKey) && a.salt.equals(b.salt);
}

/**
 * Whether a RELOAD changed where or as whom a pool's servers log in, or what runs on them first:
 * the fields PgBouncer 1.18's parse_database compares before tag_database_dirty (dbname, host,
 * port, forced user, connect_query). A new password or startup parameter (client_encoding,
 * ...) only reaches servers opened from now on, as in PgBouncer.
 */
function serverTargetChanged(a: DatabaseDef, b: DatabaseDef): boolean {
  return (
    a.dbname !== b.dbname ||
    a.host !== b.host ||
    a.port !== b.port ||
    JSON.stringify(a.hosts ?? null) !== JSON.stringify(b.hosts ?? null) ||
    a.user !== b.user ||
    (a.connectQuery ?? '') !== (b.connectQuery ?? '')
  );
}

/** Settings a replica set took at creation that a RELOAD changed. */
function routingSettingsChanged(set: ReplicaSet, config: Config): boolean {
  const keys = ['read_your_writes', 'read_your_writes_timeout', 'max_replica_lag', 'load_balance', 'write_functions', 'read_only_functions', 'replica_lag_poll_interval'] as const;
  return keys.some((k) => JSON.stringify(config.settings[k]) !== JSON.stringify(set.settings[k]));
}

function bump(map: Map<string, number>, key: string, by: number): void {
  const n = (map.get(key) ?? 0) + by;
  if (n <= 0) map.delete(key);
  else map.set(key, n);
}
