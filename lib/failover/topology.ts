// Owns who the primary of one database is: from its hosts' probes (pg_is_in_recovery() and the
// timeline each writes on), with fencing (a new primary is accepted only on a newer timeline,
// or the same host back on the same one: an old primary that returns after a promotion never
// takes writes again), the search while there is none (new transactions held, probes fast), and
// failover_timeout. It feeds every probe to the database's lag tracker, which the router reads.
//
// A single-host database starts with its host as the primary, as PgBouncer would use it; a
// database with several candidate hosts starts searching, and the first host that answers as a
// primary (or a later one on a newer timeline) becomes it.

import type { HostEntry } from '../config';
import type { ErrorFields } from '../protocol/backend';
import * as refusals from '../protocol/refusals';
import type { LagLimit } from '../config';
import { LagTracker } from '../routing/lag-tracker';
import type { MonitorLogin } from '../routing/monitor';
import { log } from '../log';
import type { Backend, BackendWatcher } from './backend';
import type { Backends, Ticking } from './backends';

/**
 * up: a primary serves writes. searching: none (lost, or not found yet): new transactions wait
 * in their pool's queue while every host is probed fast. unavailable: failover_timeout passed
 * with none; requests fail at once until a probe finds one.
 */
export type PrimaryState = 'up' | 'searching' | 'unavailable';

/** What the pools of the database learn (lib/pool/registry.ts acts on it). */
export interface TopologyEvents {
  /** A primary was found or replaced: pools dial it and serve the requests they held. */
  primaryFound(t: Topology, previous: Backend | null): void;
  /** The primary is gone: new transactions wait. */
  primaryLost(t: Topology, lost: Backend): void;
  /** failover_timeout passed without a primary: what waits fails with this error. */
  searchFailed(t: Topology, error: ErrorFields): void;
}

export interface TopologyOptions {
  readonly name: string;
  readonly hosts: readonly HostEntry[];
  readonly unixSocketDir: string;
  /** Seconds (failover_timeout, maybe the database line's); read at each loss. */
  readonly failoverTimeout: () => number;
  readonly pollInterval: number;
  readonly maxLag: LagLimit;
  readonly login: () => MonitorLogin | null;
}

export class Topology implements BackendWatcher, Ticking {
  readonly backends: readonly Backend[];
  readonly tracker: LagTracker;
  /** The host taking writes now; null while searching or unavailable. */
  primary: Backend | null;
  state: PrimaryState;
  /** The timeline of the last accepted primary; 0 while none has been seen. */
  timeline = 0;
  /** Primary losses and replacements, for SHOW HOSTS and the metrics. */
  losses = 0;
  failovers = 0;
  timeouts = 0;
  /** How long the last search took until a primary was accepted, ms. */
  lastSearchMs = 0;
  /** Requests that waited for a primary; of them, those served once one was found, and those failed at failover_timeout. */
  held = 0;
  released = 0;
  expired = 0;
  /** When the current search began (performance.now() ms). */
  private searchSince: number;
  /** The primary before the current search: the same host back on its timeline is a restart. */
  private lastPrimary: Backend | null = null;
  /** Hosts refused as primary (stale timeline), logged once per search. */
  private readonly fenced = new Set<Backend>();
  private readonly detach: (() => void)[] = [];
  private urgent = false;
  private stopped = false;
  /** A single-host database's pool saw trouble: its host is probed until one answer says how it is. */
  private checking = false;

  constructor(
    readonly opts: TopologyOptions,
    backends: Backends,
    private readonly events: TopologyEvents,
  ) {
    this.backends = opts.hosts.map((h) => backends.get({ host: h.host, port: h.port, unixSocketDir: opts.unixSocketDir }));
    this.tracker = new LagTracker({
      hosts: opts.hosts,
      pollInterval: opts.pollInterval,
      maxLag: opts.maxLag,
      pollSoon: () => {
        for (const b of this.backends) b.pollSoon();
      },
    });
    const single = this.backends.length === 1;
    this.primary = single ? this.backends[0] : null;
    this.lastPrimary = this.primary;
    this.state = single ? 'up' : 'searching';
    this.searchSince = performance.now();
    for (const b of this.backends) {
      this.detach.push(b.watch(this));
      this.detach.push(b.addLogin(opts.login));
    }
    this.detach.push(backends.onTick(this));
    this.tracker.start();
    if (!single) {
      this.setUrgent(true);
      log.info(`database ${opts.name}: looking for the primary among ${this.hostList()}`);
    }
  }

  get name(): string {
    return this.opts.name;
  }

  /**
   * BackendWatcher: several hosts are always probed; a single one only while in doubt, and until
   * it has answered once (a probe or a pooled login): until then nothing says it is reachable, and
   * readiness must not take it for granted (one connection at start, closed after the answer).
   */
  get probing(): boolean {
    return this.backends.length > 1 || this.state !== 'up' || this.checking || !this.backends[0].seenWorking;
  }

  /**
   * BackendWatcher: a single host that serves, and so is not probed, is pinged (cheap, no login):
   * one that went away while no client used it is found lost then, not only at the next request.
   */
  get pinging(): boolean {
    return this.backends.length === 1 && this.state === 'up' && !this.probing;
  }

  /**
   * Why pgmux is not ready for this database (GET /readyz), or null: no primary past
   * failover_timeout, or a single host that has never answered and whose probe fails (its state
   * stays 'up': clients still dial it and get its own error, as with PgBouncer). A search within
   * failover_timeout is ready: requests wait for the new primary.
   */
  notReady(): string | null {
    if (this.state === 'unavailable') return `database ${this.name} has no primary (failover_timeout passed; hosts ${this.hostList()})`;
    const b = this.neverAnswered();
    return b === null ? null : `database ${this.name} has no reachable primary: ${b.label} has never answered (${b.lastError})`;
  }

  /** A single host that has never answered, whose last probe failed; null otherwise. */
  private neverAnswered(): Backend | null {
    if (this.backends.length !== 1 || this.state !== 'up') return null;
    const b = this.backends[0];
    return !b.seenWorking && b.failures > 0 ? b : null;
  }

  /** Whether new transactions for the primary must wait now. */
  get holding(): boolean {
    return this.state === 'searching';
  }

  /**
   * Where a lookup that only reads catalogs (auth_query's secret) goes: the primary, and while
   * there is none (a failover) a standby that answered its last probe, so that logins do not
   * wait for the promotion nor fail against the dead host; else the first host.
   */
  get catalogHost(): Backend {
    if (this.primary !== null) return this.primary;
    for (const b of this.backends) if (b.role === 'standby' && b.probes > 0 && b.failures === 0) return b;
    return this.backends[0];
  }

  /** The error requests get at once (unavailable, or a never-reached single host); null otherwise. */
  refusal(): ErrorFields | null {
    if (this.state === 'unavailable') return this.searchError();
    // A single host never reached, whose breaker the probe's failures opened: no pool dials it,
    // so a waiting client would hear nothing until client_login_timeout. It gets the probe's
    // reason at once, as PgBouncer's check_fast_fail refuses while server logins fail.
    const b = this.neverAnswered();
    return b !== null && !b.dialable ? refusals.hostUnreachable(b.label, b.lastError) : null;
  }

  /** Milliseconds the current search has lasted; 0 when a primary is up. */
  searchingFor(now = performance.now()): number {
    return this.state === 'up' ? 0 : now - this.searchSince;
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.setUrgent(false);
    for (const d of this.detach.splice(0)) d();
    this.tracker.stop();
  }

  // ---- BackendWatcher ----

  probed(b: Backend, sentAt: number): void {
    const i = this.backends.indexOf(b);
    if (i < 0 || this.stopped) return;
    // A single host's first sight (probed only to learn that it answers, see `probing`) judges
    // nothing: a database on a standby serves its reads as before; a pool's trouble makes it judge.
    const firstSight = this.backends.length === 1 && this.state === 'up' && !this.checking && b.probes === 1 && b.logins === 0;
    this.checking = false;
    if (b.role === 'primary') {
      // Replaced: before this probe's sample, whose position is the new primary's first (fences resolve with it).
      if (this.consider(b)) this.tracker.primaryReplaced(sentAt);
    } else if (b === this.primary && !firstSight) this.lose(b, 'it is in recovery (pg_is_in_recovery() is true)');
    const isPrimary = b === this.primary;
    this.tracker.sampled(i, { inRecovery: b.role !== 'primary', lsn: b.lsn, replayAge: b.replayAge }, sentAt, isPrimary);
  }

  probeFailed(b: Backend, reason: string): void {
    const i = this.backends.indexOf(b);
    if (i < 0 || this.stopped) return;
    const wasPrimary = b === this.primary;
    this.checking = false;
    // A single host that never answered is not lost (nothing was): its clients keep failing on
    // their own dials, as in PgBouncer, rather than waiting for it as for a failover.
    if (wasPrimary && this.neverAnswered() === null) this.lose(b, reason);
    this.tracker.failed(i, b.failures, reason, wasPrimary);
  }

  /**
   * A pool's server of `b` closed under it or refused it (connect refused, shut down, a write
   * refused because the host is read-only): the host's probe checks at once, and its answer
   * decides. Nothing is decided on a pool's word alone: a single server can die for its own reasons.
   */
  serverTrouble(b: Backend): void {
    if (!this.backends.includes(b) || this.stopped) return;
    // A single host is checked only once it has worked: one that never did fails its clients as
    // in PgBouncer (server_login_retry), and is not waited for as if it were failing over.
    if (this.backends.length === 1 && b === this.primary && b.seenWorking) this.checking = true;
    b.pollSoon();
  }

  // ---- Ticking ----

  tick(now: number): void {
    if (this.state !== 'searching' || this.stopped) return;
    const limit = this.opts.failoverTimeout() * 1000;
    if (now - this.searchSince < limit) return;
    this.state = 'unavailable';
    this.timeouts++;
    this.setUrgent(false);
    const error = this.searchError();
    log.warn(`database ${this.name}: ${error.message}; requests fail until a primary is found`);
    this.events.searchFailed(this, error);
  }

  // ---- deciding ----

  /**
   * `b` answers as a primary: accept it, or fence it. True when it replaced an earlier primary
   * (another host, or a newer timeline): positions read on the old one no longer apply.
   */
  private consider(b: Backend): boolean {
    const tl = b.timeline ?? 0;
    if (b === this.primary) {
      if (tl > this.timeline) {
        // Promoted in place of itself (a restored backup, a standby pgmux had taken for the primary).
        const replaced = this.timeline !== 0;
        this.timeline = tl;
        return replaced;
      }
      return false;
    }
    const current = this.primary;
    if (current !== null) {
      // Two hosts write. The one on the newer timeline was promoted after the other: the other
      // is an old primary that has not been stopped, and must take no more writes.
      if (tl > this.timeline) {
        log.warn(`database ${this.name}: ${b.label} is a primary on timeline ${tl}, newer than ${current.label}'s ${this.timeline}: ${current.label} is fenced`);
        this.accept(b, current);
        return true;
      }
      this.fence(b, tl);
      return false;
    }
    const previous = this.lastPrimary;
    const restart = b === previous && tl >= this.timeline;
    if (this.timeline === 0 || tl > this.timeline || restart) {
      const replaced = previous !== null && (previous !== b || tl > this.timeline);
      this.accept(b, previous);
      return replaced;
    }
    this.fence(b, tl);
    return false;
  }

  private accept(b: Backend, previous: Backend | null): void {
    const now = performance.now();
    const searched = this.state !== 'up';
    if (searched) this.lastSearchMs = now - this.searchSince;
    const tl = b.timeline ?? this.timeline;
    if (previous !== null && previous !== b) this.failovers++;
    this.primary = b;
    this.lastPrimary = b;
    this.timeline = tl;
    this.state = 'up';
    this.fenced.clear();
    this.setUrgent(false);
    const how = previous === null ? 'found' : previous === b ? 'back' : `promoted (was ${previous.label})`;
    log.info(
      `database ${this.name}: primary ${b.label} ${how}, timeline ${tl}${searched ? `, after ${Math.round(this.lastSearchMs)} ms without one; releasing held requests` : ''}`,
    );
    this.events.primaryFound(this, previous);
  }

  private fence(b: Backend, tl: number): void {
    if (this.fenced.has(b)) return;
    this.fenced.add(b);
    log.warn(`database ${this.name}: ${b.label} answers as a primary on timeline ${tl}, not newer than the last primary's ${this.timeline}: fenced, it takes no writes`);
  }

  private lose(b: Backend, reason: string): void {
    if (this.primary !== b) return;
    this.primary = null;
    this.lastPrimary = b;
    this.losses++;
    this.searchSince = performance.now();
    const timeout = this.opts.failoverTimeout();
    this.state = timeout > 0 ? 'searching' : 'unavailable';
    this.tracker.primaryGone(reason);
    if (this.state === 'searching') {
      this.setUrgent(true);
      for (const other of this.backends) other.pollSoon();
      log.warn(`database ${this.name}: primary ${b.label} lost (${reason}); new transactions wait up to failover_timeout = ${timeout} s while probing ${this.hostList()}`);
    } else {
      log.warn(`database ${this.name}: primary ${b.label} lost (${reason}); failover_timeout = 0, requests fail until it is back`);
    }
    this.events.primaryLost(this, b);
  }

  private searchError(): ErrorFields {
    return refusals.noPrimary(this.name, this.opts.failoverTimeout(), this.backends.map((b) => b.label));
  }

  private setUrgent(on: boolean): void {
    if (on === this.urgent) return;
    this.urgent = on;
    for (const b of this.backends) b.setUrgent(on ? 1 : -1);
  }

  private hostList(): string {
    return this.backends.map((b) => b.label).join(', ');
  }
}
