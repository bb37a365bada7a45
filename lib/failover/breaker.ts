// Owns one backend's circuit breaker: closed (dial freely) -> open after repeated failures within
// a window (nobody dials) -> half-open after a cooldown (one probe may dial) -> closed on its
// success, open again with a longer cooldown on its failure. Only network failures open it.
// Failed logins are kept apart and counted: they belong to one user (a bad password of one must
// not cut the host off for the others), and are retried only after server_login_retry, by the
// pool and the probe alike, never in a loop. "In recovery" answers are counted but open nothing
// (the host is healthy, only not the primary), and so are "too many connections" refusals (53300:
// the host is up, only full). A plain class with an injected clock: no timers,
// no sockets.

export type FailureKind = 'network' | 'auth' | 'recovery' | 'full';
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Network failures within `windowMs` that open the breaker. */
  readonly threshold: number;
  readonly windowMs: number;
  /** First cooldown after opening; doubles at every failed half-open probe up to `maxCooldownMs`. */
  readonly cooldownMs: number;
  readonly maxCooldownMs: number;
}

export const DEFAULT_BREAKER: BreakerOptions = {
  threshold: 3,
  windowMs: 10_000,
  cooldownMs: 250,
  // A host back from a restart takes reads (or writes) again within about this long; one dial
  // per host every 2 s while it is down is no loop.
  maxCooldownMs: 2_000,
};

/** A transition, for the log and the counters (SHOW HOSTS, metrics). */
export interface BreakerTransition {
  readonly from: BreakerState;
  readonly to: BreakerState;
  readonly reason: string;
}

export class CircuitBreaker {
  state: BreakerState = 'closed';
  /** Why it last opened ('' while it never has). */
  reason = '';
  /** Failures by kind since the last success (SHOW HOSTS). */
  readonly counts: Record<FailureKind, number> = { network: 0, auth: 0, recovery: 0, full: 0 };
  /** Times it opened, for the metrics. */
  opened = 0;
  /** When the open breaker lets one probe through (clock ms). */
  private openUntil = 0;
  private cooldown: number;
  /** Times of recent network failures, oldest first (at most `threshold` kept). */
  private readonly recent: number[] = [];
  /** A cap below maxCooldownMs while a failover needs the host back soon (urgent()). */
  private cap: number;

  /** The longest cooldown (and a closed breaker's longest retry delay). */
  get maxCooldownMs(): number {
    return this.opts.maxCooldownMs;
  }

  constructor(private readonly opts: BreakerOptions = DEFAULT_BREAKER) {
    this.cooldown = opts.cooldownMs;
    this.cap = opts.maxCooldownMs;
  }

  /**
   * Whether a connection may be opened now. Closed: yes. Open: no until the cooldown has passed;
   * then it goes half-open and this call's caller is the one probe. Half-open: no (the probe is
   * out). `probe` callers (the health probe) are the only ones allowed through an open breaker.
   */
  allows(now: number, probe: boolean): boolean {
    if (this.state === 'closed') return true;
    if (!probe) return false;
    if (this.state === 'open' && now >= this.openUntil) {
      this.state = 'half-open';
      return true;
    }
    return false;
  }

  /** When an open breaker lets its next probe through (0 when not open). */
  get retryAt(): number {
    return this.state === 'open' ? this.openUntil : 0;
  }

  /** A connection and login (or a probe) worked. Returns the transition, if any. */
  success(): BreakerTransition | null {
    this.counts.network = 0;
    this.counts.auth = 0;
    this.counts.recovery = 0;
    this.counts.full = 0;
    this.recent.length = 0;
    this.cooldown = this.opts.cooldownMs;
    if (this.state === 'closed') return null;
    return this.close('probe succeeded');
  }

  private close(reason: string): BreakerTransition {
    const from = this.state;
    this.state = 'closed';
    return { from, to: 'closed', reason };
  }

  /** A failure of `kind` at `now`. Returns the transition, if any. */
  failure(kind: FailureKind, now: number, reason: string): BreakerTransition | null {
    this.counts[kind]++;
    // A full host answered: a half-open probe refused so found it up, and nothing else counts.
    if (kind === 'full') return this.state === 'half-open' ? this.close('the host answered (too many connections)') : null;
    if (kind !== 'network') return null;
    if (this.state === 'half-open') return this.open(now, Math.min(this.cooldown * 2, this.cap), reason);
    if (this.state === 'open') return null;
    this.recent.push(now);
    while (this.recent.length > 0 && now - this.recent[0] > this.opts.windowMs) this.recent.shift();
    if (this.recent.length < this.opts.threshold) return null;
    return this.open(now, this.opts.cooldownMs, reason);
  }

  /**
   * While a failover waits for this host (restart in place, or a promoted standby), the cooldown
   * is capped low so the host is found within a second of accepting connections; normal again
   * when `ms` is null.
   */
  urgent(ms: number | null, now: number): void {
    this.cap = ms === null ? this.opts.maxCooldownMs : Math.min(ms, this.opts.maxCooldownMs);
    if (this.state === 'open' && this.openUntil - now > this.cap) this.openUntil = now + this.cap;
    if (this.cooldown > this.cap) this.cooldown = this.cap;
  }

  private open(now: number, cooldown: number, reason: string): BreakerTransition {
    const from = this.state;
    this.state = 'open';
    this.reason = reason;
    this.opened++;
    this.cooldown = Math.min(cooldown, this.cap);
    this.openUntil = now + this.cooldown;
    this.recent.length = 0;
    return { from, to: 'open', reason };
  }
}
