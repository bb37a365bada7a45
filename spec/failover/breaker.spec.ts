// The circuit breaker as a plain class with a hand-driven clock: closed -> open after repeated
// network failures within the window -> half-open for one probe after the cooldown -> closed on
// its success, open again for longer on its failure. Failed logins, "in recovery" answers and
// "too many connections" refusals are counted apart and never open it.

import { CircuitBreaker } from '../../lib/failover/breaker';

const OPTS = { threshold: 3, windowMs: 10_000, cooldownMs: 250, maxCooldownMs: 5_000 };

describe('CircuitBreaker', () => {
  it('opens after three network failures within the window, and only then', () => {
    const b = new CircuitBreaker(OPTS);
    expect(b.failure('network', 0, 'refused')).toBeNull();
    expect(b.failure('network', 100, 'refused')).toBeNull();
    expect(b.allows(150, false)).toBe(true);
    expect(b.failure('network', 200, 'refused')).toEqual({ from: 'closed', to: 'open', reason: 'refused' });
    expect(b.allows(201, false)).toBe(false);
    expect(b.allows(201, true)).toBe(false);
    expect(b.retryAt).toBe(450);
  });

  it('forgets failures older than the window', () => {
    const b = new CircuitBreaker(OPTS);
    b.failure('network', 0, 'x');
    b.failure('network', 1, 'x');
    expect(b.failure('network', 20_000, 'x')).toBeNull();
    expect(b.state).toBe('closed');
  });

  /** 53300 (too many connections): the host answered, it is only full. */
  it('never opens on "too many connections", and closes when the half-open probe is refused so', () => {
    const b = new CircuitBreaker(OPTS);
    for (const t of [0, 1, 2, 3]) expect(b.failure('full', t, 'too many connections')).toBeNull();
    expect(b.state).toBe('closed');
    expect(b.counts.full).toBe(4);
    for (const t of [10, 11, 12]) b.failure('network', t, 'down');
    expect(b.allows(300, true)).toBe(true);
    expect(b.failure('full', 301, 'too many connections')).toEqual({ from: 'half-open', to: 'closed', reason: 'the host answered (too many connections)' });
    expect(b.allows(302, false)).toBe(true);
  });

  /** Only the probe passes an open breaker, and only once per cooldown; pools never do. */
  it('lets one probe through after the cooldown, closes on its success', () => {
    const b = new CircuitBreaker(OPTS);
    for (const t of [0, 1, 2]) b.failure('network', t, 'down');
    expect(b.allows(300, false)).toBe(false);
    expect(b.allows(300, true)).toBe(true);
    expect(b.state).toBe('half-open');
    expect(b.allows(301, true)).toBe(false);
    expect(b.success()).toEqual({ from: 'half-open', to: 'closed', reason: 'probe succeeded' });
    expect(b.allows(302, false)).toBe(true);
  });

  /** A host that stays down is probed ever less often, up to the cap: never in a tight loop. */
  it('doubles the cooldown at each failed probe, up to the cap', () => {
    const b = new CircuitBreaker(OPTS);
    for (const t of [0, 1, 2]) b.failure('network', t, 'down');
    let now = 2;
    const gaps: number[] = [];
    for (let i = 0; i < 8; i++) {
      const at = b.retryAt;
      gaps.push(at - now);
      now = at;
      expect(b.allows(now, true)).toBe(true);
      b.failure('network', now, 'still down');
    }
    expect(gaps).toEqual([250, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
  });

  /** While a failover waits for the host, it is tried at least this often. */
  it('caps the cooldown while urgent, and restores it after', () => {
    const b = new CircuitBreaker(OPTS);
    for (const t of [0, 1, 2]) b.failure('network', t, 'down');
    for (let i = 0; i < 5; i++) {
      b.allows(b.retryAt, true);
      b.failure('network', b.retryAt, 'down');
    }
    const now = 20_000;
    b.urgent(250, now);
    expect(b.retryAt - now).toBeLessThanOrEqual(250);
    b.allows(b.retryAt, true);
    b.failure('network', b.retryAt, 'down');
    expect(b.retryAt - now).toBeLessThanOrEqual(500);
    b.urgent(null, now);
  });

  /** A bad password belongs to one user: it never cuts the host off for the others. */
  it('never opens on failed logins or "in recovery" answers, and counts them apart', () => {
    const b = new CircuitBreaker(OPTS);
    for (let t = 0; t < 10; t++) {
      expect(b.failure('auth', t, 'password authentication failed')).toBeNull();
      expect(b.failure('recovery', t, 'in recovery')).toBeNull();
    }
    expect(b.state).toBe('closed');
    expect(b.counts).toEqual({ network: 0, auth: 10, recovery: 10, full: 0 });
    b.success();
    expect(b.counts).toEqual({ network: 0, auth: 0, recovery: 0, full: 0 });
  });
});
