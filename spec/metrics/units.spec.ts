// Specs for the pieces the per-request metrics are made of, without sockets: the fingerprint
// scanner (PostgreSQL's lexical rules on bytes), the top-K table, the histogram's buckets, and
// the exposition's canonical `le` values.

import { FingerprintScanner, SCAN_LIMIT } from '../../lib/metrics/fingerprint';
import { FingerprintTable, HALF_LIFE_MS, TRACKED } from '../../lib/metrics/fingerprints';
import { Histogram, LATENCY_BOUNDS_US, PoolMetrics, StatementKind } from '../../lib/metrics/histogram';
import { PoolStats } from '../../lib/metrics/counters';
import { QueryObserver, RequestTags, type Destination, type TaggedClient } from '../../lib/metrics/observer';
import { query as queryFrame } from '../../lib/protocol/frontend';
import { canonical, Exposition, family, OPENMETRICS_TEXT, PROMETHEUS_TEXT } from '../../lib/metrics/exposition';
import { parseExposition } from '../support/prometheus';

function scan(sql: string): FingerprintScanner & { text: string } {
  const s = new FingerprintScanner();
  const buf = Buffer.from(sql);
  const tokens: string[] = [];
  s.scan(buf, 0, buf.length, tokens);
  const h = { h1: s.h1, h2: s.h2 };
  s.scan(buf, 0, buf.length);
  // The display pass and the hot pass agree.
  expect({ h1: s.h1, h2: s.h2 }).toEqual(h);
  return Object.assign(s, { text: tokens.join(' ') });
}

const same = (a: string, b: string): boolean => {
  const x = scan(a);
  const y = scan(b);
  return x.h1 === y.h1 && x.h2 === y.h2;
};

describe('fingerprint scanner', () => {
  it.each([
    ['literals of every kind', "SELECT * FROM t WHERE a = 1 AND b = 'x' AND c = 1.5e3", "select * from t where a = 42 and b = 'it''s' and c = .5"],
    ['E, B, X, N and U& strings', "SELECT E'a\\'b', B'101', X'ff', N'n', U&'d\\0061t'", "SELECT 'q', 'w', 'e', 'r', 't'"],
    ['dollar quotes and parameters', 'SELECT $$a;b$$, $tag$x$$y$tag$ WHERE id = $1', "SELECT 'a', 'b' WHERE id = 7"],
    ['IN lists of any length', 'SELECT * FROM t WHERE id IN (1, 2, 3)', 'SELECT * FROM t WHERE id IN ($1)'],
    ['comments and whitespace', 'SELECT /* c */ 1 -- trailing\n FROM   t', 'select 1 from t'],
    ['nested block comments', 'SELECT /* a /* b */ c */ 1', 'SELECT 2'],
    ['a trailing semicolon', 'SELECT 1 FROM t;', 'SELECT 1 FROM t'],
    ['keyword case', 'select Id from T', 'SELECT id FROM t'],
  ])('folds %s into one fingerprint', (_what, a, b) => {
    expect(same(a, b)).toBe(true);
  });

  it.each([
    ['other columns', 'SELECT a FROM t', 'SELECT b FROM t'],
    ['other tables', 'SELECT a FROM t1', 'SELECT a FROM t2'],
    ['quoted identifiers by case', 'SELECT "A" FROM t', 'SELECT "a" FROM t'],
    ['two statements', 'SELECT 1; SELECT 2', 'SELECT 1'],
    ['operators', 'SELECT a < 1', 'SELECT a <= 1'],
    ['a literal and an identifier', 'SELECT 1', 'SELECT x'],
    ['token boundaries', 'SELECT ab FROM t', 'SELECT a b FROM t'],
  ])('keeps %s apart', (_what, a, b) => {
    expect(same(a, b)).toBe(false);
  });

  it.each([
    ['SELECT 1', StatementKind.read],
    ['  values (1)', StatementKind.read],
    ['SHOW search_path', StatementKind.read],
    ['WITH x AS (SELECT 1) SELECT * FROM x', StatementKind.read],
    ['WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x', StatementKind.write],
    ['SELECT * FROM t FOR UPDATE', StatementKind.write],
    ['SELECT * FROM t FOR NO KEY UPDATE', StatementKind.write],
    ['SELECT * INTO t2 FROM t', StatementKind.write],
    ['INSERT INTO t VALUES (1)', StatementKind.write],
    ['update t set a = 1', StatementKind.write],
    ['CREATE TABLE t (a int)', StatementKind.write],
    ['BEGIN', StatementKind.other],
    ['SET search_path = x', StatementKind.other],
    ['BEGIN; INSERT INTO t VALUES (1); COMMIT', StatementKind.write],
    ['BEGIN; SELECT 1; COMMIT', StatementKind.read],
    ['/* update */ SELECT 1', StatementKind.read],
  ])('tells the kind of %j', (sql, kind) => {
    expect(scan(sql).kind).toBe(kind);
  });

  it('normalizes the display text: literals as ?, lists folded', () => {
    expect(scan("SELECT a, b FROM t WHERE id IN (1, 2, 3) AND s = 'x'").text).toBe('select a , b from t where id in ( ? ) and s = ?');
  });

  /** sqlcommenter (Google's ORM plugins, OpenTelemetry) appends key='value' pairs in a comment. */
  it('finds a W3C traceparent in a sqlcommenter comment, and nothing else', () => {
    const id = '4bf92f3577b34da6a3ce929d0e0e4736';
    const at = (sql: string): string | null => {
      const s = scan(sql);
      return s.traceAt < 0 ? null : Buffer.from(sql).toString('latin1', s.traceAt, s.traceAt + 32);
    };
    expect(at(`SELECT 1 /*action='run',traceparent='00-${id}-00f067aa0ba902b7-01'*/`)).toBe(id);
    expect(at(`SELECT 1 /*traceparent = '00-${id}-00f067aa0ba902b7-00'*/`)).toBe(id);
    expect(at(`SELECT '/*traceparent=''00-${id}-00f067aa0ba902b7-01''*/'`)).toBeNull();
    expect(at(`SELECT 1 -- traceparent='00-${id}-00f067aa0ba902b7-01'`)).toBeNull();
    expect(at(`SELECT 1 /*traceparent='00-${'0'.repeat(32)}-00f067aa0ba902b7-01'*/`)).toBeNull();
    expect(at(`SELECT 1 /*traceparent='00-${id.toUpperCase()}-00f067aa0ba902b7-01'*/`)).toBeNull();
    expect(at(`SELECT 1 /*traceparent='00-${id}-00f0'*/`)).toBeNull();
    // The comment is not part of the fingerprint.
    expect(same(`SELECT 1 /*traceparent='00-${id}-00f067aa0ba902b7-01'*/`, 'SELECT 2')).toBe(true);
  });

  /** Unterminated input must not throw or read past the frame. */
  it('survives unterminated strings, comments and dollar quotes', () => {
    for (const sql of ["SELECT 'abc", 'SELECT /* x', 'SELECT $a$ x', 'SELECT "x', "SELECT E'\\", 'SELECT $']) expect(() => scan(sql)).not.toThrow();
  });

  it('looks at the first SCAN_LIMIT bytes of a huge statement only', () => {
    const head = `INSERT INTO t VALUES ${'(1),'.repeat(SCAN_LIMIT / 4)}`;
    expect(same(`${head}(1)`, `${head}(1), (2), (3)`)).toBe(true);
  });
});

describe('FingerprintTable', () => {
  const lookup = (t: FingerprintTable, sql: string) => {
    const b = Buffer.from(sql);
    return t.lookup(b, 0, b.length);
  };

  it('gives the first K fingerprints a histogram and observes the rest into "other"', () => {
    const t = new FingerprintTable(2);
    const a = lookup(t, 'SELECT a');
    const b = lookup(t, 'SELECT b');
    const c = lookup(t, 'SELECT c');
    expect([a.histogram !== null, b.histogram !== null, c.histogram !== null]).toEqual([true, true, false]);
    t.observe(c, 500, null);
    t.observe(a, 100, null);
    expect(t.other.count).toBe(1);
    expect(a.histogram?.count).toBe(1);
    expect(lookup(t, 'select   A')).toBe(a);
  });

  it('hands a place to a heavier fingerprint only past the hysteresis, and decays old time', () => {
    const t = new FingerprintTable(1);
    const light = lookup(t, 'SELECT light');
    const heavy = lookup(t, 'SELECT heavy');
    t.observe(light, 1000, null);
    t.observe(heavy, 1200, null);
    const now = performance.now();
    t.rerank(now);
    // 1200 is not 25 % more than 1000: no swap back and forth between near-equals.
    expect(light.histogram).not.toBeNull();
    t.observe(heavy, 1000, null);
    t.rerank(now);
    expect(heavy.histogram).not.toBeNull();
    expect(light.histogram).toBeNull();
    expect(t.top()).toEqual([heavy]);
    // A half-life later, recent time has halved.
    const before = heavy.recentUs;
    t.rerank(now + HALF_LIFE_MS);
    expect(heavy.recentUs).toBeCloseTo(before / 2, 0);
    expect(heavy.totalUs).toBe(2200);
  });

  /** A workload of ever-new statements (a table per tenant) must not grow the table without bound. */
  it('forgets the fingerprints with the least recent time past its bound, never one holding a histogram', () => {
    const t = new FingerprintTable(1);
    const kept = lookup(t, 'SELECT kept');
    t.observe(kept, 5, null);
    for (let i = 0; i < 2 * TRACKED + 10; i++) t.observe(lookup(t, `SELECT * FROM tenant_${i}`), 1, null);
    expect(t.size).toBeLessThanOrEqual(2 * TRACKED);
    t.rerank();
    expect(t.size).toBeLessThanOrEqual(TRACKED);
    expect(kept.histogram).not.toBeNull();
    expect(lookup(t, 'SELECT kept')).toBe(kept);
  });

  it('shrinks to the new K on RELOAD', () => {
    const t = new FingerprintTable(3);
    for (const x of ['a', 'b', 'c']) t.observe(lookup(t, `SELECT ${x}`), x === 'b' ? 10 : 1, null);
    t.setK(1);
    expect(t.top().map((e) => e.text)).toEqual(['select b']);
  });
});

describe('QueryObserver', () => {
  /**
   * With the HTTP listener off (and no slow-query log) nothing is measured: clients get no
   * tags (active is what each request checks), pools no histograms, refused logins are not
   * counted; turned on by RELOAD and off again, pools gain their histograms and lose them.
   */
  it('measures nothing while the HTTP listener is off, and follows RELOAD', () => {
    const observer = new QueryObserver();
    const stats = new PoolStats();
    const state = (): { active: boolean; histograms: boolean; metrics: boolean; loginErrors: number } => ({
      active: observer.active,
      histograms: observer.histograms,
      metrics: stats.metrics !== null,
      loginErrors: [...observer.loginErrors.values()].reduce((a, b) => a + b, 0),
    });
    try {
      observer.configure(false, 0, 20);
      observer.attach(stats);
      observer.loginError('28P01');
      expect(state()).toEqual({ active: false, histograms: false, metrics: false, loginErrors: 0 });
      observer.configure(true, 0, 20);
      observer.attach(stats);
      observer.loginError('28P01');
      expect(state()).toEqual({ active: true, histograms: true, metrics: true, loginErrors: 1 });
      observer.configure(false, 0, 20);
      observer.attach(stats);
      expect(state()).toEqual({ active: false, histograms: false, metrics: false, loginErrors: 1 });
      // The slow-query log alone tags requests (to name the statement) but keeps no histograms.
      observer.configure(false, 0.5, 20);
      observer.attach(stats);
      expect(state()).toEqual({ active: true, histograms: false, metrics: false, loginErrors: 1 });
    } finally {
      observer.stop();
    }
  });
});

describe('RequestTags', () => {
  /**
   * The request's bucket is found once and shared by the histograms that all get the same time
   * (pool query, a one-request transaction, the fingerprint's): each must still count exactly
   * what its own observe() would, on bounds and between them, and a transaction of several
   * requests its own time.
   */
  it('counts every request in the same bucket of each histogram as observing it alone would', () => {
    const observer = new QueryObserver();
    observer.configure(true, 0, 5);
    observer.stop();
    const tags = new RequestTags(observer);
    const stats = new PoolStats();
    stats.metrics = new PoolMetrics();
    const where: Destination = { stats, replicaAddress: null, target: { backend: () => null } };
    const client: TaggedClient = { user: 'app', database: 'app', params: new Map(), logPrefix: () => 'C-1' };
    const want = { query: new Histogram(), xact: new Histogram(), fingerprint: new Histogram() };
    const times = [...LATENCY_BOUNDS_US, ...LATENCY_BOUNDS_US.map((b) => b + 0.5), 0, 1e9];
    for (const [i, us] of times.entries()) {
      const f = queryFrame(`SELECT abalance FROM pgbench_accounts WHERE aid = ${i + 1}`);
      tags.query(f, 0, f.length);
      // Every third request ends a longer transaction; the others are a transaction each.
      const xactUs = i % 3 === 0 ? us * 3 + 7 : us;
      tags.ended(client, where, us, 0, xactUs);
      want.query.observe(us);
      want.xact.observe(xactUs);
      want.fingerprint.observe(us);
    }
    const fp = observer.fingerprints.top()[0]?.histogram;
    for (const [got, w] of [[stats.metrics.query, want.query], [stats.metrics.xact, want.xact], [fp, want.fingerprint]] as const) {
      expect({ counts: [...(got?.counts ?? [])], sum: got?.sum, count: got?.count, max: got?.max }).toEqual({ counts: [...w.counts], sum: w.sum, count: w.count, max: w.max });
    }
    expect(observer.fingerprints.top()[0]).toMatchObject({ calls: times.length, totalUs: want.query.sum, maxUs: 1e9 });
    // Counts by kind: every request a read, every transaction too; nothing waited.
    expect({ queries: [...stats.metrics.queries], xacts: [...stats.metrics.xacts], waits: stats.metrics.wait.count }).toEqual({
      queries: [0, times.length, 0],
      xacts: [0, times.length, 0],
      waits: 0,
    });
  });

  /** A pool's per-request histograms and counters share one array: none may write into another's part. */
  it("keeps a pool's histograms and counters apart", () => {
    const m = new PoolMetrics();
    m.query.observe(150);
    m.xact.observe(3000);
    m.xact.observe(3000);
    m.wait.observe(1e12);
    m.queries[2]++;
    m.xacts[0] += 5;
    const seen = (h: Histogram): number[] => [...h.counts, h.sum, h.count, h.max];
    const alone = (...us: number[]): number[] => {
      const h = new Histogram();
      for (const x of us) h.observe(x);
      return seen(h);
    };
    expect([seen(m.query), seen(m.xact), seen(m.wait), [...m.queries], [...m.xacts]]).toEqual([alone(150), alone(3000, 3000), alone(1e12), [0, 0, 1], [5, 0, 0]]);
  });
});

describe('Histogram', () => {
  /** Prometheus buckets are "less than or equal": a value on a bound belongs to that bound's bucket. */
  it('counts a value on a bound in that bound, and keeps the last exemplar per bucket', () => {
    const h = new Histogram([100, 1000]);
    h.observe(100);
    h.observe(101);
    h.observeTraced(5000, 'aaa');
    h.observeTraced(4000, 'bbb');
    expect([...h.counts]).toEqual([1, 1, 2]);
    expect(h.sum).toBe(9201);
    expect(h.exemplars?.traceIds).toEqual([null, null, 'bbb']);
    expect(h.exemplars?.values[2]).toBe(4000);
  });

  it('estimates quantiles within the bucket', () => {
    const h = new Histogram([100, 200]);
    for (let i = 0; i < 10; i++) h.observe(150);
    expect(h.quantile(0.5)).toBe(150);
    expect(new Histogram().quantile(0.99)).toBe(0);
  });
});

describe('exposition', () => {
  it('writes canonical numbers for le', () => {
    expect([canonical(1), canonical(10), canonical(0.001), canonical(Infinity)]).toEqual(['1.0', '10.0', '0.001', '+Inf']);
  });

  /** Label values come from clients (application_name) and SQL (fingerprint texts): escaping must hold. */
  it.each(['text', 'openmetrics'] as const)('escapes what a client may put in a label, as the %s parser reads it back', async (format) => {
    const nasty = 'app "x" \\ y\nz';
    const h = new Histogram([1000]);
    h.observeTraced(500, '4bf92f3577b34da6a3ce929d0e0e4736');
    const e = new Exposition([
      family('t_total', 'counter', 'help with \\ and\nnewline', (s) => s.push({ labels: { application_name: nasty }, value: 3 })),
      family('t_seconds', 'histogram', 'h', (s) => s.histogram('t_seconds', { db: nasty }, h)),
      family('t_gauge', 'gauge', 'g', (s) => s.push({ labels: {}, value: NaN })),
    ]);
    const { contentType, body } = e.render(format === 'openmetrics');
    expect(contentType).toBe(format === 'openmetrics' ? OPENMETRICS_TEXT : PROMETHEUS_TEXT);
    const families = await parseExposition(body, format);
    const counter = families.find((f) => f.name === 't') ?? families.find((f) => f.name === 't_total');
    expect(counter?.samples[0]).toMatchObject({ name: 't_total', labels: { application_name: nasty }, value: 3 });
    expect(counter?.help).toBe('help with \\ and\nnewline');
    const buckets = families.find((f) => f.name === 't_seconds')?.samples.filter((x) => x.name === 't_seconds_bucket') ?? [];
    expect(buckets.map((b) => [b.labels.db, b.labels.le, b.value])).toEqual([
      [nasty, '0.001', 1],
      [nasty, '+Inf', 1],
    ]);
    if (format === 'openmetrics') expect(buckets[0].exemplar).toMatchObject({ labels: { trace_id: '4bf92f3577b34da6a3ce929d0e0e4736' }, value: 0.0005 });
  });
});
