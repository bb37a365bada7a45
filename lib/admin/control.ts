// Owns the console's steering of pools (PgBouncer's cf_pause_mode, db_paused, db_disabled,
// db_wait_close and the janitor's per_loop_pause / per_loop_wait_close): PAUSE, RESUME,
// SUSPEND, KILL, RECONNECT and WAIT_CLOSE, and answering the commands that wait.
//
// The facts pools consult live in the registry (pausedAll, pausedDbs, disabledDbs; a pool's
// `paused` flag hands out and opens nothing). This module changes them, and while anything is
// paused or awaited it sweeps every TICK_MS: paused pools lose their idle, resetting and
// logging-in servers ("pause mode"), and a waiting command is answered once its condition holds.

import type { Registry } from '../pool/registry';
import type { Pool } from '../pool/pool';
import type { ServerConnection } from '../server/server-connection';
import type { ClientConnection } from '../client/client-connection';
import { TICK_MS } from '../pool/janitor';
import * as refusals from '../protocol/refusals';
import { log } from '../log';
import { pendingBytes } from '../direct-write';

export type PauseMode = 'none' | 'pause' | 'suspend';

interface Waiter {
  readonly kind: 'pause' | 'suspend' | 'wait_close';
  /** null: every database. */
  readonly db: string | null;
  /** The session that waits; its waiters go when it does. */
  readonly owner: object;
  readonly done: () => void;
}

export class Control {
  mode: PauseMode = 'none';
  private waiters: Waiter[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly registry: Registry) {}

  get suspended(): boolean {
    return this.mode === 'suspend';
  }

  // ---- PAUSE / RESUME ----

  /** PAUSE: no server is handed out; resolves once every server is gone. */
  pauseAll(owner: object): Promise<void> {
    this.mode = 'pause';
    this.registry.pausedAll = true;
    this.registry.applyPause();
    return this.wait('pause', null, owner);
  }

  /** PAUSE db: resolves at once when the database has no servers, else once they are gone. */
  pauseDb(db: string, owner: object): Promise<void> {
    this.registry.pausedDbs.add(db);
    this.registry.applyPause();
    return this.wait('pause', db, owner);
  }

  /** RESUME without a database: leaves PAUSE or SUSPEND (databases paused one by one stay so). */
  resumeAll(): void {
    const was = this.mode;
    this.mode = 'none';
    this.registry.pausedAll = false;
    this.registry.applyPause();
    if (was === 'suspend') this.unsuspendSockets();
  }

  resumeDb(db: string): void {
    this.registry.pausedDbs.delete(db);
    this.registry.applyPause();
  }

  // ---- SUSPEND ----

  /**
   * SUSPEND: stop reading from every client and hand out no server; resolves once everything
   * already read has been written out. pgmux cannot hand its sockets to a new process as
   * PgBouncer's online restart does, so this only freezes traffic until RESUME.
   */
  suspend(owner: object): Promise<void> {
    this.mode = 'suspend';
    this.registry.pausedAll = true;
    this.registry.applyPause();
    for (const client of this.registry.clients) if (client.console === null) client.pauseClient();
    return this.wait('suspend', null, owner);
  }

  /** A socket accepted while suspended is not read until RESUME. */
  acceptWhileSuspended(client: ClientConnection): void {
    if (this.mode === 'suspend') client.pauseClient();
  }

  private unsuspendSockets(): void {
    for (const client of this.registry.clients) {
      // Waiting clients are resumed by the pool when linked; the rest read again now.
      if (client.console === null && client.state !== 'waiting') client.socket.resume();
    }
  }

  // ---- KILL / RECONNECT / WAIT_CLOSE ----

  /** KILL db: pause it, drop its clients ("database removed") and servers at once. */
  kill(db: string): void {
    this.registry.pausedDbs.add(db);
    this.registry.applyPause();
    for (const pool of this.poolsOf(db)) {
      for (const client of [...pool.clients]) client.fail(refusals.databaseRemoved());
      pool.closeAll('database removed');
    }
    this.arm();
  }

  /** RECONNECT [db]: idle servers close now, the others when released (close_needed). */
  reconnect(db: string | null): void {
    for (const pool of this.poolsOf(db)) this.registry.retireServers(pool, 'reconnect: obsolete connection');
  }

  /** WAIT_CLOSE [db]: resolves once no server of db (or any) still has close_needed set. */
  waitClose(db: string | null, owner: object): Promise<void> {
    return this.wait('wait_close', db, owner);
  }

  /** A console session ended: its pending commands are dropped; a lone SUSPEND is undone. */
  sessionGone(owner: object, sessionsLeft: number): void {
    this.waiters = this.waiters.filter((w) => w.owner !== owner);
    if (this.mode === 'suspend' && sessionsLeft === 0) {
      log.info('admin disappeared when suspended, doing RESUME');
      this.resumeAll();
    }
  }

  // ---- the sweep ----

  private wait(kind: Waiter['kind'], db: string | null, owner: object): Promise<void> {
    return new Promise((done) => {
      this.waiters.push({ kind, db, owner, done });
      this.sweep();
    });
  }

  private arm(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.sweep(), TICK_MS);
    this.timer.unref();
  }

  /** One pass: close what paused pools may not keep, answer waiters whose condition holds. */
  sweep(): void {
    let paused = false;
    for (const pool of this.registry.pools.values()) {
      if (!pool.paused || this.mode === 'suspend') continue;
      paused = true;
      for (const server of [...pool.idle, ...pool.used, ...pool.login]) server.close('pause mode', true);
    }
    const still: Waiter[] = [];
    const ready: Waiter[] = [];
    for (const w of this.waiters) (this.satisfied(w) ? ready : still).push(w);
    this.waiters = still;
    for (const w of ready) w.done();
    if (!paused && this.waiters.length === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    } else this.arm();
  }

  private satisfied(w: Waiter): boolean {
    const pools = this.poolsOf(w.db);
    switch (w.kind) {
      case 'pause':
        return pools.every((p) => p.serverCount === 0);
      case 'wait_close':
        return pools.every((p) => !serversOf(p).some((s) => s.closeOnRelease));
      case 'suspend':
        return (
          pools.every((p) => serversOf(p).every((s) => pendingBytes(s.socket) === 0)) &&
          [...this.registry.clients].every((c) => c.socket.writableLength === 0)
        );
    }
  }

  private poolsOf(db: string | null): Pool[] {
    return [...this.registry.pools.values()].filter((p) => db === null || p.db.name === db);
  }
}

function serversOf(pool: Pool): ServerConnection[] {
  return [...pool.login, ...pool.idle, ...pool.active, ...pool.used, ...pool.tested];
}
