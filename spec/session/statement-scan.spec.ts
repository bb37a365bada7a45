// Specs for lib/session/statement-scan: the one byte pass the SET, LISTEN and pin watchers share
// gives each of them, in one call, what its own check alone would (a bit found early must not
// hide another), and reads a Query's or Parse's text and name as the watchers did apart.

import { FrontendCode } from '../../lib/protocol/codes';
import { parse, query } from '../../lib/protocol/frontend';
import { mayBeListen } from '../../lib/session/listen-statements';
import { mayPin, mayRelease } from '../../lib/session/pins';
import { maySetBytes } from '../../lib/session/setting-statements';
import { SCAN_ALL, Scan, scanStatement, StatementText } from '../../lib/session/statement-scan';

const TEXTS = [
  'SELECT abalance FROM pgbench_accounts WHERE aid = 42;',
  'UPDATE pgbench_tellers SET tbalance = tbalance + 1 WHERE tid = 3;',
  'SET search_path = a',
  'BEGIN; SET x.y = 1; CREATE TEMP TABLE t (x int); COMMIT',
  "SELECT set_config('a.b', 'c', false), pg_advisory_lock(1)",
  'select pg_advisory_unlock_all()',
  '  /* a /* nested */ comment */ LISTEN news',
  '-- line\nunlisten *',
  'DISCARD ALL',
  "PREPARE TRANSACTION 'g'",
  "COMMIT PREPARED 'g'",
  'DROP TABLE holdings',
  'CLOSE c; DECLARE c CURSOR WITH HOLD FOR SELECT 1',
  'INSERT INTO reset_log VALUES (1)',
  'x_set_config()',
  '',
];

/** Each watcher's answer asked alone, as the bits of Scan. */
function apart(sql: string): number {
  const frame = query(sql);
  const stop = frame.length - 1;
  return (
    (mayPin(frame, 5, stop) ? Scan.MayPin : 0) |
    (mayRelease(frame, 5, stop) ? Scan.MayRelease : 0) |
    (maySetBytes(frame, 5, stop) ? Scan.MaySet : 0) |
    (mayBeListen(FrontendCode.Query, frame, 0, frame.length) ? Scan.MayListen : 0)
  );
}

describe('one pass for every watcher', () => {
  /** A pass that stopped at its first find would miss a SET after a temp table, or a pin after a SET. */
  it.each(TEXTS)('%j: all bits at once equal each check alone', (sql) => {
    const frame = query(sql);
    expect(scanStatement(frame, 5, frame.length - 1, SCAN_ALL)).toBe(apart(sql));
  });

  it('finds several at once', () => {
    const frame = query('BEGIN; SET x.y = 1; CREATE TEMP TABLE t (x int); DROP TABLE t; COMMIT');
    expect(scanStatement(frame, 5, frame.length - 1, SCAN_ALL)).toBe(Scan.MayPin | Scan.MayRelease | Scan.MaySet);
  });

  it('answers only what was asked', () => {
    const frame = query('SET a.b = 1; CREATE TEMP TABLE t (x int)');
    expect(scanStatement(frame, 5, frame.length - 1, Scan.MayRelease | Scan.MayListen)).toBe(0);
    expect(scanStatement(frame, 5, frame.length - 1, Scan.MayPin)).toBe(Scan.MayPin);
  });

  /** The pair table must not rule out a word that ends the text. */
  it('finds a word at the very end of the text', () => {
    for (const sql of ['select 1 -- temp', 'x hold', 'drop']) {
      const frame = query(sql);
      expect(scanStatement(frame, 5, frame.length - 1, SCAN_ALL)).toBe(apart(sql));
      expect(apart(sql)).not.toBe(0);
    }
  });
});

describe('StatementText', () => {
  it('reads a Query: no name, the text up to its NUL', () => {
    const t = new StatementText();
    const frame = query('LISTEN a');
    t.read(FrontendCode.Query, frame, 0, frame.length, SCAN_ALL);
    expect([t.valid, t.name, frame.toString('utf8', t.from, t.stop), t.scan]).toEqual([true, '', 'LISTEN a', Scan.MayListen]);
  });

  it("reads a Parse: its name, the text up to the NUL before the parameter types", () => {
    const t = new StatementText();
    const head = Buffer.from('xx');
    const frame = Buffer.concat([head, parse('s1', 'SELECT pg_advisory_lock($1)', [20])]);
    t.read(FrontendCode.Parse, frame, head.length, frame.length, SCAN_ALL);
    expect([t.valid, t.name, frame.toString('utf8', t.from, t.stop), t.scan]).toEqual([true, 's1', 'SELECT pg_advisory_lock($1)', Scan.MayPin]);
    const unnamed = parse('', 'SET a.b = 1');
    t.read(FrontendCode.Parse, unnamed, 0, unnamed.length, SCAN_ALL);
    expect([t.name, t.scan]).toEqual(['', Scan.MaySet]);
  });

  /** A malformed Parse reaches no watcher, as none of them looked at one before. */
  it('marks a Parse without the NUL after its name invalid', () => {
    const t = new StatementText();
    const frame = Buffer.from('P\0\0\0\x08abc', 'latin1');
    t.read(FrontendCode.Parse, frame, 0, frame.length, SCAN_ALL);
    expect([t.valid, t.scan]).toEqual([false, 0]);
  });
});
