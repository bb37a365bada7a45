// Owns the objects pgmux knows about (PgBouncer's objects.c): databases as configured, pools by
// (database, user), logged-in clients, cancel keys, and the limits shared between pools.

import * as crypto from 'node:crypto';
import * as net from 'node:net';
import { resolveDatabase, type Config, type DatabaseDef, type Settings } from '../config';
import type { Secret } from '../auth/secret';
import type { ErrorFields } from '../protocol/backend';
import { cancelRequest } from '../protocol/frontend';
import * as refusals from '../protocol/refusals';
import { TrackedParams } from '../server/params';
import type { ServerCredential } from '../server/login';
import type { ClientConnection, ClientContext } from '../client/client-connection';
import { Pool, type PoolSettings, type SharedLimits } from './pool';
import { log } from '../log';

export class Registry implements ClientContext, SharedLimits {
  readonly pools = new Map<string, Pool>();
  readonly clients = new Set<ClientConnection>();
  private readonly cancelKeys = new Map<number, ClientConnection>();
  private readonly serversPerDb = new Map<string, number>();
  private readonly serversPerUser = new Map<string, number>();
  tracked: TrackedParams;

  constructor(
    public config: Config,
    public secrets: ReadonlyMap<string, Secret>,
  ) {
    this.tracked = new TrackedParams(config.settings.track_extra_parameters);
  }

  get settings(): Settings {
    return this.config.settings;
  }

  /** Applies a reloaded config to running pools (sizes, modes, timeouts). */
  reload(config: Config, secrets: ReadonlyMap<string, Secret>): void {
    this.config = config;
    this.secrets = secrets;
    this.tracked = new TrackedParams(config.settings.track_extra_parameters);
    for (const pool of this.pools.values()) {
      const db = this.databaseDef(pool.db.name) ?? pool.db;
      pool.settings = this.poolSettings(db, pool.user);
      pool.dispatch();
    }
  }

  // ---- ClientContext ----

  findPool(database: string, user: string): Pool | ErrorFields {
    const db = this.databaseDef(database);
    if (db === undefined) return refusals.noSuchDatabase(database);
    const serverUser = db.user ?? user;
    // A forced user (user= on the db line) means one pool for the whole database, as PgBouncer.
    const key = `${db.name}\u0000${serverUser}`;
    let pool = this.pools.get(key);
    if (pool === undefined) {
      pool = new Pool(db, serverUser, serverUser, this.poolSettings(db, user), () => this.credential(db, serverUser, pool as Pool), this);
      this.pools.set(key, pool);
    }
    return pool;
  }

  userSecret(user: string): Secret | undefined {
    return this.secrets.get(user);
  }

  assignCancelKey(client: ClientConnection): { pid: number; secret: number } {
    let pid: number;
    do pid = crypto.randomInt(1, 0x7fffffff);
    while (this.cancelKeys.has(pid));
    this.cancelKeys.set(pid, client);
    return { pid, secret: crypto.randomBytes(4).readInt32BE(0) };
  }

  /** Forwards a cancel to the server the client is linked to now, and to no other. */
  cancel(pid: number, secret: number): void {
    const client = this.cancelKeys.get(pid);
    if (client === undefined || client.cancelKey.secret !== secret) return;
    const server = client.server;
    if (server === null) return;
    const a = server.address;
    const sock =
      a.host === undefined || a.host.startsWith('/')
        ? net.connect({ path: `${a.host ?? a.unixSocketDir}/.s.PGSQL.${a.port}` })
        : net.connect({ host: a.host, port: a.port });
    sock.on('error', (err) => log.warn(`cancel request to server failed: ${err.message}`, server));
    sock.end(cancelRequest(server.pid, server.secret));
    log.debug('forwarded cancel request', client);
  }

  clientClosed(client: ClientConnection): void {
    this.clients.delete(client);
    if (this.cancelKeys.get(client.cancelKey.pid) === client) this.cancelKeys.delete(client.cancelKey.pid);
  }

  // ---- SharedLimits ----

  canOpen(pool: Pool): boolean {
    const s = this.settings;
    const maxDb = pool.db.maxDbConnections ?? s.max_db_connections;
    if (maxDb > 0 && (this.serversPerDb.get(pool.db.name) ?? 0) >= maxDb) return false;
    const maxUser = this.config.users.get(pool.serverUser)?.maxUserConnections ?? s.max_user_connections;
    if (maxUser > 0 && (this.serversPerUser.get(pool.serverUser) ?? 0) >= maxUser) return false;
    return true;
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
    };
  }

  /** How pgmux proves itself to the server: db line password, else the userlist's secret. */
  private credential(db: DatabaseDef, serverUser: string, pool: Pool): ServerCredential {
    if (db.password !== undefined) return { kind: 'secret', secret: { kind: 'plain', password: db.password } };
    const secret = this.secrets.get(serverUser);
    if (secret === undefined) return { kind: 'none' };
    if (secret.kind === 'scram' && pool.scramKeys !== null) return { kind: 'scram-keys', ...pool.scramKeys };
    return { kind: 'secret', secret };
  }
}

function bump(map: Map<string, number>, key: string, by: number): void {
  const n = (map.get(key) ?? 0) + by;
  if (n <= 0) map.delete(key);
  else map.set(key, n);
}
