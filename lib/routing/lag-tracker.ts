// Owns the health and replay position of one database's replicas: one monitor connection per
// node (the primary and each replica), polled every replica_lag_poll_interval from a single
// timer; per replica a state (replicas.ts) with max_replica_lag hysteresis and a circuit
// breaker for down nodes; events for state changes and samples; and one-shot waiters that a
// read waiting for a replica to catch up registers, all woken at the next poll (no timer per
// read). The router reads `replicas` (live ReplicaStatus objects) at decision time.
//
// Lag is measured two ways. Bytes: the primary's last pg_current_wal_lsn() minus the replica's
// pg_last_wal_replay_lsn(). Time: how long ago the oldest WAL the replica has not replayed was
// first seen on the primary, from pgmux's own record of the primary's positions. The usual
// now() - pg_last_xact_replay_timestamp() is also polled, but only shown: it grows while the
// primary is idle, so a caught-up replica would look minutes behind after a quiet spell and
// drop out of rotation at the first write.

import type { LagLimit, ReplicaAddress } from '../config';
import { lagBytes, parseLsn, type Lsn } from './lsn';
import { MonitorClient, type MonitorAddress, type MonitorHandler, type MonitorLogin, type MonitorRow } from './monitor';
import { judge, type ReplicaState, type ReplicaStatus } from './replicas';

/** One poll, the same text for every node: the LSN is the replay position on a node in recovery. */
export const POLL_SQL =
  'SELECT pg_is_in_recovery(), ' +
  'CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END, ' +
  'extract(epoch FROM now() - pg_last_xact_replay_timestamp())';

/** Circuit breaker: the longest a down node waits between reconnects. */
export const MAX_RETRY_DELAY_MS = 5000;
/** A poll unanswered this long (or POLL_TIMEOUT_INTERVALS polls' time, if longer) counts as down. */
export const MIN_POLL_TIMEOUT_MS = 2000;
export const POLL_TIMEOUT_INTERVALS = 10;
/** Primary positions kept for the time lag; older ones are dropped (the lag is then a lower bound). */
const MAX_HISTORY = 4096;

export interface LagTrackerOptions {
  readonly primary: { readonly host: string | undefined; readonly port: number };
  readonly replicas: readonly ReplicaAddress[];
  /** Asked at every connect, so a RELOAD's new credentials are used at the next reconnect. */
  readonly login: () => MonitorLogin;
  readonly unixSocketDir: string;
  /** replica_lag_poll_interval, seconds. */
  readonly pollInterval: number;
  readonly maxLag: LagLimit;
  /** server_connect_timeout, seconds: a connect + login taking longer counts as down. */
  readonly connectTimeout: number;
  /**
   * Milliseconds, monotonic: performance.now() unless a spec injects a clock. Write fences
   * (primaryLsnSince) must be taken from this same clock (tracker.now()).
   */
  readonly now?: () => number;
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
  | { readonly kind: 'primary-sample' };

export type TrackerListener = (event: TrackerEvent) => void;

/** A read waiting for a replica: woken once, at the next poll, then re-routes (and may wait again). */
export interface PollWaiter {
  pollWake(): void;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export class LagTracker {
  /** Live per-replica status, in config order; route() reads these objects directly. */
  readonly replicas: readonly ReplicaStatus[];
  readonly primary: PrimaryStatus;
  private readonly replicaStatus: Mutable<ReplicaStatus>[];
  private readonly primaryStatus: Mutable<PrimaryStatus>;
  private readonly nodes: TrackedNode[];
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
    this.replicaStatus = opts.replicas.map((address, index) => ({
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
    this.nodes = [
      new TrackedNode(this, -1, { host: opts.primary.host, port: opts.primary.port, unixSocketDir: opts.unixSocketDir }),
      ...opts.replicas.map((r, i) => new TrackedNode(this, i, { host: r.host, port: r.port, unixSocketDir: opts.unixSocketDir })),
    ];
  }

  /** Connects to every node and starts polling. A stopped tracker stays stopped: make a new one. */
  start(): void {
    if (this.stopped) throw new Error('LagTracker.start: this tracker was stopped; create a new one');
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.tick(), this.pollIntervalMs);
    this.tick();
  }

  /** Stops polling, closes every connection and wakes all waiters (they re-route). */
  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const node of this.nodes) node.shutdown();
    this.wakeAll();
  }

  get running(): boolean {
    return this.timer !== null;
  }

  /** A RELOAD: the new max_replica_lag applies at the next poll, the interval at once. */
  setLimits(pollInterval: number, maxLag: LagLimit): void {
    this.maxLag = maxLag;
    const ms = Math.max(1, pollInterval * 1000);
    if (ms === this.pollIntervalMs) return;
    this.pollIntervalMs = ms;
    if (this.timer !== null) {
      clearInterval(this.timer);
      this.timer = setInterval(() => this.tick(), ms);
    }
  }

  /** Subscribes to events; returns the unsubscribe function. */
  on(listener: TrackerListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Wakes `waiter` once, after the next poll answer or tick (whichever comes first). */
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
   * Polls every connected node now instead of at the next tick (a node with a poll in flight polls
   * again as soon as it answers). For a read waiting on a just-committed write: its fence resolves
   * and the replicas' positions refresh in a round trip instead of up to an interval. Calls made
   * while polls are in flight coalesce, so each node has at most one poll in flight.
   */
  pollSoon(): void {
    const now = this.now();
    for (const node of this.nodes) node.pollSoon(now);
  }

  get pollTimeoutMs(): number {
    return Math.max(MIN_POLL_TIMEOUT_MS, POLL_TIMEOUT_INTERVALS * this.pollIntervalMs);
  }

  get connectTimeoutMs(): number {
    return this.opts.connectTimeout * 1000;
  }

  /** Circuit breaker delay after `failures` consecutive failures: one interval, doubling, capped. */
  retryDelayMs(failures: number): number {
    return Math.min(MAX_RETRY_DELAY_MS, this.pollIntervalMs * 2 ** Math.min(failures - 1, 20));
  }

  // ---- called by TrackedNode ----

  login(): MonitorLogin {
    return this.opts.login();
  }

  /** A good poll of node `index` (-1: the primary). */
  sampled(index: number, row: MonitorRow, sentAt: number): void {
    const now = this.now();
    const inRecovery = row[0] === 't';
    const lsn = row[1] === null || row[1] === undefined ? null : (parseLsn(row[1]) ?? null);
    if (index < 0) this.primarySampled(inRecovery, lsn, sentAt, now);
    else this.replicaSampled(index, inRecovery, lsn, row[2] ?? null, now);
    this.wakeAll();
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

  private replicaSampled(index: number, inRecovery: boolean, replay: Lsn | null, ageText: string | null, now: number): void {
    const r = this.replicaStatus[index];
    const primaryLsn = this.primaryStatus.lsn;
    r.failures = 0;
    r.polls++;
    r.replayLsn = inRecovery ? replay : null;
    r.replayTimestampAge = ageText === null ? null : Number(ageText);
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

  /** Node `index` lost its connection or could not connect. */
  failed(index: number, failures: number, reason: string): void {
    const now = this.now();
    if (index < 0) {
      this.primaryStatus.failures = failures;
      this.setPrimaryState('down', reason);
    } else {
      const r = this.replicaStatus[index];
      r.failures = failures;
      this.setReplicaState(r, 'down', reason, now);
    }
    this.wakeAll();
  }

  // ---- internals ----

  /** Once per poll interval: every node connects, polls or times out; then waiters re-route. */
  private tick(): void {
    const now = this.now();
    for (const node of this.nodes) node.step(now);
    this.wakeAll();
  }

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

/**
 * One node's connection and schedule: connect (again after the circuit breaker's delay), poll
 * once per tick when the last poll has answered, and give up on a connect or poll that takes
 * too long. Every way of failing goes through monitorClosed.
 */
class TrackedNode implements MonitorHandler {
  private monitor: MonitorClient | null = null;
  private connectStartedAt = 0;
  /** When the poll in flight was sent; -1 when none is. */
  private pollSentAt = -1;
  private retryAt = 0;
  private failures = 0;
  private stopped = false;
  /** pollSoon() came while a poll was in flight: poll again as soon as it answers. */
  private again = false;

  constructor(
    private readonly tracker: LagTracker,
    /** -1 for the primary. */
    private readonly index: number,
    private readonly address: MonitorAddress,
  ) {}

  step(now: number): void {
    if (this.stopped) return;
    const m = this.monitor;
    if (m === null) {
      if (now >= this.retryAt) this.connect(now);
    } else if (!m.ready) {
      if (now - this.connectStartedAt > this.tracker.connectTimeoutMs) m.close('connect timed out (server_connect_timeout)');
    } else if (this.pollSentAt >= 0) {
      if (now - this.pollSentAt > this.tracker.pollTimeoutMs) m.close(`poll unanswered for ${this.tracker.pollTimeoutMs} ms`);
    } else {
      this.poll(m, now);
    }
  }

  pollSoon(now: number): void {
    const m = this.monitor;
    if (this.stopped || m === null || !m.ready) return;
    if (this.pollSentAt >= 0) this.again = true;
    else this.poll(m, now);
  }

  shutdown(): void {
    this.stopped = true;
    this.monitor?.close('lag tracker stopped');
  }

  private connect(now: number): void {
    this.connectStartedAt = now;
    let login: MonitorLogin;
    try {
      login = this.tracker.login();
    } catch (err) {
      this.fail(`no login for the lag monitor: ${(err as Error).message}`);
      return;
    }
    this.monitor = new MonitorClient(this.address, login, this);
  }

  private poll(m: MonitorClient, now: number): void {
    this.pollSentAt = now;
    m.query(POLL_SQL);
  }

  monitorReady(m: MonitorClient): void {
    if (m !== this.monitor) return;
    // First poll right away, so a node is judged one round trip after it comes back.
    this.poll(m, this.tracker.now());
  }

  monitorResult(m: MonitorClient, rows: MonitorRow[], error: string | null): void {
    if (m !== this.monitor) return;
    const sentAt = this.pollSentAt;
    this.pollSentAt = -1;
    const row = rows[0];
    if (error !== null || row === undefined || row.length < 3) {
      m.close(`poll failed: ${error ?? 'no row'}`);
      return;
    }
    this.failures = 0;
    this.tracker.sampled(this.index, row, sentAt);
    if (this.again && this.monitor === m && this.pollSentAt < 0) {
      this.again = false;
      this.poll(m, this.tracker.now());
    }
  }

  monitorClosed(m: MonitorClient, reason: string): void {
    if (m !== this.monitor) return;
    this.monitor = null;
    this.pollSentAt = -1;
    this.again = false;
    if (this.stopped) return;
    this.fail(reason);
  }

  private fail(reason: string): void {
    this.failures++;
    this.retryAt = this.tracker.now() + this.tracker.retryDelayMs(this.failures);
    this.tracker.failed(this.index, this.failures, reason);
  }
}
