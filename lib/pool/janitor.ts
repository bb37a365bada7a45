// Owns periodic maintenance (PgBouncer's janitor.c): every timeout, min_pool_size, the reserve
// pool, and closing servers past their lifetime or idle time. One sweep per tick instead of a
// timer per socket; the clock is read once per tick.

import { TxStatus } from '../protocol/codes';
import * as refusals from '../protocol/refusals';
import type { Registry } from './registry';
import type { Pool } from './pool';
import type { ClientConnection } from '../client/client-connection';
import type { ServerConnection } from '../server/server-connection';
import { clock } from '../clock';

/** How often the janitor sweeps: fine enough for second-granularity timeouts. */
export const TICK_MS = 100;

/**
 * How long a client accepted over max_client_conn (or while shutting down) may take to send its
 * StartupMessage and read the refusal: a flood of them holds nothing for longer.
 */
export const TURNED_AWAY_MS = 1000;

export class Janitor {
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly registry: Registry) {}

  start(): void {
    this.timer = setInterval(() => this.sweep(), TICK_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  sweep(): void {
    const now = clock.tick();
    for (const client of this.registry.clients) this.checkClient(client, now);
    for (const client of this.registry.turnedAway) {
      if (now - client.connectedAt >= TURNED_AWAY_MS) client.fail(client.turnedAway ?? refusals.tooManyConnections());
    }
    for (const pool of this.registry.pools.values()) this.checkPool(pool, now);
    this.registry.dropIdleAutodbs(now);
    this.registry.pruneWrites();
  }

  private checkClient(client: ClientConnection, now: number): void {
    const s = this.registry.settings;
    const since = (seconds: number, from: number) => seconds > 0 && now - from > seconds * 1000;
    switch (client.state) {
      case 'startup':
      case 'auth':
        if (since(s.client_login_timeout, client.connectedAt)) client.fail(refusals.clientLoginTimeout());
        return;
      case 'welcome':
        // Logged in, but the pool has had no server to take its welcome from (PgBouncer's wait_for_welcome).
        if (since(s.client_login_timeout, client.connectedAt)) client.fail(refusals.clientLoginTimeoutServerDown());
        return;
      case 'idle':
        if (since(s.client_idle_timeout, client.stateSince)) client.fail(refusals.clientIdleTimeout());
        return;
      case 'waiting':
        if (since(s.query_wait_timeout, client.waitSince)) client.fail(refusals.queryWaitTimeout());
        return;
      case 'active': {
        const server = client.server;
        if (server === null) return;
        // A request is under way from its first message, Sync or not: a Parse, Bind, Execute
        // never followed by Sync holds the server as long as a running query does (PgBouncer
        // times it out alike).
        if ((client.owed > 0 || client.unsynced > 0) && since(s.query_timeout, client.requestSince)) {
          client.fail(refusals.queryTimeout());
        } else if (client.owed > 0) {
          // A [rules] statement_timeout passed: cancel the statement, the client gets PostgreSQL's 57014.
          if (client.rules !== null && client.rules.timedOut(now)) client.cancelStatement();
        } else if (server.txStatus !== TxStatus.Idle && since(s.idle_transaction_timeout, client.readySince)) {
          client.fail(refusals.idleTransactionTimeout());
        }
        return;
      }
      default:
        return;
    }
  }

  private checkPool(pool: Pool, now: number): void {
    const s = pool.settings;
    const connectTimeout = this.registry.settings.server_connect_timeout;
    for (const server of pool.login) {
      if (connectTimeout > 0 && now - server.connectedAt > connectTimeout * 1000) {
        pool.serverLoginFailed(server, refusals.serverConnectTimeout());
        server.close('server_connect_timeout');
      }
    }
    // Idle servers past their lifetime or idle time close; min_pool_size refills below.
    for (const server of [...pool.idle]) {
      if (this.expired(server, now, s.serverLifetime, s.serverIdleTimeout, pool)) server.close('server idle or lifetime timeout', true);
    }
    // A pool_size lowered by RELOAD or SET: idle servers over pool_size + reserve_pool close, the
    // least recently used first (PgBouncer's check_pool_size); busy ones follow once released.
    let over = pool.serverCount - pool.login.size - (s.poolSize + s.reservePool);
    while (over > 0 && pool.idle.length > 0) {
      (pool.idle[0] as ServerConnection).close('too many servers in the pool', true);
      over--;
    }
    const head = pool.waiting.peek();
    if (head !== undefined && s.reservePool > 0 && now - head.waitSince > s.reservePoolTimeout * 1000) {
      pool.launch(true);
    }
    while (pool.serverCount < s.minPoolSize && pool.launch()) {
      /* opened one more */
    }
    // Clients still waiting get another try each tick: a server_login_retry delay may have
    // passed, or an idle server of another pool may be evicted under max_db/user_connections.
    pool.dispatch();
  }

  private expired(server: ServerConnection, now: number, lifetime: number, idleTimeout: number, pool: Pool): boolean {
    if (lifetime > 0 && now - server.connectedAt > lifetime * 1000) return true;
    // Keep min_pool_size servers even when idle, as PgBouncer does.
    return idleTimeout > 0 && now - server.lastUsed > idleTimeout * 1000 && pool.serverCount > pool.settings.minPoolSize;
  }
}
