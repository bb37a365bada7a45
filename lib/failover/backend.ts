// Owns one PostgreSQL host as pgmux knows it: its address and the one dialer everything uses to
// reach it, its circuit breaker, and what its health probe last found (role, WAL position,
// timeline, round trip). The probe is one small connection that asks the same question every
// replica_lag_poll_interval; pools report what they see too (passive signals). Databases that
// name the host watch it (lib/failover/topology.ts); the host itself has no opinion on who is
// the primary of what. Whether a lost connection went with its host is lib/failover/went-away's
// verdict; with workers > 1 the probe is shared (lib/failover/probe-relay).

import { log } from '../log';
import type { ErrorFields } from '../protocol/backend';
import { SqlState } from '../protocol/codes';
import { parseLsn, type Lsn } from '../routing/lsn';
import { MonitorClient, type MonitorHandler, type MonitorLogin, type MonitorRow } from '../routing/monitor';
import { CircuitBreaker, type BreakerTransition, type FailureKind } from './breaker';
import { addressLabel, Dialer, type BackendAddress } from './dialer';
import { POSTMASTER_START_SQL, PostmasterRuns, type PostmasterRun } from './postmaster-runs';
import { ProbeHearing, type ProbeRelay } from './probe-relay';
import { AliveVerdicts } from './went-away';
import { ping } from './ping';


/**
 * One question for every host. Its timeline is the one it writes on as a primary (the first 8
 * hex digits of its current WAL file's name), or the one it receives as a standby (shown only).
 * The postmaster's start time changes with every restart and with nothing else
 * (lib/failover/postmaster-runs).
 */
export const PROBE_SQL =
  'SELECT pg_is_in_recovery(), ' +
  'CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END, ' +
  'extract(epoch FROM now() - pg_last_xact_replay_timestamp()), ' +
  "CASE WHEN pg_is_in_recovery() THEN (SELECT received_tli FROM pg_stat_wal_receiver) ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END, " +
  POSTMASTER_START_SQL;
const PROBE_COLUMNS = 5;

/** A probe unanswered this long (or this many intervals, if longer) counts as a failure. */
export const MIN_PROBE_TIMEOUT_MS = 2000;
export const PROBE_TIMEOUT_INTERVALS = 10;
/** A host nobody probes is pinged this often (or every this many poll intervals, if longer). */
export const MIN_PING_INTERVAL_MS = 2000;
export const PING_INTERVALS = 20;
/** With workers > 1 the probe login's parameters go along with every this many answers too (a worker started later learns them). */
const PARAMS_SHARE_EVERY = 100;
/** Weight of the newest round trip in the moving average (load_balance = latency). */
const RTT_ALPHA = 0.2;

export type BackendRole = 'unknown' | 'primary' | 'standby';

/** Who hears about a host's probes: the topologies of the databases that name it. */
export interface BackendWatcher {
  /**
   * Whether this watcher needs the host probed now. A single-host database does not while its
   * primary is up (no extra connection, as with PgBouncer); one with replicas or several hosts does.
   */
  readonly probing: boolean;
  /**
   * Whether this watcher wants the host pinged while nobody probes it (a single-host database whose
   * primary serves): a host that went away with no pooled connection open is noticed then, not at
   * the next client's request (lib/failover/ping).
   */
  readonly pinging: boolean;
  /** A probe answered; `sentAt` is when it was sent (performance.now() ms). */
  probed(backend: Backend, sentAt: number): void;
  /** The probe could not connect or log in, lost its connection, or went unanswered. */
  probeFailed(backend: Backend, reason: string): void;
}

/** Settings a backend reads at every step, so a RELOAD applies at once. */
export interface BackendSettings {
  /** replica_lag_poll_interval, ms. */
  readonly pollIntervalMs: number;
  /** server_connect_timeout, ms (at least 1 s). */
  readonly connectTimeoutMs: number;
  /** server_login_retry, ms: a probe whose login was refused tries again after this. */
  readonly loginRetryMs: number;
}

export class Backend implements MonitorHandler {
  readonly dialer: Dialer;
  readonly breaker = new CircuitBreaker();
  readonly label: string;
  role: BackendRole = 'unknown';
  /** pg_current_wal_lsn() as a primary, pg_last_wal_replay_lsn() as a standby; null before a probe. */
  lsn: Lsn | null = null;
  timeline: number | null = null;
  /** now() - pg_last_xact_replay_timestamp() on a standby, seconds. */
  replayAge: number | null = null;
  /** Wall-clock ms of the last answered probe (SHOW HOSTS); 0 before one. */
  lastProbeAt = 0;
  /** Moving average of probe round trips, ms; null before one. */
  rttMs: number | null = null;
  /** Failed probes in a row; 0 once one answers. */
  failures = 0;
  lastError = '';
  probes = 0;
  /** Pooled connections that logged in, ever: the host has been seen working. */
  logins = 0;
  /** Requests of the pools on this host running now or queued (load_balance = least_outstanding); kept by the pools. */
  outstanding = 0;
  private readonly watchers = new Set<BackendWatcher>();
  private readonly loginProviders: (() => MonitorLogin | null)[] = [];
  private monitor: MonitorClient | null = null;
  private connectStartedAt = 0;
  /** When the probe in flight was sent; -1 when none is. */
  private pollSentAt = -1;
  private nextPollAt = 0;
  private retryAt = 0;
  /** pollSoon() came while a probe was in flight: probe again as soon as it answers. */
  private again = false;
  /** Waiting for a probe's verdict on whether the host is still up (checkAlive, wentAway). */
  private readonly verdicts = new AliveVerdicts();
  /** The postmaster's start time as the last answered probe read it (POSTMASTER_START_SQL); null before one. */
  postmasterStart: string | null = null;
  /** Which run of the postmaster the pooled connections are on (wentAway). */
  private readonly runs = new PostmasterRuns();
  /** Topologies that need this host found fast (a failover searching): short cooldowns. */
  private urgentBy = 0;
  private stopped = false;
  /** When the next ping falls due (lib/failover/ping); a ping is in flight while `pinging`. */
  private nextPingAt = 0;
  private pinging = false;
  /**
   * The ParameterStatus set the probe's last login got (the probing worker's, with workers > 1);
   * null before one. A pool that has never logged in welcomes its clients with it while a failover
   * leaves no primary to log in to (lib/pool/database-hosts borrowedParams).
   */
  loginParams: ReadonlyMap<string, string> | null = null;
  /** The probe logged in again and its parameters have not gone to the other workers yet. */
  private paramsUnshared = false;
  /** Workers > 1: the probes are shared (lib/failover/probe-relay). */
  private readonly shared = new ProbeHearing(this);

  constructor(
    readonly address: BackendAddress,
    private readonly settings: () => BackendSettings,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.label = addressLabel(address);
    this.dialer = new Dialer(address, undefined, () => this.settings().connectTimeoutMs);
  }

  /** Workers > 1: the probes are shared (ProbeRelay); null: this process probes its hosts itself. */
  get relay(): ProbeRelay | null {
    return this.shared.relay;
  }

  set relay(relay: ProbeRelay | null) {
    this.shared.relay = relay;
  }

  watch(watcher: BackendWatcher): () => void {
    this.watchers.add(watcher);
    return () => {
      this.watchers.delete(watcher);
      // Nobody asks any more (RELOAD, shutdown): the probe connection goes; a new watcher reconnects.
      if (this.watchers.size === 0) this.quiet('no database names this host any more');
    };
  }

  /** Whether any watcher needs the host probed now (or a caller waits for a verdict). */
  get wanted(): boolean {
    if (this.verdicts.waiting) return true;
    for (const w of this.watchers) if (w.probing) return true;
    return false;
  }

  /**
   * Calls `verdict` once, after the first probe sent after this call: true when it answered (the
   * host is up), false when it could not connect, log in or get an answer (the host is going
   * away). An answer to a probe already out may predate what the caller saw (a shutdown), so it
   * does not count. Used to tell a shutdown from one connection terminated by an operator, which
   * look the same from inside.
   */
  checkAlive(verdict: (alive: boolean) => void): void {
    // Not connected and already failing: nothing more to learn.
    if (this.monitor === null && this.failures > 0) {
      verdict(this.verdicts.lastVerdict);
      return;
    }
    this.verdicts.ask(this.now(), verdict);
    this.pollSoon();
  }

  /**
   * Whether a connection of `run` that ended with FATAL 57P01 went with its host (a shutdown,
   * even one followed at once by a restart in place) rather than alone (pg_terminate_backend,
   * which must not bring the killed query back). The next probe decides: the host is down, or it
   * answers from another postmaster than the connection's (its start time changed: restarted,
   * however fast), or the probe's own connection was lost from PROBE_LOST_MS before the ask on
   * (a shutdown ends it in the same moment; an operator's pg_terminate_backend of client
   * sessions does not). With the run's start time unknown (not learned yet), only the last two.
   */
  wentAway(run: PostmasterRun | null, verdict: (away: boolean) => void): void {
    const asked = this.now();
    this.checkAlive((alive) => verdict(this.verdicts.wentAway(run, asked, alive, this.postmasterStart)));
  }

  /** Verdicts asked at or before `sentAt` (a failure: all) get `alive`. */
  private settle(alive: boolean, sentAt = Infinity): void {
    this.verdicts.settle(alive, sentAt);
  }

  /** A way to log in for the probe; the first provider that has one is used at each connect. */
  addLogin(provider: () => MonitorLogin | null): () => void {
    this.loginProviders.push(provider);
    return () => {
      const i = this.loginProviders.indexOf(provider);
      if (i >= 0) this.loginProviders.splice(i, 1);
    };
  }

  get watched(): boolean {
    return this.watchers.size > 0;
  }

  /**
   * One of the host's pooled connections ended under a pool while idle: its others may be dying
   * too (a shutdown ends them all at once), so none is handed out, and none opened, until the
   * probe says how the host is (checkAlive). A lone terminated connection costs a round trip.
   */
  suspect = false;
  private suspectWaiters: (() => void)[] = [];

  /** Whether pools may open connections now (not suspect, and the breaker is closed). */
  get dialable(): boolean {
    return !this.suspect && this.breaker.allows(this.now(), false);
  }

  /** A pooled connection ended under a pool: suspect the host until the probe answers, then call `resume`. */
  suspectDown(resume: () => void): void {
    this.suspectWaiters.push(resume);
    if (this.suspect) return;
    this.suspect = true;
    this.checkAlive(() => {
      this.suspect = false;
      const waiting = this.suspectWaiters;
      this.suspectWaiters = [];
      for (const w of waiting) w();
    });
  }

  /** A failover needs this host found fast (+1), or no longer (-1). */
  setUrgent(delta: 1 | -1): void {
    this.urgentBy = Math.max(0, this.urgentBy + delta);
    const now = this.now();
    this.breaker.urgent(this.urgentBy > 0 ? this.pollIntervalMs() * 2.5 : null, now);
    if (this.urgentBy > 0 && this.retryAt > now + this.pollIntervalMs() * 2.5) this.retryAt = now;
  }

  /** Once per tick (lib/failover/backends.ts): connect, probe, or give up on a slow one. */
  step(now: number): void {
    if (this.stopped) return;
    if (!this.wanted) {
      // Probed only while someone needs it (a single-host database checking its primary).
      if (this.monitor !== null) this.quiet('no longer needed');
      this.shared.unneeded();
      this.pingIfDue(now);
      return;
    }
    if (this.shared.hearing && this.listen(now)) return;
    const m = this.monitor;
    if (m === null) {
      if (now >= this.retryAt) this.connect(now);
    } else if (!m.ready) {
      if (now - this.connectStartedAt > this.settings().connectTimeoutMs) m.close(`connect timed out (server_connect_timeout)`);
    } else if (this.pollSentAt >= 0) {
      if (now - this.pollSentAt > this.probeTimeoutMs()) m.close(`probe unanswered for ${this.probeTimeoutMs()} ms`);
    } else if (now >= this.nextPollAt) {
      this.poll(m, now);
    }
  }

  /**
   * Nobody probes the host: ping it every ping interval, and when the ping fails ask the probe at
   * once (checkAlive), whose failure tells the watchers the host is lost. With workers > 1 only
   * the probing worker pings; the others hear its probe.
   */
  private pingIfDue(now: number): void {
    if (this.pinging || now < this.nextPingAt || this.shared.hearing) return;
    let wanted = false;
    for (const w of this.watchers) wanted ||= w.pinging;
    if (!wanted) return;
    this.pinging = true;
    ping(this.address, this.probeTimeoutMs(), (failure) => {
      this.pinging = false;
      this.nextPingAt = this.now() + Math.max(MIN_PING_INTERVAL_MS, PING_INTERVALS * this.pollIntervalMs());
      if (failure === null || this.stopped) return;
      log.warn(`backend ${this.label}: ${failure}; probing it`);
      this.checkAlive(() => undefined);
    });
  }

  /** Hearing, and the host is needed: true while the shared probe serves; false: probe here (lib/failover/probe-relay). */
  private listen(now: number): boolean {
    if (this.shared.listen(now, { pollIntervalMs: this.pollIntervalMs(), probeTimeoutMs: this.probeTimeoutMs() }, this.failures > 0)) return true;
    log.warn(`backend ${this.label}: no shared probe answer for ${Math.round(this.shared.silentFor(now))} ms; this worker probes it itself until one comes`);
    return false;
  }

  /** Hearing: the probing worker's probe, sent at `sentAt` (this process's clock), answered `row`. */
  heard(row: MonitorRow, sentAt: number, rttMs: number, params: ReadonlyMap<string, string> | null): void {
    if (!this.heardSomething()) return;
    if (params !== null) this.loginParams = params;
    this.answered(row, sentAt, rttMs);
    // A verdict waits for a probe sent after its ask: ask for one.
    if (this.verdicts.waiting) this.pollSoon();
  }

  /** Hearing: the probing worker's probe connection failed. */
  heardFailure(reason: string, kind: FailureKind): void {
    if (!this.heardSomething()) return;
    this.probeFailed(reason, kind);
  }

  /** Probing for other workers: one of them needs the host probed (now, when `urgent`), whether or not this one does. */
  probeForOther(urgent: boolean): void {
    // A verdict waiter keeps the host wanted until the next probe (the answer goes to every worker).
    if (!this.wanted) this.checkAlive(() => undefined);
    else if (urgent) this.pollSoon();
  }

  private heardSomething(): boolean {
    if (this.stopped) return false;
    const { hears, wasOwn } = this.shared.heard(this.now());
    if (!hears) return false;
    if (wasOwn) {
      if (this.monitor !== null) log.info(`backend ${this.label}: the shared probe answers again; this worker's own probe stops`);
      this.quiet('the shared probe answers again');
    }
    return true;
  }

  /** Probe now instead of at the next interval (coalesced with one in flight). */
  pollSoon(): void {
    if (this.shared.hearing && !this.stopped) {
      this.shared.askNow(this.now(), this.probeTimeoutMs());
      return;
    }
    const m = this.monitor;
    if (this.stopped || m === null || !m.ready) {
      // Not connected: connect at the next tick (if the breaker lets a probe through).
      if (m === null && this.failures === 0) this.retryAt = 0;
      return;
    }
    if (this.pollSentAt >= 0) this.again = true;
    else this.poll(m, this.now());
  }

  stop(): void {
    this.stopped = true;
    this.quiet('stopped');
    this.settle(true);
  }

  /** Closes the probe connection without counting a failure. */
  private quiet(reason: string): void {
    const m = this.monitor;
    this.monitor = null;
    this.pollSentAt = -1;
    this.again = false;
    m?.close(reason);
  }

  // ---- passive signals from pools ----

  /** A pooled connection logged in: the host answers. Returns the run of the postmaster it is on. */
  serverLoggedIn(): PostmasterRun {
    this.logins++;
    this.note(this.breaker.success());
    return this.runs.join();
  }

  /** A pooled connection of `run` closed; `byServer`: the server ended it (lib/failover/postmaster-runs). */
  serverEnded(run: PostmasterRun, byServer: boolean): void {
    this.runs.leave(run, byServer);
  }

  /** Whether the host has ever answered (a probe or a pooled login). */
  get seenWorking(): boolean {
    return this.logins > 0 || this.probes > 0;
  }

  /**
   * A pooled connection failed: could not connect, login refused (`auth` for a bad password,
   * network for the server starting up or shutting down), or lost. The probe checks at once.
   */
  serverFailed(kind: FailureKind, reason: string): void {
    this.note(this.breaker.failure(kind, this.now(), reason));
    this.pollSoon();
  }

  // ---- the probe ----

  /** Opens the probe connection, when there is someone to log in as and the breaker lets a probe through. */
  private connect(now: number): void {
    let login: MonitorLogin | null = null;
    for (const provider of this.loginProviders) {
      login = provider();
      if (login !== null) break;
    }
    if (login === null) {
      // Nobody to log in as yet (no db user, auth_user or usable userlist entry): a client's
      // login will give one. Try again in a while; a verdict cannot wait that long.
      this.retryAt = now + Math.max(1000, this.pollIntervalMs());
      this.settle(true);
      return;
    }
    if (!this.breaker.allows(now, true)) return;
    this.connectStartedAt = now;
    this.monitor = new MonitorClient(this.dialer.connect, login, this);
  }

  private poll(m: MonitorClient, now: number): void {
    this.pollSentAt = now;
    m.query(PROBE_SQL);
  }

  monitorReady(m: MonitorClient): void {
    if (m !== this.monitor) return;
    this.loginParams = m.loginParams;
    this.paramsUnshared = true;
    // First probe right away, so a host is judged one round trip after it comes back.
    this.poll(m, this.now());
  }

  monitorResult(m: MonitorClient, rows: MonitorRow[], error: string | null): void {
    if (m !== this.monitor) return;
    const sentAt = this.pollSentAt;
    this.pollSentAt = -1;
    const row = rows[0];
    if (error !== null || row === undefined || row.length < PROBE_COLUMNS) {
      m.close(`probe failed: ${error ?? 'no row'}`);
      return;
    }
    const rtt = this.now() - sentAt;
    const sharing = this.shared.sharing;
    if (sharing !== null) {
      const share = this.paramsUnshared || this.probes % PARAMS_SHARE_EVERY === 0;
      sharing.answered(this, row, sentAt, rtt, share ? this.loginParams : null);
      this.paramsUnshared = false;
    }
    this.answered(row, sentAt, rtt);
    // pollSoon() came while this probe was out, or a verdict waits for one sent after its ask.
    if ((this.again || this.verdicts.waiting) && this.monitor === m && this.pollSentAt < 0) {
      this.again = false;
      this.poll(m, this.now());
    }
  }

  monitorClosed(m: MonitorClient, reason: string): void {
    if (m !== this.monitor) return;
    this.monitor = null;
    this.pollSentAt = -1;
    this.again = false;
    if (this.stopped) return;
    const kind = failureKind(m.loginError);
    this.shared.sharing?.failed(this, reason, kind);
    this.probeFailed(reason, kind);
  }

  /** A probe connection failed (this process's, or the probing worker's). */
  private probeFailed(reason: string, kind: FailureKind): void {
    if (kind === 'full') this.probeRefusedFull(reason);
    else this.probeDown(reason, kind);
  }

  /**
   * The probe's login was refused with 53300 (too many connections): the host is up, only full.
   * Nothing is lost or searched for, and a verdict waiting on the probe hears it is alive; the
   * probe tries again at the next interval (a slot may have freed).
   */
  private probeRefusedFull(reason: string): void {
    const now = this.now();
    if (this.lastError !== reason) log.warn(`backend ${this.label}: probe refused: ${reason} (the host is up, only full: not counted as down)`);
    this.lastError = reason;
    this.note(this.breaker.failure('full', now, reason));
    this.retryAt = now + this.pollIntervalMs();
    this.settle(true);
  }

  /** A probe answered (this process's, or the probing worker's). */
  private answered(row: MonitorRow, sentAt: number, rtt: number): void {
    this.record(row, rtt);
    this.runs.probed(this.postmasterStart);
    this.nextPollAt = sentAt + this.pollIntervalMs();
    this.note(this.breaker.success());
    for (const w of [...this.watchers]) w.probed(this, sentAt);
    this.settle(true, sentAt);
  }

  /** The probe could not reach the host, or its login was refused as unusable (auth): it counts as a failure. */
  private probeDown(reason: string, kind: FailureKind): void {
    const now = this.now();
    this.verdicts.probeLost(now, kind === 'auth');
    this.failures++;
    this.lastError = reason;
    this.note(this.breaker.failure(kind, now, reason));
    // A refused login waits server_login_retry, as a pool's does. Otherwise: a growing delay
    // while the breaker is closed, its cooldown once open.
    const backoff = kind === 'auth' ? this.settings().loginRetryMs : Math.min(this.maxRetryDelay(), this.pollIntervalMs() * 2 ** Math.min(this.failures - 1, 20));
    this.retryAt = Math.max(this.breaker.retryAt, now + backoff);
    for (const w of [...this.watchers]) w.probeFailed(this, reason);
    // A refused login says nothing about whether the host is going away; anything else does.
    this.settle(kind === 'auth');
  }

  private record(row: MonitorRow, rtt: number): void {
    const inRecovery = row[0] === 't';
    this.role = inRecovery ? 'standby' : 'primary';
    this.lsn = row[1] === null || row[1] === undefined ? null : (parseLsn(row[1]) ?? null);
    this.replayAge = row[2] === null || row[2] === undefined ? null : Number(row[2]);
    const tl = row[3] === null || row[3] === undefined ? null : Number(row[3]);
    // A standby's received_tli is NULL to a probe user without pg_read_all_stats: unknown then,
    // not the timeline it last wrote on as a primary (a rebuilt old primary would show its old one).
    if (tl !== null && Number.isFinite(tl)) this.timeline = tl;
    else if (inRecovery) this.timeline = null;
    this.postmasterStart = row[4] ?? null;
    this.failures = 0;
    this.lastError = '';
    this.lastProbeAt = Date.now();
    this.probes++;
    this.rttMs = this.rttMs === null ? rtt : this.rttMs + RTT_ALPHA * (rtt - this.rttMs);
  }

  private note(t: BreakerTransition | null): void {
    if (t !== null) log.info(`backend ${this.label}: circuit breaker ${t.from} -> ${t.to} (${t.reason})`);
  }

  private pollIntervalMs(): number {
    return this.settings().pollIntervalMs;
  }

  private probeTimeoutMs(): number {
    return Math.max(MIN_PROBE_TIMEOUT_MS, PROBE_TIMEOUT_INTERVALS * this.pollIntervalMs());
  }

  private maxRetryDelay(): number {
    return this.urgentBy > 0 ? this.pollIntervalMs() * 2.5 : this.breaker.maxCooldownMs;
  }
}

/**
 * Why a login was refused: the host is full (53300: up, only out of connection slots), not ready
 * (57P03: starting up, shutting down, in recovery: it will answer again, or is going away), or a
 * bad password, a missing role or database (auth). No login error: the connection failed or was lost.
 */
export function failureKind(loginError: ErrorFields | null): FailureKind {
  if (loginError === null) return 'network';
  if (loginError.code === SqlState.TooManyConnections) return 'full';
  return loginError.code.startsWith('57') ? 'network' : 'auth';
}
