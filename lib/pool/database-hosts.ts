// Owns the failover layer as the pools see it: one Topology per database (its hosts, who the
// primary is, the search while there is none), the Backends they share, and each pool's target
// (the primary, or one replica host). When a topology finds, loses or gives up on a primary, the
// pools of that database are told here: they re-point, hold, or fail what they held.

import { databaseHosts, effective, type DatabaseDef, type Settings } from '../config';
import type { ErrorFields } from '../protocol/backend';
import type { Connect } from '../connect';
import type { MonitorLogin } from '../routing/monitor';
import { lagLimit, type HostsFeed } from '../routing/router';
import type { Backend } from '../failover/backend';
import { Backends } from '../failover/backends';
import { Topology, type TopologyEvents } from '../failover/topology';
import type { Pool, PoolTarget } from './pool';
import { log } from '../log';

/** What the database hosts need from the registry. */
export interface HostsOwner {
  readonly settings: Settings;
  readonly pools: ReadonlyMap<string, Pool>;
  /** Who the health probes of `db` log in as, or null while nobody can (see Registry.probeLogin). */
  probeLogin(db: DatabaseDef): MonitorLogin | null;
  /** Servers of `pool` on hosts other than `keep` close (idle now, the rest when released). */
  retireServersNotOn(pool: Pool, keep: Backend, reason: string): void;
  /** LISTEN/NOTIFY listener connections on `host` are dropped as lost (they dial the primary again). */
  listenersLeft(host: Backend, reason: string): void;
}

/** A pool's target that follows its database's primary through failovers. */
class PrimaryTarget implements PoolTarget {
  constructor(
    public topology: Topology,
    private readonly pools: () => Iterable<Pool>,
  ) {}

  /**
   * A client of a new (database, user) pair logs in during a failover: its pool has never logged
   * in to the primary, and there is none to log in to now. The parameters another user's pool of
   * the database learned from it serve its welcome (PgBouncer keeps one welcome per database
   * always); its reads then go to a standby at once instead of its login waiting for the
   * promotion. A default its own login would have differently (ALTER ROLE ... SET) is not in
   * that welcome, as in PgBouncer.
   */
  borrowedParams(): ReadonlyMap<string, string> | null {
    for (const pool of this.pools()) if (pool.serverParams !== null && pool.replicaAddress === null && pool.target === this) return pool.serverParams;
    return probeWelcome(this.topology);
  }

  backend(): Backend | null {
    return this.topology.primary;
  }

  refusal(): ErrorFields | null {
    return this.topology.refusal();
  }

  get holding(): boolean {
    return this.topology.holding;
  }

  heldOne(): void {
    this.topology.held++;
  }

  trouble(backend: Backend): void {
    this.topology.serverTrouble(backend);
  }
}

/** A replica pool's target: one host, whatever its role (the router sends reads only to standbys). */
class HostTarget implements PoolTarget {
  readonly holding = false;

  constructor(
    private readonly host: Backend,
    private readonly topology: Topology,
  ) {}

  backend(): Backend {
    return this.host;
  }

  refusal(): null {
    return null;
  }

  heldOne(): void {
    /* replica pools never hold */
  }

  borrowedParams(): null {
    return null;
  }

  trouble(backend: Backend): void {
    this.topology.serverTrouble(backend);
  }
}

export class DatabaseHosts implements TopologyEvents {
  readonly backends: Backends;
  /** By database name (the client's name for it, as pools key it). */
  readonly topologies = new Map<string, Topology>();
  private readonly targets = new Map<string, PrimaryTarget>();

  constructor(private readonly owner: HostsOwner) {
    this.backends = new Backends(owner.settings);
  }

  start(): void {
    this.backends.start();
  }

  /** The topology of `db`, made at first use (at start for configured databases, at login for '*'). */
  topology(db: DatabaseDef): Topology {
    let t = this.topologies.get(db.name);
    if (t === undefined) {
      t = this.make(db);
      this.topologies.set(db.name, t);
    }
    return t;
  }

  /** The target of a pool of `db`'s primary: shared by the database's pools, so a failover re-points all. */
  primaryTarget(db: DatabaseDef): PoolTarget {
    let target = this.targets.get(db.name);
    if (target === undefined) {
      target = new PrimaryTarget(this.topology(db), () => this.owner.pools.values());
      this.targets.set(db.name, target);
    }
    return target;
  }

  replicaTarget(db: DatabaseDef, index: number): PoolTarget {
    const t = this.topology(db);
    return new HostTarget(t.backends[index], t);
  }

  /** What the router needs of `db`'s hosts. */
  feed(db: DatabaseDef): HostsFeed {
    const t = this.topology(db);
    return {
      tracker: t.tracker,
      hosts: t.opts.hosts,
      connectPrimary: (): Connect => t.catalogHost.dialer.connect,
      latency: (i: number) => t.backends[i].rttMs,
    };
  }

  /** The dialer for auth_query's one-off connections: `db`'s primary, or a standby during a failover (Topology.catalogHost). */
  primaryConnect(db: DatabaseDef): Connect {
    return this.topology(db).catalogHost.dialer.connect;
  }

  /**
   * Resolves once every host of the configured databases has answered a probe or failed one, or
   * after `timeoutMs`: reads then reach a caught-up replica from the first statement, and a
   * multi-host database knows its primary before the first client asks.
   */
  async firstProbes(timeoutMs: number): Promise<void> {
    const pending = (): boolean => {
      for (const t of this.topologies.values()) for (const b of t.backends) if (b.wanted && b.probes === 0 && b.failures === 0) return true;
      return false;
    };
    const deadline = performance.now() + timeoutMs;
    while (pending() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  }

  /** RELOAD: a database whose hosts changed gets a new topology; the others keep theirs. */
  reload(databases: Iterable<DatabaseDef>, settings: Settings): void {
    const wanted = new Map<string, DatabaseDef>();
    for (const db of databases) wanted.set(db.name, db);
    for (const [name, t] of this.topologies) {
      const db = wanted.get(name);
      if (db !== undefined && sameHosts(t, db, settings)) {
        t.tracker.setLimits(settings.replica_lag_poll_interval, lagLimit(effective(settings, 'max_replica_lag', db, undefined)));
        continue;
      }
      // Pools of a database no longer configured keep their target until they empty.
      if (db === undefined) continue;
      t.stop();
      const next = this.make(db);
      this.topologies.set(name, next);
      const target = this.targets.get(name);
      if (target !== undefined) target.topology = next;
    }
    this.backends.reload(settings);
  }

  /** A database is dropped (autodb_idle_timeout): its topology stops probing. */
  forget(name: string): void {
    this.topologies.get(name)?.stop();
    this.topologies.delete(name);
    this.targets.delete(name);
  }

  stop(): void {
    for (const t of this.topologies.values()) t.stop();
    this.backends.stop();
  }

  // ---- TopologyEvents ----

  primaryFound(t: Topology, previous: Backend | null): void {
    const primary = t.primary as Backend;
    const waiting = this.heldNow(t);
    t.released += waiting;
    if (waiting > 0) log.info(`database ${t.name}: releasing ${waiting} held requests to ${primary.label}`);
    const moved = previous !== null && previous !== primary ? previous : null;
    if (moved !== null) this.owner.listenersLeft(moved, `primary moved to ${primary.label}`);
    for (const pool of this.primaryPools(t)) {
      if (moved !== null) {
        this.owner.retireServersNotOn(pool, primary, `primary moved to ${primary.label}`);
        cutServersOn(pool, moved, `primary moved to ${primary.label} while this transaction ran on ${moved.label}, which is fenced now: its outcome there is unknown`);
      }
      pool.targetChanged();
      pool.dispatch();
    }
  }

  primaryLost(t: Topology, lost: Backend): void {
    const waiting = this.heldNow(t);
    if (waiting > 0) log.info(`database ${t.name}: ${waiting} requests waiting for a primary (lost ${lost.label})`);
  }

  searchFailed(t: Topology, error: ErrorFields): void {
    t.expired += this.heldNow(t);
    for (const pool of this.primaryPools(t)) {
      pool.failWaiting(error);
      for (const b of t.backends) if (b.failures > 0) cutServersOn(pool, b, `${b.label} has not answered a probe for failover_timeout (${b.lastError}): its outcome there is unknown`);
    }
  }

  /** Requests queued in `t`'s primary pools now (held while it searches). */
  heldNow(t: Topology): number {
    let n = 0;
    for (const pool of this.primaryPools(t)) n += pool.waiting.size;
    return n;
  }

  private primaryPools(t: Topology): Pool[] {
    const out: Pool[] = [];
    for (const pool of this.owner.pools.values()) if (pool.replicaAddress === null && this.topologies.get(pool.db.name) === t) out.push(pool);
    return out;
  }

  private make(db: DatabaseDef): Topology {
    const s = this.owner.settings;
    return new Topology(
      {
        name: db.name,
        hosts: databaseHosts(db),
        unixSocketDir: s.unix_socket_dir || '/tmp',
        failoverTimeout: () => effective(this.owner.settings, 'failover_timeout', db, undefined),
        pollInterval: s.replica_lag_poll_interval,
        maxLag: lagLimit(effective(s, 'max_replica_lag', db, undefined)),
        login: () => this.owner.probeLogin(db),
      },
      this.backends,
      this,
    );
  }
}

function sameHosts(t: Topology, db: DatabaseDef, settings: Settings): boolean {
  const hosts = databaseHosts(db);
  const dir = settings.unix_socket_dir || '/tmp';
  return (
    hosts.length === t.opts.hosts.length &&
    t.opts.unixSocketDir === dir &&
    hosts.every((h, i) => h.host === t.opts.hosts[i].host && h.port === t.opts.hosts[i].port && h.weight === t.opts.hosts[i].weight && h.zone === t.opts.hosts[i].zone)
  );
}

/**
 * Servers of `pool` on `host` that a client is waiting on close under it (the client hears 08006,
 * or its unanswered read goes elsewhere): the host lost its place as primary, and one that is
 * frozen or cut off (SIGSTOP, a partition) closes nothing and answers nothing, so without this the
 * client would wait for as long as the host stays so. Idle ones are retired by the caller.
 */
function cutServersOn(pool: Pool, host: Backend, reason: string): void {
  for (const server of [...pool.active]) {
    if (server.backend !== host) continue;
    log.warn(`pool ${pool.db.name}: closing a server of ${host.label} in use: ${reason}`);
    server.close(reason);
  }
}

/**
 * No pool of the database has logged in to the primary here (pgmux, or this worker, started
 * since): the parameters a host's probe login got serve the welcome instead, the last primary's
 * first, else a standby's (a physical standby reports the primary's settings). What belongs to
 * the probe's session is not the client's: in_hot_standby is off (the client's session is on the
 * primary), application_name is the server's default, and the probe user's session_authorization
 * and is_superuser are left out.
 */
function probeWelcome(t: Topology): ReadonlyMap<string, string> | null {
  const answered = t.backends.filter((b) => b.loginParams !== null);
  const from = answered.find((b) => b.role === 'primary') ?? answered[0];
  if (from === undefined) return null;
  const params = new Map(from.loginParams);
  if (params.has('in_hot_standby')) params.set('in_hot_standby', 'off');
  if (params.has('application_name')) params.set('application_name', '');
  params.delete('session_authorization');
  params.delete('is_superuser');
  return params;
}

