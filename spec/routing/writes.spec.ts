// Specs for read_your_writes bookkeeping (WriteScopes): scope keys per mode, fences that resolve
// to the first primary position polled after a commit, and forgetting writes every replica has.

import { scopeKey, WriteScopes, type PrimaryPositions } from '../../lib/routing/writes';

/** A stand-in for the lag tracker: one primary poll, sent at `sentAt`, that saw `lsn`. */
function polled(sentAt: number, lsn: bigint | null): PrimaryPositions {
  return { primaryLsnSince: (t) => (lsn !== null && sentAt > t ? lsn : undefined) };
}

describe('scopeKey', () => {
  /** Two clients of one user share a scope only in mode user; a wrong key leaks or hides writes. */
  it('keys by client, by (database, user), or by database', () => {
    expect(scopeKey('connection', 7, 'alice', 'app')).not.toBe(scopeKey('connection', 8, 'alice', 'app'));
    expect(scopeKey('user', 7, 'alice', 'app')).toBe(scopeKey('user', 8, 'alice', 'app'));
    expect(scopeKey('user', 7, 'alice', 'app')).not.toBe(scopeKey('user', 7, 'bob', 'app'));
    expect(scopeKey('database', 7, 'alice', 'app')).toBe(scopeKey('database', 8, 'bob', 'app'));
    expect(scopeKey('database', 7, 'alice', 'app')).not.toBe(scopeKey('database', 7, 'alice', 'other'));
    expect(scopeKey('off', 7, 'alice', 'app')).toBeNull();
  });

  /** Each mode has its own key prefix, so a user scope never reads a database scope's write. */
  it('does not confuse a user scope with a database scope', () => {
    expect(scopeKey('user', 1, 'x', 'app')).not.toBe(scopeKey('database', 1, 'x', 'app'));
  });
});

describe('WriteScopes', () => {
  /**
   * Workers > 1: a worker started after writes it never heard of (a replacement worker, a replica
   * set made at RELOAD) must not trust a replica in the user and database scopes before the
   * primary's position after its start; a connection's own writes are all on this worker.
   */
  it('makes the user and database scopes wait for the floor when they are shared between workers', () => {
    const user = scopeKey('user', 1, 'alice', 'app');
    const database = scopeKey('database', 1, 'alice', 'app');
    const connection = scopeKey('connection', 1, 'alice', 'app');
    const shared = new WriteScopes(10, 100, true);
    expect(shared.writeLsn(user, polled(50, 40n))).toBe('pending');
    expect(shared.writeLsn(database, polled(50, 40n))).toBe('pending');
    expect(shared.writeLsn(connection, polled(50, 40n))).toBeNull();
    expect(shared.writeLsn(user, polled(101, 70n))).toBe(70n);
    const alone = new WriteScopes(10, 100);
    expect(alone.writeLsn(user, polled(50, 40n))).toBeNull();
    expect(alone.writeLsn(database, polled(50, 40n))).toBeNull();
  });

  /**
   * A failover that lost writes: the new primary's timeline is behind positions remembered on the
   * old one. A scope that wrote waits for the new primary's position from the probe that accepted
   * it (all that survived), not for the lost position, which no host would reach for a long while.
   */
  it('waits for the new primary after a failover, not for a position lost with the old one', () => {
    const w = new WriteScopes(10, -1);
    const keyed = 'k\u0000alice';
    w.wrote('c\u00001', 9000n);
    w.committed('c\u00002', 100);
    w.wrote(keyed, 9000n);
    w.committed('c\u00003', 300);
    w.rebase(200);
    expect(w.writeLsn('c\u00001', polled(199, 500n))).toBe('pending');
    expect(w.writeLsn('c\u00001', polled(200, 500n))).toBe(500n);
    expect(w.writeLsn('c\u00002', polled(200, 500n))).toBe(500n);
    expect(w.writeLsn(keyed, polled(200, 500n))).toBe(500n);
    // A fence later than the failover still waits for a poll after it.
    expect(w.writeLsn('c\u00003', polled(200, 500n))).toBe('pending');
    expect(w.writeLsn('c\u00004', polled(200, 500n))).toBeNull();
  });

  /** No write, nothing to wait for. */
  it('has no write for an unknown scope or mode off', () => {
    const w = new WriteScopes();
    expect(w.writeLsn('k', polled(0, 5n))).toBeNull();
    expect(w.writeLsn(null, polled(0, 5n))).toBeNull();
  });

  /** The position of a commit is not known at once: reads must treat it as not replayed anywhere. */
  it('is pending until a primary poll sent after the commit has answered', () => {
    const w = new WriteScopes();
    w.committed('k', 100);
    expect(w.writeLsn('k', polled(99, 50n))).toBe('pending');
    expect(w.writeLsn('k', polled(100, 55n))).toBe('pending');
    expect(w.writeLsn('k', polled(101, 60n))).toBe(60n);
    // Resolved once: a later poll does not move it.
    expect(w.writeLsn('k', polled(200, 90n))).toBe(60n);
  });

  /** A known position and a later pending commit: pending wins, then the higher position. */
  it('keeps the highest position across writes', () => {
    const w = new WriteScopes();
    w.wrote('k', 80n);
    w.wrote('k', 70n);
    expect(w.writeLsn('k', polled(0, null))).toBe(80n);
    w.committed('k', 300);
    expect(w.writeLsn('k', polled(250, 500n))).toBe('pending');
    expect(w.writeLsn('k', polled(301, 90n))).toBe(90n);
    w.committed('k', 400);
    w.committed('k', 350);
    expect(w.writeLsn('k', polled(380, 95n))).toBe('pending');
  });

  it('forgets a scope', () => {
    const w = new WriteScopes();
    w.wrote('k', 1n);
    w.forget('k');
    expect(w.writeLsn('k', polled(0, null))).toBeNull();
    expect(w.size).toBe(0);
  });

  /** A write every replica has replayed cannot make a read wait; keeping it only costs memory. */
  it('prunes writes every replica has replayed, keeps the rest', () => {
    const w = new WriteScopes();
    w.wrote('old', 10n);
    w.wrote('new', 30n);
    w.committed('pending', 5);
    w.prune([{ state: 'up', replayLsn: 20n }, { state: 'down', replayLsn: 25n }]);
    expect([w.writeLsn('old', polled(0, null)), w.writeLsn('new', polled(0, null))]).toEqual([null, 30n]);
    expect(w.size).toBe(2);
  });

  /** A replica with no known position may come back behind any write: nothing may be forgotten. */
  it('prunes nothing while a replica position is unknown', () => {
    const w = new WriteScopes();
    w.wrote('old', 10n);
    w.prune([{ state: 'up', replayLsn: 20n }, { state: 'connecting', replayLsn: null }]);
    expect(w.size).toBe(1);
  });

  /**
   * Every host of a database has a status, the primary's too (wrong-role: it replays nothing).
   * It is no replica: writes the replicas have all replayed are still forgotten.
   */
  it('skips the primary host when pruning', () => {
    const w = new WriteScopes();
    w.wrote('old', 10n);
    w.prune([{ state: 'wrong-role', replayLsn: null }, { state: 'up', replayLsn: 20n }]);
    expect(w.size).toBe(0);
  });
});
