// Owns what one database's hosts look like to the router: per host a replica state (replicas.ts)
// with max_replica_lag hysteresis, the primary's WAL position history, and one-shot waiters that
// a read waiting for a replica to catch up registers, all woken at the next sample (no timer per
// read). The router reads `replicas` (live ReplicaStatus objects) at decision time.
//
// It opens no connection: the failover layer (lib/failover) probes every host once per
// replica_lag_poll_interval and feeds each answer here (sampled / failed), saying which host is
// the primary now. Every host of the database has a ReplicaStatus; the primary's is 'wrong-role'
// (not in recovery), so it takes reads only as the primary.
//
// Lag is measured two ways. Bytes: the primary's last pg_current_wal_lsn() minus the replica's
// pg_last_wal_replay_lsn(). Time: how long ago the oldest WAL the replica has not replayed was
// first seen on the primary, from pgmux's own record of the primary's positions. The usual
// now() - pg_last_xact_replay_timestamp() is also polled, but only shown: it grows while the
// primary is idle, so a caught-up replica would look minutes behind after a quiet spell and
// drop out of rotation at the first write.

import type { HostEntry, LagLimit } from '../config';
import { lagBytes, type Lsn } from './lsn';
import { judge, type ReplicaState, type ReplicaStatus } from './replicas';

/** Primary positions kept for the time lag; older ones are dropped (the lag is then a lower bound). */
const MAX_HISTORY = 4096;

export interface LagTrackerOptions {
  /** Every host of the database, in databaseHosts() order (index = bit in the routing masks). */
  readonly hosts: readonly HostEntry[];
  /** replica_lag_poll_interval, seconds: waiters are woken at least this often. */
  readonly pollInterval: number;
  readonly maxLag: LagLimit;
  /**
   * Milliseconds, monotonic: performance.now() unless a spec injects a clock. Write fences
   * (primaryLsnSince) must be taken from this same clock (tracker.now()), and so must the
   * `sentAt` of every sample fed in.
   */
  readonly now?: () => number;
  /** Asks every host to be probed now (a read waiting on a just-committed write). */
  readonly pollSoon?: () => void;
}

/** One probe's answer, as the failover layer read it. */
export interface NodeSample {
  readonly inRecovery: boolean;
  /** pg_current_wal_lsn() on a primary, pg_last_wal_replay_lsn() on a standby. */
  readonly lsn: Lsn | null;
  /** now() - pg_last_xact_replay_timestamp(), seconds, or null. */
  readonly replayAge: number | null;
}

export type PrimaryState = 'connecting' | 'up' | 'down' | 'wrong-role';

export interface PrimaryStatus {
  readonly state: PrimaryState;
  readonly reason: string;
  /** pg_current_wal_lsn() at the last good poll; null before one. */
  readonly lsn: Lsn | null;
  /** When that poll was sent (tracker clock, ms): every commit acknowledged before it is <= lsn. */
  readonly sentAt: number;
  readonly failures: number;
}

export type TrackerEvent =
  | { readonly kind: 'replica-state'; readonly index: number; readonly from: ReplicaState; readonly to: ReplicaState; readonly reason: string }
  | { readonly kind: 'replica-sample'; readonly index: number }
  | { readonly kind: 'primary-state'; readonly from: PrimaryState; readonly to: PrimaryState; readonly reason: string }
  | { readonly kind: 'primary-sample' }
  /**
   * Another host (or the same on a new timeline) became the primary: positions of the old one say
   * nothing about the new one. Every write made before it that survived is at or before what a
   * probe sent after `since` (tracker clock) reads on the new primary.
   */
  | { readonly kind: 'primary-replaced'; readonly since: number };

export type TrackerListener = (event: TrackerEvent) => void;

/** A read waiting for a replica: woken once, at the next poll, then re-routes (and may wait again). */
export interface PollWaiter {
  pollWake(): void;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export class LagTracker {
  /** Live per-host status, in databaseHosts() order; route() reads these objects directly. */
  readonly replicas: readonly ReplicaStatus[];
  readonly primary: PrimaryStatus;
  private readonly replicaStatus: Mutable<ReplicaStatus>[];
  private readonly primaryStatus: Mutable<PrimaryStatus>;
  private readonly listeners = new Set<TrackerListener>();
  private waiters = new Set<PollWaiter>();
  /** Primary positions as first seen, rising: [time received (ms), lsn]. */
  private readonly history: { at: number; lsn: Lsn }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private maxLag: LagLimit;
  private pollIntervalMs: number;
  readonly now: () => number;

  constructor(private readonly opts: LagTrackerOptions) {
    this.now = opts.now ?? (() => performance.now());
    this.maxLag = opts.maxLag;
    this.pollIntervalMs = Math.max(1, opts.pollInterval * 1000);
    const t = this.now();
    this.replicaStatus = opts.hosts.map((address, index) => ({
      index,
      address,
      state: 'connecting',
      reason: 'not polled yet',
      replayLsn: null,
      lagBytes: null,
      lagSeconds: null,
      replayTimestampAge: null,
      failures: 0,
      since: t,
      polls: 0,
    }));
    this.replicas = this.replicaStatus;
    this.primaryStatus = { state: 'connecting', reason: 'not polled yet', lsn: null, sentAt: 0, failures: 0 };
    this.primary = this.primaryStatus;
  }

  /** Starts waking waiters once per poll interval (samples wake them sooner). */
  start(): void {
    if (this.stopped) throw new Error('LagTracker.start: this tracker was stopped; create a new one');
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.wakeAll(), this.pollIntervalMs);
    this.timer.unref();
  }

  /** Stops, and wakes all waiters (they re-route). */
  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.wakeAll();
  }

  get running(): boolean {
    return this.timer !== null;
  }

  /** A RELOAD: the new max_replica_lag applies at the next sample, the interval at once. */
  setLimits(pollInterval: number, maxLag: LagLimit): void {
    this.maxLag = maxLag;
    const ms = Math.max(1, pollInterval * 1000);
    if (ms === this.pollIntervalMs) return;
    this.pollIntervalMs = ms;
    if (this.timer !== null) {
      clearInterval(this.timer);
      this.timer = setInterval(() => this.wakeAll(), ms);
      this.timer.unref();
    }
  }

  /** Subscribes to events; returns the unsubscribe function. */
  on(listener: TrackerListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Wakes `waiter` once, after the next sample or tick (whichever comes first). */
  wakeOnPoll(waiter: PollWaiter): void {
    this.waiters.add(waiter);
  }

  cancelWake(waiter: PollWaiter): void {
    this.waiters.delete(waiter);
  }

  get waiting(): number {
    return this.waiters.size;
  }

  /**
   * The primary's WAL position from a poll sent after `t` (tracker.now() when a commit's
   * ReadyForQuery reached pgmux), or undefined if none yet: the primary had finished that commit
   * before it read the poll, so the position is at or past the commit's. This is how a write's
   * position is learned without a query on the client's path. Strictly after: a poll stamped
   * with the same time may have been sent first.
   */
  primaryLsnSince(t: number): Lsn | undefined {
    const p = this.primaryStatus;
    return p.lsn !== null && p.sentAt > t ? p.lsn : undefined;
  }

  /**
   * Has every host probed now instead of at the next tick: for a read waiting on a just-committed
   * write, its fence resolves and the replicas' positions refresh in a round trip instead of up
   * to an interval. The prober coalesces calls made while probes are in flight.
   */
  pollSoon(): void {
    this.opts.pollSoon?.();
  }

  // ---- fed by the failover layer ----

  /**
   * A good probe of host `index`, sent at `sentAt` (this tracker's clock). `isPrimary`: the
   * failover layer holds this host to be the database's primary now, so its position is the
   * one replicas are measured against and write fences resolve with.
   */
  sampled(index: number, sample: NodeSample, sentAt: number, isPrimary: boolean): void {
    const now = this.now();
    if (isPrimary) this.primarySampled(sample.inRecovery, sample.lsn, sentAt, now);
    this.replicaSampled(index, sample.inRecovery, sample.lsn, sample.replayAge, now);
    this.wakeAll();
  }

  /** Host `index` could not be reached or its probe failed (`failures` in a row). */
  failed(index: number, failures: number, reason: string, isPrimary: boolean): void {
    const now = this.now();
    if (isPrimary) {
      this.primaryStatus.failures = failures;
      this.setPrimaryState('down', reason);
    }
    const r = this.replicaStatus[index];
    r.failures = failures;
    this.setReplicaState(r, 'down', reason, now);
    this.wakeAll();
  }

  /** The failover layer has no primary for the database now (lost, searching). */
  primaryGone(reason: string): void {
    this.setPrimaryState('down', reason);
    this.wakeAll();
  }

  /**
   * The failover layer accepted a new primary (another host, or a newer timeline) on a probe sent
   * at `sentAt`. Its positions may be BEHIND the old primary's (an asynchronous standby promoted
   * with writes lost): the old positions are forgotten, so a commit's fence resolves with the new
   * primary's next position and replicas are measured against it, instead of waiting until the
   * new timeline writes past the old one (reads after every write paying read_your_writes_timeout,
   * its standbys out of rotation as "lagging").
   */
  primaryReplaced(sentAt: number): void {
    const p = this.primaryStatus;
    p.lsn = null;
    p.sentAt = 0;
    this.history.length = 0;
    this.emit({ kind: 'primary-replaced', since: sentAt });
  }

  private primarySampled(inRecovery: boolean, lsn: Lsn | null, sentAt: number, now: number): void {
    const p = this.primaryStatus;
    p.failures = 0;
    if (inRecovery) {
      this.setPrimaryState('wrong-role', 'in recovery (pg_is_in_recovery() is true)');
    } else {
      if (lsn !== null && (p.lsn === null || lsn >= p.lsn)) {
        if (p.lsn === null || lsn > p.lsn) this.remember(lsn, now);
        p.lsn = lsn;
        p.sentAt = sentAt;
      }
      this.setPrimaryState('up', 'answering');
    }
    this.emit({ kind: 'primary-sample' });
  }

  private replicaSampled(index: number, inRecovery: boolean, replay: Lsn | null, age: number | null, now: number): void {
    const r = this.replicaStatus[index];
    const primaryLsn = this.primaryStatus.lsn;
    r.failures = 0;
    r.polls++;
    r.replayLsn = inRecovery ? replay : null;
    r.replayTimestampAge = age;
    if (inRecovery && replay !== null) {
      r.lagBytes = primaryLsn === null ? null : lagBytes(primaryLsn, replay);
      r.lagSeconds = this.lagSeconds(replay, now);
    } else {
      r.lagBytes = null;
      r.lagSeconds = null;
    }
    const verdict = judge(r.state, { inRecovery, replayLsn: r.replayLsn, lagBytes: r.lagBytes, lagSeconds: r.lagSeconds }, this.maxLag);
    this.setReplicaState(r, verdict.state, verdict.reason, now);
    this.prune();
    this.emit({ kind: 'replica-sample', index });
  }

  // ---- internals ----

  /**
   * Seconds since the primary was first seen past `replay`: 0 when the replica has replayed the
   * primary's last known position, null while the primary's position is unknown.
   */
  private lagSeconds(replay: Lsn, now: number): number | null {
    const h = this.history;
    if (h.length === 0) return null;
    if (replay >= h[h.length - 1].lsn) return 0;
    for (const entry of h) if (entry.lsn > replay) return Math.max(0, (now - entry.at) / 1000);
    return 0;
  }

  private remember(lsn: Lsn, at: number): void {
    this.history.push({ at, lsn });
    if (this.history.length > MAX_HISTORY) this.history.shift();
  }

  /** Drops primary positions every replica with a known position has replayed. */
  private prune(): void {
    let min: Lsn | null = null;
    for (const r of this.replicaStatus) {
      if (r.replayLsn === null) continue;
      if (min === null || r.replayLsn < min) min = r.replayLsn;
    }
    if (min === null) return;
    let drop = 0;
    while (drop < this.history.length - 1 && this.history[drop].lsn <= min) drop++;
    if (drop > 0) this.history.splice(0, drop);
  }

  private setReplicaState(r: Mutable<ReplicaStatus>, to: ReplicaState, reason: string, now: number): void {
    const from = r.state;
    r.reason = reason;
    if (from === to) return;
    r.state = to;
    r.since = now;
    this.emit({ kind: 'replica-state', index: r.index, from, to, reason });
  }

  private setPrimaryState(to: PrimaryState, reason: string): void {
    const p = this.primaryStatus;
    const from = p.state;
    p.reason = reason;
    if (from === to) return;
    p.state = to;
    this.emit({ kind: 'primary-state', from, to, reason });
  }

  private emit(event: TrackerEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  private wakeAll(): void {
    if (this.waiters.size === 0) return;
    // Swap first: a waiter that waits again while being woken joins the next round.
    const woken = this.waiters;
    this.waiters = new Set();
    for (const w of woken) w.pollWake();
  }
}
