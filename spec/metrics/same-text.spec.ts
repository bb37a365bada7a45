// Specs for the fingerprint table's shortcut (lib/metrics/same-text.ts): a client's next text that
// is its last one, or that with the digits of one integer literal changed, gets the last
// fingerprint without a scan. The shortcut may only ever give the answer the scan would give:
// every text here is also fingerprinted by a fresh scanner, and the two must agree on the
// fingerprint, the kind and the trace id.

import { FingerprintScanner } from '../../lib/metrics/fingerprint';
import { FingerprintTable, SAMPLE_BUDGET, SAMPLE_OVERHEAD, TRACKED, type FingerprintEntry } from '../../lib/metrics/fingerprints';
import { SAMPLE_MAX } from '../../lib/metrics/same-text';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

/** What a scan of `sql` alone says: the truth the shortcut must reproduce. */
function truth(sql: string): { id: string; kind: number; traceId: string | null } {
  const s = new FingerprintScanner();
  const b = Buffer.from(sql);
  s.scan(b, 0, b.length);
  const id = s.h1.toString(16).padStart(8, '0') + s.h2.toString(16).padStart(8, '0');
  return { id, kind: s.kind, traceId: s.traceAt < 0 ? null : b.toString('latin1', s.traceAt, s.traceAt + 32) };
}

/** Looks `sql` up as a client whose last fingerprint is `last`, inside a bigger chunk (as in a frame). */
function lookup(t: FingerprintTable, sql: string, last: FingerprintEntry | null): { entry: FingerprintEntry; traceId: string | null } {
  const b = Buffer.concat([Buffer.from('Q\0\0\0\0'), Buffer.from(sql), Buffer.from('\0Z')]);
  const entry = t.lookup(b, 5, 5 + Buffer.byteLength(sql), last);
  return { entry, traceId: t.traceId };
}

/** `b` looked up right after `a` by the same client gives what a scan of `b` gives. */
function expectFaithful(a: string, b: string): FingerprintEntry {
  const t = new FingerprintTable(20);
  const first = lookup(t, a, null).entry;
  const got = lookup(t, b, first);
  const want = truth(b);
  expect({ text: b, id: got.entry.id, kind: got.entry.kind, traceId: got.traceId }).toEqual({ text: b, ...want });
  return got.entry;
}

/** Statements with integers in every place they can hide: literals, identifiers, strings, comments, parameters, dollar tags. */
const CORPUS = [
  'SELECT abalance FROM pgbench_accounts WHERE aid = 12345;',
  'SELECT t1.c2 FROM t1 JOIN "T3" ON t1.id = "T3".id WHERE t1.x IN (1, 22, 333) LIMIT 10 OFFSET 20',
  "UPDATE acct SET bal = bal + 15 WHERE id = 7 AND note = 'row 99' -- 42\n",
  'SELECT 1.5, 2e10, 0x1F, 1_000, .5, 7 /* 8 */, $1, $23, $a1$ 9 $a1$',
  "INSERT INTO t VALUES (1, 'a'), (2, 'b'); SELECT 3",
  'SELECT x FROM t WHERE a = -5 AND b = 6::int AND c=7',
  `SELECT 1 /*traceparent='00-${TRACE}-00f067aa0ba902b7-01'*/`,
  // Bytes >= 0x80 (UTF-8): the kept text is compared four bytes to a word, the top one's sign included.
  "SELECT 'héllo wörld ✓' AS \"ünïcode\" FROM t WHERE id = 42",
];

describe('same text as the last one, or one integer changed', () => {
  /**
   * Every one-byte change of each text (a digit for another digit, for a letter, for a dot, for a
   * space, a byte removed, one added) looked up right after the text itself: a shortcut that
   * treats any digit run as a literal, or accepts a run that is no longer one number, fails here.
   */
  it.each(CORPUS)('gives what a scan gives for every one-byte change of %j', (a) => {
    const replacements = ['0', '9', 'a', '.', ' ', 'e', '$', "'", '"', '_'];
    for (let i = 0; i < a.length; i++) {
      for (const r of replacements) expectFaithful(a, a.slice(0, i) + r + a.slice(i + 1));
      expectFaithful(a, a.slice(0, i) + a.slice(i + 1));
      expectFaithful(a, `${a.slice(0, i)}5${a.slice(i)}`);
    }
  });

  it('keeps statements that differ by a digit in a name, a quoted name or an operator apart', () => {
    expect(expectFaithful('SELECT c1 FROM t', 'SELECT c2 FROM t').id).not.toBe(truth('SELECT c1 FROM t').id);
    expect(expectFaithful('SELECT "c1" FROM t', 'SELECT "c2" FROM t').id).not.toBe(truth('SELECT "c1" FROM t').id);
    expect(expectFaithful('SELECT 1 FROM t', 'SELECT 1.5 FROM t').id).toBe(truth('SELECT 1 FROM t').id);
    expect(expectFaithful('SELECT 12 FROM t', 'SELECT 1 2 FROM t').id).not.toBe(truth('SELECT 12 FROM t').id);
  });

  /** A trace id is per request: a text carrying one is never kept, so the next one's id is read. */
  it('reads the trace id of every traced request', () => {
    const t = new FingerprintTable(20);
    const sql = (id: string, n: number): string => `SELECT * FROM t WHERE id = ${n} /*traceparent='00-${id}-00f067aa0ba902b7-01'*/`;
    const other = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1';
    const first = lookup(t, sql(TRACE, 1), null);
    expect(first.traceId).toBe(TRACE);
    const next = lookup(t, sql(other, 2), first.entry);
    expect(next).toEqual({ entry: first.entry, traceId: other });
    // An untraced text of the same statement is kept; a traced one after it still has its id read.
    const plain = lookup(t, 'SELECT * FROM t WHERE id = 3', next.entry);
    expect(plain).toEqual({ entry: first.entry, traceId: null });
    expect(lookup(t, sql(TRACE, 4), plain.entry)).toEqual({ entry: first.entry, traceId: TRACE });
  });

  /** pgbench -S: the next account's text is not scanned again (the point of the shortcut). */
  it('does not scan a text with only an integer changed, nor the same text again', () => {
    const t = new FingerprintTable(20);
    let last = lookup(t, 'SELECT abalance FROM pgbench_accounts WHERE aid = 1;', null).entry;
    const scan = jest.spyOn(FingerprintScanner.prototype, 'scan');
    try {
      for (const aid of [2, 345678, 99, 99, 100000]) {
        const got = lookup(t, `SELECT abalance FROM pgbench_accounts WHERE aid = ${aid};`, last);
        expect(got.entry).toBe(last);
        last = got.entry;
      }
      expect(scan).not.toHaveBeenCalled();
      // Two integers changed: scanned, and still the same fingerprint.
      const a = lookup(t, 'SELECT * FROM t WHERE a = 1 AND b = 2', null).entry;
      expect(lookup(t, 'SELECT * FROM t WHERE a = 3 AND b = 4', a).entry).toBe(a);
      expect(scan).toHaveBeenCalled();
    } finally {
      scan.mockRestore();
    }
  });

  /** A client's last fingerprint the table has since forgotten must not be fed again behind the table's back. */
  it('does not hand out a fingerprint the table has forgotten', () => {
    const t = new FingerprintTable(1);
    t.observe(lookup(t, 'SELECT heavy', null).entry, 100, null);
    const lonely = lookup(t, 'SELECT * FROM lonely WHERE id = 1', null).entry;
    for (let i = 0; i < 2 * TRACKED; i++) t.observe(lookup(t, `SELECT * FROM tenant_${i}`, null).entry, 1, null);
    t.rerank();
    const again = lookup(t, 'SELECT * FROM lonely WHERE id = 2', lonely).entry;
    expect(again).not.toBe(lonely);
    expect(lookup(t, 'SELECT * FROM lonely WHERE id = 3', null).entry).toBe(again);
  });

  /** Kept texts are bounded: short ones only, and a budget over all of them (their objects counted too). */
  it('keeps texts up to SAMPLE_MAX bytes, within SAMPLE_BUDGET in all', () => {
    const t = new FingerprintTable(1);
    const long = `SELECT ${'x'.repeat(SAMPLE_MAX)} FROM t WHERE id = 1`;
    expect(lookup(t, long, null).entry.sample).toBeNull();
    for (let i = 0; i < 2 * TRACKED; i++) lookup(t, `SELECT ${'c'.repeat(200)} FROM tenant_${i}`, null);
    expect(t.sampleBytes).toBeLessThanOrEqual(SAMPLE_BUDGET);
    expect(t.sampleBytes).toBeGreaterThan(SAMPLE_BUDGET - 300 - SAMPLE_OVERHEAD);
    t.rerank();
    expect(t.sampleBytes).toBeLessThanOrEqual(SAMPLE_BUDGET);
  });
});
