// Specs for lib/session/pins as plain code: the byte checks every forwarded statement pays, and
// the account's rules (pins kept until the server's answer says they are gone, never released
// by a text alone, not lost to a check that ran before the statement that made them).

import { ClientPins, PinCounts, Pin, checkSql, describePins, mayPin, mayRelease, preparedGid } from '../../lib/session/pins';

function frameText(sql: string): [Buffer, number, number] {
  const buf = Buffer.from(`Q\0\0\0\0${sql}\0`, 'utf8');
  return [buf, 5, buf.length - 1];
}

describe('mayPin / mayRelease byte checks', () => {
  /** A check that missed a spelling would let a lock or temp table go unpinned. */
  it.each([
    'CREATE TEMP TABLE t (x int)',
    'create temporary table t as select 1',
    'SELECT 1 INTO TEMP t',
    'SELECT PG_ADVISORY_LOCK(1)',
    'select pg_try_advisory_lock_shared($1)',
    'DECLARE c CURSOR WITH HOLD FOR SELECT 1',
    "PREPARE TRANSACTION 'g'",
    'CREATE TABLE pg_temp.t (x int)',
  ])('may pin: %s', (sql) => {
    expect(mayPin(...frameText(sql))).toBe(true);
  });

  /** The texts of the hot path must not reach the classifier. */
  it.each(['SELECT abalance FROM pgbench_accounts WHERE aid = 42;', 'UPDATE pgbench_branches SET bbalance = bbalance + 1 WHERE bid = 1;', 'BEGIN', 'COMMIT', 'INSERT INTO t VALUES ($1, $2)'])(
    'cannot pin: %s',
    (sql) => {
      expect(mayPin(...frameText(sql))).toBe(false);
    },
  );

  it('finds the words that may release server pins, in any case', () => {
    for (const sql of ['DROP TABLE t', 'discard temp', 'CLOSE ALL', 'SELECT pg_advisory_unlock(1)', "COMMIT PREPARED 'g'"]) expect(mayRelease(...frameText(sql))).toBe(true);
    expect(mayRelease(...frameText('SELECT 1'))).toBe(false);
  });
});

describe('ClientPins', () => {
  /** A text alone never releases a server pin: only the server's answer does. */
  it('keeps server pins until the check says they are gone, and counts clients holding a server', () => {
    const pool = new PinCounts();
    const pins = new ClientPins([pool]);
    pins.created(Pin.tempTable | Pin.advisoryLock, null);
    expect(pins.holdsServer).toBe(true);
    expect(pool.serverClients).toBe(1);
    expect(describePins(pins.mask)).toBe('temp-table,advisory-lock');
    const sql = pins.checkAtIdle();
    expect(sql).toContain('pg_locks');
    // Nothing more to ask until something changes.
    pins.checked('temp-table,advisory-lock');
    expect(pins.checkAtIdle()).toBeNull();
    pins.mayHaveReleased();
    expect(pins.checkAtIdle()).not.toBeNull();
    pins.checked('temp-table');
    expect(describePins(pins.mask)).toBe('temp-table');
    expect(pool.now.get('advisory-lock')).toBe(0);
    expect(pool.total.get('advisory-lock')).toBe(1);
    pins.mayHaveReleased();
    pins.checkAtIdle();
    pins.checked('');
    expect(pins.holdsServer).toBe(false);
    expect(pool.serverClients).toBe(0);
  });

  /** A failed check releases nothing: when unsure, stay pinned. */
  it('stays pinned when the check fails', () => {
    const pins = new ClientPins([new PinCounts()]);
    pins.created(Pin.withHoldCursor, null);
    pins.checkAtIdle();
    expect(pins.holdsServer).toBe(true);
    pins.checked(null);
    expect(pins.holdsServer).toBe(true);
  });

  /** The check runs before statements sent after it: its answer cannot show what they made. */
  it('keeps pins created while a check was running', () => {
    const pins = new ClientPins([new PinCounts()]);
    pins.created(Pin.tempTable, null);
    pins.checkAtIdle();
    pins.created(Pin.advisoryLock, null);
    pins.checked('temp-table');
    expect(describePins(pins.mask)).toBe('temp-table,advisory-lock');
    // And asks again at the next transaction end.
    expect(pins.checkAtIdle()).not.toBeNull();
  });

  it('asks about the prepared transactions it saw by gid, quoted', () => {
    const pins = new ClientPins([new PinCounts()]);
    pins.created(Pin.preparedXact, "PREPARE TRANSACTION 'it''s'");
    expect([...pins.gids]).toEqual(["it's"]);
    expect(pins.checkAtIdle()).toContain("gid IN ('it''s')");
    pins.checked('');
    expect(pins.gids.size).toBe(0);
    expect(checkSql(new Set())).not.toContain('pg_prepared_xacts');
    expect(preparedGid('prepare   transaction   \'x\'')).toBe('x');
  });

  it('keeps route pins (SET, LISTEN) as the classifier says, apart from server pins', () => {
    const pins = new ClientPins([new PinCounts()]);
    pins.route(Pin.set | Pin.tempTable, 0);
    expect(pins.reasons()).toEqual(['set']);
    expect(pins.holdsServer).toBe(false);
    pins.route(0, Pin.set);
    expect(pins.reasons()).toEqual([]);
  });
});
