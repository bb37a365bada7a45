// Specs for judge(): the state one good poll puts a replica in, with max_replica_lag's
// hysteresis (out beyond the limit, back only under half of it).

import { NO_LAG_LIMIT, type LagLimit } from '../../lib/config';
import { judge, upMask, type LagSample, type ReplicaState } from '../../lib/routing/replicas';

const LIMIT: LagLimit = { bytes: 1000, seconds: 10 };
const sample = (lagBytes: number | null, lagSeconds: number | null, inRecovery = true): LagSample => ({
  inRecovery,
  replayLsn: inRecovery ? 5n : null,
  lagBytes,
  lagSeconds,
});
const state = (prev: ReplicaState, s: LagSample, limit = LIMIT) => judge(prev, s, limit).state;

describe('judge', () => {
  /** A node that is not in recovery is a primary: reads there would be "stale-free" but it is not a replica. */
  it('calls a node out of recovery wrong-role', () => {
    expect(judge('up', sample(0, 0, false), LIMIT)).toEqual({ state: 'wrong-role', reason: 'not in recovery (pg_is_in_recovery() is false)' });
  });

  it('is up within the limits, and says caught up at 0 bytes', () => {
    expect(judge('connecting', sample(0, 0), LIMIT)).toEqual({ state: 'up', reason: 'caught up' });
    expect(state('up', sample(1000, 10))).toBe('up');
  });

  /** Either limit alone takes the replica out. */
  it('is lagging beyond the byte limit or beyond the time limit', () => {
    expect(judge('up', sample(1001, 0), LIMIT)).toEqual({ state: 'lagging', reason: 'replay 1001 bytes behind (max_replica_lag 1000 bytes)' });
    expect(judge('up', sample(0, 10.5), LIMIT)).toEqual({ state: 'lagging', reason: 'replay 10.500 s behind (max_replica_lag 10 s)' });
  });

  /** Without hysteresis a replica hovering at the limit flaps in and out at every poll. */
  it('keeps a lagging replica out until it is under half of every limit', () => {
    expect(state('lagging', sample(900, 0))).toBe('lagging');
    expect(state('lagging', sample(500, 6))).toBe('lagging');
    expect(state('lagging', sample(500, 5))).toBe('up');
    // Not lagging before: the full limit applies.
    expect(state('up', sample(900, 9))).toBe('up');
  });

  /** With the primary unreachable, lag bytes are unknown: that alone must not take replicas out. */
  it('does not count an unknown number as beyond the limit', () => {
    expect(state('up', sample(null, null))).toBe('up');
    expect(state('lagging', sample(null, 1))).toBe('up');
    expect(state('up', sample(null, 11))).toBe('lagging');
  });

  it('has no limit with max_replica_lag = 0', () => {
    expect(state('up', sample(1e12, 1e6), NO_LAG_LIMIT)).toBe('up');
  });

  /** A replica in recovery that has replayed nothing yet cannot serve a consistent read. */
  it('keeps a replica without a replay position out', () => {
    expect(judge('up', { inRecovery: true, replayLsn: null, lagBytes: null, lagSeconds: null }, LIMIT).state).toBe('lagging');
  });
});

describe('upMask', () => {
  it('has a bit per up replica', () => {
    const v = (state: ReplicaState) => ({ state, replayLsn: null });
    expect(upMask([v('up'), v('down'), v('up'), v('lagging'), v('wrong-role'), v('connecting')])).toBe(0b101);
  });
});
