// Owns the result cache's memory: answers as the server sent them, by key, bounded by bytes
// (least recently used dropped first) and by each entry's TTL, and dropped when a write to a
// table they read commits through pgmux. Invalidation has a clock: an answer is stored only if
// no table it read was written between the start of its read and its end, so a read that raced
// a commit cannot put the old rows back. Which statements may be cached, and the key, are the
// caller's (lib/rules/client-rules); this module only keeps bytes and counts.

import { LRUCache } from 'lru-cache';
import { ALL, type Writes } from './facts';

interface Entry {
  readonly answer: Buffer;
  /** pgmux database (SHOW CACHE rows). */
  readonly db: string;
  /** The server database the answer came from: writes through any alias of it invalidate. */
  readonly domain: string;
  readonly reads: readonly string[];
  /** Invalidation clock when the read began. */
  readonly readAt: number;
  /** Date.now() after which it is not served. */
  readonly expires: number;
}

/** Counters per pgmux database (SHOW CACHE). Plain numbers. */
export interface CacheCounters {
  hits: number;
  misses: number;
  stores: number;
  /** Entries dropped because a table they read was written (or the catalog changed). */
  invalidations: number;
  /** Entries dropped to make room, or past their TTL. */
  evictions: number;
  /** Answers not kept: bigger than result_cache_max_answer, or not a plain result (an error, a notice). */
  notStored: number;
  /** Stores refused because a write committed while the read ran. */
  raced: number;
  /** Statements a cache rule or hint asked for that cannot be cached (and why, for the log). */
  uncacheable: number;
  entries: number;
  bytes: number;
}

/** Bytes an entry costs beyond its answer and key (objects, the LRU's own bookkeeping). */
const ENTRY_OVERHEAD = 200;

export class ResultCache {
  private readonly lru: LRUCache<string, Entry>;
  /** Keys by `${domain}\0${table}`, and by domain (for writes to tables pgmux cannot name). */
  private readonly byTable = new Map<string, Set<string>>();
  private readonly byDomain = new Map<string, Set<string>>();
  /** The invalidation clock: goes up at every invalidation. */
  private clock = 0;
  /** When each `${domain}\0${table}`, and each whole domain, was last invalidated (clock). */
  private readonly tableAt = new Map<string, number>();
  private readonly domainAt = new Map<string, number>();
  /** When each read_your_writes scope last committed a write (clock). */
  private readonly scopeAt = new Map<string, number>();
  readonly counters = new Map<string, CacheCounters>();
  /** Why an entry is being removed, for the counters (dispose runs inside delete and set). */
  private removing: 'invalidation' | 'eviction' = 'eviction';

  constructor(
    readonly maxBytes: number,
    readonly maxAnswer: number,
  ) {
    this.lru = new LRUCache<string, Entry>({
      maxSize: Math.max(1, maxBytes),
      sizeCalculation: (e, key) => e.answer.length + key.length * 2 + ENTRY_OVERHEAD,
      dispose: (e, key) => this.unindex(e, key),
    });
  }

  countersOf(db: string): CacheCounters {
    let c = this.counters.get(db);
    if (c === undefined) {
      c = { hits: 0, misses: 0, stores: 0, invalidations: 0, evictions: 0, notStored: 0, raced: 0, uncacheable: 0, entries: 0, bytes: 0 };
      this.counters.set(db, c);
    }
    return c;
  }

  /** The invalidation clock now: pass it to store() when the read's answer is complete. */
  now(): number {
    return this.clock;
  }

  /**
   * The answer for `key`, or null: absent, past its TTL, or read before the last write of the
   * client's read_your_writes scope (`scope`, null when read_your_writes is off).
   */
  get(key: string, scope: string | null, nowMs: number, counters: CacheCounters): Buffer | null {
    const e = this.lru.get(key);
    if (e === undefined) {
      counters.misses++;
      return null;
    }
    if (e.expires <= nowMs) {
      this.lru.delete(key);
      counters.misses++;
      return null;
    }
    const wrote = scope === null ? undefined : this.scopeAt.get(scope);
    // Its read began before the scope's last write committed (the clock moved past readAt).
    if (wrote !== undefined && wrote > e.readAt) {
      counters.misses++;
      return null;
    }
    counters.hits++;
    return e.answer;
  }

  /**
   * Keeps `answer` for `key` unless a table it read (or its whole domain) was invalidated after
   * `readAt`, the clock when its read began (an invalidation moves the clock on first, so one at
   * readAt happened before). Returns whether it was stored.
   */
  store(key: string, db: string, domain: string, reads: readonly string[], answer: Buffer, ttlMs: number, readAt: number, nowMs: number): boolean {
    const counters = this.countersOf(db);
    if (answer.length > this.maxAnswer) {
      counters.notStored++;
      return false;
    }
    if ((this.domainAt.get(domain) ?? -1) > readAt || reads.some((t) => (this.tableAt.get(`${domain}\u0000${t}`) ?? -1) > readAt)) {
      counters.raced++;
      return false;
    }
    if (this.lru.has(key)) {
      this.removing = 'eviction';
      this.lru.delete(key);
    }
    const e: Entry = { answer, db, domain, reads, readAt, expires: nowMs + ttlMs };
    this.lru.set(key, e, { ttl: 0 });
    if (!this.lru.has(key)) return false;
    counters.stores++;
    counters.entries++;
    counters.bytes += answer.length;
    for (const t of reads) index(this.byTable, `${domain}\u0000${t}`, key);
    index(this.byDomain, domain, key);
    return true;
  }

  /** A transaction that wrote `writes` in `domain` committed (by a client of read_your_writes scope `scope`). */
  committed(domain: string, writes: Writes, scope: string | null): void {
    this.clock++;
    if (scope !== null) this.scopeAt.set(scope, this.clock);
    if (writes === ALL) {
      this.domainAt.set(domain, this.clock);
      this.drop(this.byDomain.get(domain));
      return;
    }
    for (const t of writes) {
      const k = `${domain}\u0000${t}`;
      this.tableAt.set(k, this.clock);
      this.drop(this.byTable.get(k));
    }
  }

  /** The scope ended (a client left): its writes no longer matter. */
  forgetScope(scope: string): void {
    this.scopeAt.delete(scope);
  }

  /** Drops everything (RELOAD changed the rules, or the catalog changed). */
  clear(domain?: string): void {
    this.clock++;
    if (domain === undefined) {
      this.removing = 'invalidation';
      this.lru.clear();
      return;
    }
    this.domainAt.set(domain, this.clock);
    this.drop(this.byDomain.get(domain));
  }

  private drop(keys: Set<string> | undefined): void {
    if (keys === undefined) return;
    this.removing = 'invalidation';
    for (const key of [...keys]) this.lru.delete(key);
    this.removing = 'eviction';
  }

  private unindex(e: Entry, key: string): void {
    const counters = this.countersOf(e.db);
    counters.entries--;
    counters.bytes -= e.answer.length;
    if (this.removing === 'invalidation') counters.invalidations++;
    else counters.evictions++;
    for (const t of e.reads) unindexOne(this.byTable, `${e.domain}\u0000${t}`, key);
    unindexOne(this.byDomain, e.domain, key);
  }

  get size(): number {
    return this.lru.size;
  }

  get bytes(): number {
    return this.lru.calculatedSize;
  }
}

function index(map: Map<string, Set<string>>, k: string, key: string): void {
  let s = map.get(k);
  if (s === undefined) map.set(k, (s = new Set()));
  s.add(key);
}

function unindexOne(map: Map<string, Set<string>>, k: string, key: string): void {
  const s = map.get(k);
  if (s === undefined) return;
  s.delete(key);
  if (s.size === 0) map.delete(k);
}
