// Owns the fingerprints pgmux has seen lately and which of them get a latency histogram of their
// own: the K (metrics_fingerprints) with the most total time over the last minutes; everything
// else is observed into the one "other" histogram, so /metrics holds at most K + 1 series per
// fingerprint family whatever the traffic.
//
// An observation goes to the histogram its fingerprint has at that moment (its own, or
// "other"), and never moves: every series only grows, and a fingerprint that enters the top K
// starts a new series. Which fingerprints hold one is decided by rerank(), every few seconds,
// with hysteresis so that two fingerprints of similar weight do not swap at every rerank.

import { FingerprintScanner, SCAN_LIMIT } from './fingerprint';
import { Histogram, type StatementKind } from './histogram';
import { SAMPLE_MAX, SameText } from './same-text';

/**
 * Fingerprints remembered (with their totals) to rank them. Past it the ones with the least
 * recent time are forgotten at the next rerank, or at once when twice as many pile up.
 */
export const TRACKED = 5000;
/** Longest display text kept per fingerprint. */
const TEXT_MAX = 1000;
/** A fingerprint takes a histogram from one in the top K only with this much more recent time. */
const HYSTERESIS = 1.25;
/** Recent time halves every this many milliseconds ("lately"). */
export const HALF_LIFE_MS = 60_000;
/**
 * Memory for kept texts (./same-text.ts) over all fingerprints, each charged its length and
 * SAMPLE_OVERHEAD; past it new fingerprints keep none.
 */
export const SAMPLE_BUDGET = 1024 * 1024;
/** What a kept text costs beyond its bytes (its object, the packed words' Int32Array and ArrayBuffer, spans: 460 bytes of heap measured on node 20). */
export const SAMPLE_OVERHEAD = 512;

// Where a fingerprint keeps its sums (FingerprintEntry.totals): what every request writes, then
// what only rerank() writes (recent time is derived from the total, see recentUs).
const CALLS = 0;
const TOTAL = 1;
const MAX = 2;
const RECENT_AT_DECAY = 3;
const TOTAL_AT_DECAY = 4;

export class FingerprintEntry {
  /** 16 hex digits: the label value on /metrics. */
  readonly id: string;
  /**
   * Calls, microseconds since pgmux started and the largest, then the recent time and the total
   * at the last decay (rerank): in one array, because as number fields each would be a heap box
   * of its own that every request of the fingerprint writes (./histogram.ts says the same of
   * histograms).
   */
  readonly totals = new Float64Array(5);
  /** Its own histogram while among the top K, else null (observations go to "other"). */
  histogram: Histogram | null = null;
  /**
   * A text that gave this fingerprint, to know the next one like it without scanning; null when
   * none is kept, and from the moment the table forgets the entry (a client's last must not revive it).
   */
  sample: SameText | null = null;

  constructor(
    readonly h1: number,
    readonly h2: number,
    /** Normalized text (literals as ?), for the status page, the slow-query log and fingerprint_info. */
    readonly text: string,
    readonly kind: StatementKind,
  ) {
    this.id = (h1 >>> 0).toString(16).padStart(8, '0') + (h2 >>> 0).toString(16).padStart(8, '0');
  }

  get calls(): number {
    return this.totals[CALLS];
  }

  /** Microseconds since pgmux started. */
  get totalUs(): number {
    return this.totals[TOTAL];
  }

  /**
   * Microseconds, decayed by rerank (half-life HALF_LIFE_MS): what it was at the last decay plus
   * the time added since, so that a request adds to the total only.
   */
  get recentUs(): number {
    const t = this.totals;
    return t[RECENT_AT_DECAY] + (t[TOTAL] - t[TOTAL_AT_DECAY]);
  }

  /** Recent time is multiplied by `factor` (rerank). */
  decay(factor: number): void {
    const t = this.totals;
    t[RECENT_AT_DECAY] = this.recentUs * factor;
    t[TOTAL_AT_DECAY] = t[TOTAL];
  }

  get maxUs(): number {
    return this.totals[MAX];
  }
}

export class FingerprintTable {
  /** Every observation of a fingerprint outside the top K (and of requests without a statement). */
  readonly other = new Histogram();
  private readonly scanner = new FingerprintScanner();
  /**
   * By first hash. A plain Map: lru-cache's get() allocates an options object per call, which
   * on the forwarding path is one allocation per request.
   */
  private readonly entries = new Map<number, FingerprintEntry>();
  /** Fingerprints holding a histogram now. */
  private readonly ranked = new Set<FingerprintEntry>();
  private lastDecay = performance.now();
  private sampleTotal = 0;

  constructor(
    /** metrics_fingerprints; setK() on RELOAD. */
    private k: number,
  ) {}

  /** Trace id of the statement last looked up, or null (read right after lookup()). */
  traceId: string | null = null;

  /**
   * The fingerprint of the statement in buf[start, end): `last` (the client's previous one) when
   * the text is like the one it keeps, else found by its hash, or made at first sight.
   */
  lookup(buf: Buffer, start: number, end: number, last: FingerprintEntry | null = null): FingerprintEntry {
    const sample = last?.sample;
    if (sample != null && end - start <= SCAN_LIMIT && sample.matches(buf, start, end)) {
      this.traceId = null;
      return last as FingerprintEntry;
    }
    const s = this.scanner;
    s.scan(buf, start, end);
    this.traceId = s.traceAt < 0 ? null : buf.toString('latin1', s.traceAt, s.traceAt + 32);
    const found = this.entries.get(s.h1);
    if (found !== undefined && found.h2 === s.h2) {
      if (found.sample === null) this.keepSample(found, buf, start, end);
      return found;
    }
    const h1 = s.h1;
    const h2 = s.h2;
    const kind = s.kind;
    const tokens: string[] = [];
    s.scan(buf, start, end, tokens);
    const entry = new FingerprintEntry(h1, h2, displayText(tokens), kind);
    // A collision of the first hash replaces the older entry (its history is the price; 1 in 2^32).
    if (found !== undefined) {
      this.unrank(found);
      this.dropSample(found);
    }
    if (this.entries.size >= 2 * TRACKED) this.forget(this.byRecent());
    this.entries.set(h1, entry);
    if (this.ranked.size < this.k) this.rank(entry);
    // The scanner's spans and trace are the display pass's, the same as the first pass's.
    this.keepSample(entry, buf, start, end);
    return entry;
  }

  /** Memory of all kept texts now, as SAMPLE_BUDGET counts it. */
  get sampleBytes(): number {
    return this.sampleTotal;
  }

  /** Keeps buf[start, end), just scanned, as `entry`'s text when it can: short, no trace id, within the budget. */
  private keepSample(entry: FingerprintEntry, buf: Buffer, start: number, end: number): void {
    const s = this.scanner;
    const n = end - start;
    if (s.traceAt >= 0 || n > SAMPLE_MAX || this.sampleTotal + n + SAMPLE_OVERHEAD > SAMPLE_BUDGET) return;
    entry.sample = new SameText(buf, start, end, s.integerSpans, s.integers);
    this.sampleTotal += n + SAMPLE_OVERHEAD;
  }

  private dropSample(entry: FingerprintEntry): void {
    if (entry.sample === null) return;
    this.sampleTotal -= entry.sample.length + SAMPLE_OVERHEAD;
    entry.sample = null;
  }

  /**
   * One request of `entry` (null: none was seen, e.g. only Sync) took `us`; `bucket` is its
   * bucket among LATENCY_BOUNDS_US when the caller found it already, else -1.
   */
  observe(entry: FingerprintEntry | null, us: number, traceId: string | null, bucket = -1): void {
    let h = this.other;
    if (entry !== null) {
      const t = entry.totals;
      t[CALLS]++;
      t[TOTAL] += us;
      if (us > t[MAX]) t[MAX] = us;
      if (entry.histogram !== null) h = entry.histogram;
    }
    if (traceId !== null) h.observeTraced(us, traceId);
    else if (bucket >= 0) h.add(bucket, us);
    else h.observe(us);
  }

  /** The fingerprints with a histogram now, most recent time first. */
  top(): FingerprintEntry[] {
    return [...this.ranked].sort((a, b) => b.recentUs - a.recentUs);
  }

  /** Fingerprints remembered now. */
  get size(): number {
    return this.entries.size;
  }

  /** metrics_fingerprints in force. */
  get limit(): number {
    return this.k;
  }

  /** metrics_fingerprints changed (RELOAD): the top K is decided again now. */
  setK(k: number): void {
    this.k = k;
    this.rerank();
  }

  /**
   * Decays recent time and gives the K heaviest fingerprints a histogram: free places first,
   * then a newcomer takes the place of the lightest holder it outweighs by HYSTERESIS.
   */
  rerank(now = performance.now()): void {
    const factor = Math.pow(0.5, (now - this.lastDecay) / HALF_LIFE_MS);
    this.lastDecay = now;
    for (const e of this.entries.values()) e.decay(factor);
    const all = this.byRecent();
    this.forget(all);
    const wanted = all.slice(0, this.k);
    const wantedSet = new Set(wanted);
    // Holders beyond K (K went down) or no longer wanted, lightest first.
    const holders = [...this.ranked].sort((a, b) => a.recentUs - b.recentUs);
    while (this.ranked.size > this.k) this.unrank(holders.shift() as FingerprintEntry);
    const victims = holders.filter((e) => !wantedSet.has(e));
    for (const candidate of wanted) {
      if (candidate.histogram !== null) continue;
      if (this.ranked.size < this.k) {
        this.rank(candidate);
        continue;
      }
      const victim = victims[0];
      if (victim === undefined || candidate.recentUs <= victim.recentUs * HYSTERESIS) break;
      victims.shift();
      this.unrank(victim);
      this.rank(candidate);
    }
  }

  /** Every fingerprint, most recent time first. */
  private byRecent(): FingerprintEntry[] {
    return [...this.entries.values()].sort((a, b) => b.recentUs - a.recentUs);
  }

  /** Past TRACKED, forgets the fingerprints with the least recent time (never one holding a histogram). */
  private forget(byRecent: readonly FingerprintEntry[]): void {
    for (let i = TRACKED; i < byRecent.length; i++) {
      const e = byRecent[i];
      if (e.histogram !== null) continue;
      this.entries.delete(e.h1);
      this.dropSample(e);
    }
  }

  private rank(entry: FingerprintEntry): void {
    entry.histogram = new Histogram();
    this.ranked.add(entry);
  }

  private unrank(entry: FingerprintEntry): void {
    entry.histogram = null;
    this.ranked.delete(entry);
  }
}

/** Keywords written with a space before a parenthesis (a function name is written without). */
const SPACED_BEFORE_PAREN = new Set(['in', 'values', 'as', 'exists', 'any', 'all', 'some', 'on', 'using', 'over', 'filter', 'and', 'or', 'not', 'from', 'join', 'where', 'select', 'into', 'table', 'with']);

/** Tokens joined the way people write SQL: no space inside parentheses or before , ; . and after . */
function displayText(tokens: readonly string[]): string {
  let out = '';
  let prev = '';
  for (const t of tokens) {
    if (out.length > TEXT_MAX) return `${out.slice(0, TEXT_MAX)}…`;
    const tight =
      prev === '' || prev === '(' || prev === '.' || prev === ':' || t === ':' || t === ')' || t === ',' || t === ';' || t === '.' ||
      (t === '(' && /\w$/.test(prev) && !SPACED_BEFORE_PAREN.has(prev));
    out += tight ? t : ` ${t}`;
    prev = t;
  }
  return out;
}
