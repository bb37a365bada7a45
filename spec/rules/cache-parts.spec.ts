// Specs for the result cache's parts without sockets: which requests have a cache key
// (lib/rules/request readBatch), which answers may be kept (keepableAnswer), the store with its
// byte bound, TTL, invalidation clock and read_your_writes scopes (ResultCache), and the catalog's
// verdict (CacheCatalog). Frames come from the specs' own byte builder.

import { loadParser } from '../../lib/routing/classify';
import { CacheCatalog } from '../../lib/rules/catalog';
import { statementFacts } from '../../lib/rules/facts';
import { keepableAnswer, readBatch } from '../../lib/rules/request';
import { ResultCache } from '../../lib/rules/result-cache';
import { cstr, frame, i16, i32 } from '../support/bytes';
import { msg } from '../support/messages';

beforeAll(() => loadParser());

const names = { statementText: (name: string) => (name === 'known' ? 'SELECT 1' : undefined) };
const bind = (statement = '', param = '5'): Buffer =>
  frame('B', cstr(''), cstr(statement), i16(0), i16(1), i32(param.length), Buffer.from(param), i16(0));

describe('readBatch', () => {
  /** With the result cache off nothing reads a key: none is made, and the statements are the same. */
  it('makes no key when not asked to, reading the same statements', () => {
    const bytes = Buffer.concat([msg.parse('SELECT $1'), bind(), msg.describePortal(), msg.execute(), msg.sync()]);
    const keyed = readBatch(bytes, names);
    expect(keyed.cacheKey).not.toBeNull();
    expect(readBatch(bytes, names, false)).toEqual({ ...keyed, cacheKey: null });
    expect(readBatch(msg.query('SELECT 1'), names, false)).toEqual({ statements: [{ type: 'query', text: 'SELECT 1' }], whole: true, cacheKey: null });
  });

  it('keys one simple Query by its text', () => {
    expect(readBatch(msg.query('SELECT 1'), names)).toEqual({ statements: [{ type: 'query', text: 'SELECT 1' }], whole: true, cacheKey: 'Q\u0000SELECT 1' });
  });

  it('keys an unnamed extended batch by the Parse and the Bind parameters', () => {
    const a = readBatch(Buffer.concat([msg.parse('SELECT $1'), bind(), msg.describePortal(), msg.execute(), msg.sync()]), names);
    const b = readBatch(Buffer.concat([msg.parse('SELECT $1'), bind('', '6'), msg.describePortal(), msg.execute(), msg.sync()]), names);
    expect(a.whole).toBe(true);
    expect(a.cacheKey).not.toBeNull();
    expect(a.cacheKey).not.toBe(b.cacheKey);
  });

  it("keys a Bind of a named statement by the client's text for it", () => {
    const batch = readBatch(Buffer.concat([bind('known'), msg.execute(), msg.sync()]), names);
    expect(batch.statements).toEqual([{ type: 'bind', text: 'SELECT 1' }]);
    expect(batch.cacheKey).toMatch(/^E-\u0000NSELECT 1\u0000/);
    expect(readBatch(Buffer.concat([bind('unknown'), msg.execute(), msg.sync()]), names).cacheKey).toBeNull();
  });

  /** asyncpg's fetchval() executes with a row limit of 1: a different request from all rows. */
  it('keys an Execute with a row limit apart from one without', () => {
    const all = readBatch(Buffer.concat([bind('known'), msg.execute(), msg.sync()]), names).cacheKey;
    const one = readBatch(Buffer.concat([bind('known'), msg.execute(1), msg.sync()]), names).cacheKey;
    const ten = readBatch(Buffer.concat([bind('known'), msg.execute(10), msg.sync()]), names).cacheKey;
    expect(one).not.toBeNull();
    expect(new Set([all, one, ten]).size).toBe(3);
  });

  it.each([
    ['a named Parse (the client would think it prepared)', Buffer.concat([msg.parse('SELECT 1', 's1'), bind('s1'), msg.execute(), msg.sync()])],
    ['two requests', Buffer.concat([msg.query('SELECT 1'), msg.query('SELECT 2')])],
    ['a batch without its Sync', Buffer.concat([msg.parse('SELECT 1'), bind(), msg.execute()])],
    ['a message cut short', msg.query('SELECT 1').subarray(0, 8)],
  ])('gives no cache key to %s', (_what, bytes) => {
    expect(readBatch(bytes, names).cacheKey).toBeNull();
  });

  /** Only a whole request may be answered by pgmux itself. */
  it('calls a batch whole only through its only Sync, with nothing after it', () => {
    expect(readBatch(Buffer.concat([msg.parse('SELECT 1'), bind(), msg.execute(), msg.sync()]), names).whole).toBe(true);
    expect(readBatch(Buffer.concat([msg.parse('SELECT 1'), bind(), msg.execute(), msg.sync(), msg.query('SELECT 2')]), names).whole).toBe(false);
    expect(readBatch(Buffer.concat([msg.query('SELECT 1'), msg.terminate()]), names).whole).toBe(false);
  });
});

describe('keepableAnswer', () => {
  const row = frame('D', i16(1), i32(1), Buffer.from('1'));
  const desc = frame('T', i16(1), cstr('x'), i32(0), i16(0), i32(23), i16(4), i32(-1), i16(0));
  const done = frame('C', cstr('SELECT 1'));
  const ready = (s: string): Buffer => frame('Z', Buffer.from(s));

  it('keeps result frames ending in ReadyForQuery I', () => {
    expect(keepableAnswer(Buffer.concat([desc, row, done, ready('I')]))).toBe(true);
    expect(keepableAnswer(Buffer.concat([frame('1'), frame('2'), desc, row, done, ready('I')]))).toBe(true);
    // A row limit reached: the same request (the limit is in its key) gets the same answer.
    expect(keepableAnswer(Buffer.concat([frame('2'), row, frame('s'), ready('I')]))).toBe(true);
  });

  it.each([
    ['an error', Buffer.concat([frame('E', Buffer.from('SERROR\0C42P01\0Mx\0\0')), ready('I')])],
    ['a notice', Buffer.concat([frame('N', Buffer.from('SNOTICE\0C00000\0Mx\0\0')), desc, row, done, ready('I')])],
    ['a parameter change', Buffer.concat([frame('S', cstr('TimeZone'), cstr('UTC')), done, ready('I')])],
    ['a transaction left open', Buffer.concat([desc, row, done, ready('T')])],
    ['bytes after ReadyForQuery', Buffer.concat([desc, row, done, ready('I'), row])],
    ['no ReadyForQuery', Buffer.concat([desc, row, done])],
  ])('refuses %s', (_what, bytes) => {
    expect(keepableAnswer(bytes)).toBe(false);
  });
});

describe('ResultCache', () => {
  const answer = (n: number): Buffer => Buffer.alloc(n, 1);

  it('serves an answer until its TTL', () => {
    const cache = new ResultCache(10_000, 1000);
    const c = cache.countersOf('db');
    expect(cache.store('k', 'db', 'd', ['t'], answer(10), 100, cache.now(), 1000)).toBe(true);
    expect(cache.get('k', null, 1050, c)).toEqual(answer(10));
    expect(cache.get('k', null, 1100, c)).toBeNull();
    expect(c).toMatchObject({ hits: 1, misses: 1, stores: 1 });
  });

  /** Memory is bounded in bytes: a burst of entries pushes out the least recently used. */
  it('holds at most its size in bytes, dropping the least recently used', () => {
    const cache = new ResultCache(3000, 1000);
    for (let i = 0; i < 10; i++) cache.store(`k${i}`, 'db', 'd', ['t'], answer(900), 60_000, cache.now(), 0);
    expect(cache.bytes).toBeLessThanOrEqual(3000);
    expect(cache.size).toBeLessThan(10);
    expect(cache.countersOf('db').evictions).toBeGreaterThan(0);
    expect(cache.store('huge', 'db', 'd', ['t'], answer(1001), 60_000, cache.now(), 0)).toBe(false);
  });

  it('drops the answers that read a table when a write to it commits, in that database only', () => {
    const cache = new ResultCache(10_000, 1000);
    const c = cache.countersOf('db');
    cache.store('a', 'db', 'd', ['t'], answer(1), 60_000, cache.now(), 0);
    cache.store('b', 'db', 'd', ['u'], answer(1), 60_000, cache.now(), 0);
    cache.store('c', 'db', 'other', ['t'], answer(1), 60_000, cache.now(), 0);
    cache.committed('d', ['t'], null);
    expect([cache.get('a', null, 1, c), cache.get('b', null, 1, c), cache.get('c', null, 1, c)].map((x) => x !== null)).toEqual([false, true, true]);
    cache.committed('d', 'all', null);
    expect(cache.get('b', null, 1, c)).toBeNull();
    expect(c.invalidations).toBe(2);
  });

  /** A read that began before a write committed must not put the old rows back. */
  it('refuses to store an answer whose read raced a commit to a table it read', () => {
    const cache = new ResultCache(10_000, 1000);
    const readAt = cache.now();
    cache.committed('d', ['t'], null);
    expect(cache.store('k', 'db', 'd', ['t'], answer(1), 60_000, readAt, 0)).toBe(false);
    expect(cache.countersOf('db').raced).toBe(1);
    expect(cache.store('k', 'db', 'd', ['t'], answer(1), 60_000, cache.now(), 0)).toBe(true);
  });

  it("never serves a scope an answer read before the scope's last write", () => {
    const cache = new ResultCache(10_000, 1000);
    const c = cache.countersOf('db');
    cache.store('k', 'db', 'd', ['t'], answer(1), 60_000, cache.now(), 0);
    cache.committed('d', ['elsewhere'], 'c\u00001');
    expect(cache.get('k', 'c\u00001', 1, c)).toBeNull();
    expect(cache.get('k', 'c\u00002', 1, c)).not.toBeNull();
  });
});

describe('CacheCatalog', () => {
  const catalog = CacheCatalog.fromRows([
    ['f', 'now'],
    ['f', 'random'],
    ['r', 'accounts'],
    ['n', 'accounts_view'],
    ['n', 'x'],
  ]);

  it.each([
    ['SELECT abs(balance) FROM accounts', null],
    ['SELECT now() FROM accounts', 'function now is not immutable'],
    ['SELECT * FROM accounts_view', 'accounts_view is not a plain permanent table'],
    ['SELECT * FROM missing', 'missing is not a plain permanent table'],
    ['WITH y AS (SELECT 1) SELECT * FROM y, accounts', null],
    // A relation named like the CTE exists: which one is read depends on scope, so no.
    ['WITH x AS (SELECT 1) SELECT * FROM x', 'x is not a plain permanent table'],
  ])('%s: %s', (sql, verdict) => {
    expect(catalog.judge(statementFacts(sql))).toBe(verdict);
  });
});
