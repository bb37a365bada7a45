// Owns the last minutes of traffic for the status page's charts: every SAMPLE_MS the requests
// and transactions per second over all pools, the median and 99th percentile of the requests
// answered in that interval (from the query histograms' bucket deltas), and clients active and
// waiting. A ring of plain objects, sampled off the forwarding path.

import type { PoolStats } from './counters';
import { Histogram, LATENCY_BOUNDS_US } from './histogram';

export const SAMPLE_MS = 2000;
/** 10 minutes. */
const SAMPLES = 300;

export interface HistoryPoint {
  /** Wall-clock ms. */
  readonly t: number;
  readonly qps: number;
  readonly tps: number;
  /** Of the requests answered in the interval; 0 when there were none. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly active: number;
  readonly waiting: number;
}

/** What one sample reads. */
export interface HistorySource {
  pools(): Iterable<{ readonly stats: PoolStats; readonly active: { readonly size: number }; readonly waiting: { readonly size: number } }>;
}

export class History {
  private readonly points: HistoryPoint[] = [];
  private timer: NodeJS.Timeout | null = null;
  private lastAt = 0;
  private lastQueries = 0;
  private lastXacts = 0;
  private readonly lastBuckets = new Float64Array(LATENCY_BOUNDS_US.length + 1);
  /** Scratch: the interval's bucket counts. */
  private readonly interval = new Histogram();

  constructor(private readonly source: HistorySource) {}

  start(): void {
    if (this.timer !== null) return;
    this.sample();
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  all(): readonly HistoryPoint[] {
    return this.points;
  }

  sample(now = Date.now()): void {
    let queries = 0;
    let xacts = 0;
    let active = 0;
    let waiting = 0;
    const buckets = new Float64Array(this.lastBuckets.length);
    for (const pool of this.source.pools()) {
      queries += pool.stats.queryCount;
      xacts += pool.stats.xactCount;
      active += pool.active.size;
      waiting += pool.waiting.size;
      const m = pool.stats.metrics;
      if (m !== null) for (let i = 0; i < buckets.length; i++) buckets[i] += m.query.counts[i];
    }
    if (this.lastAt !== 0) {
      const seconds = Math.max((now - this.lastAt) / 1000, 0.001);
      const h = this.interval;
      h.max = 0;
      // A pool that went away takes its counts with it: never a negative interval.
      for (let i = 0; i < buckets.length; i++) h.counts[i] = Math.max(0, buckets[i] - this.lastBuckets[i]);
      this.points.push({
        t: now,
        qps: Math.max(0, queries - this.lastQueries) / seconds,
        tps: Math.max(0, xacts - this.lastXacts) / seconds,
        p50Ms: h.quantile(0.5) / 1000,
        p99Ms: h.quantile(0.99) / 1000,
        active,
        waiting,
      });
      if (this.points.length > SAMPLES) this.points.shift();
    }
    this.lastAt = now;
    this.lastQueries = queries;
    this.lastXacts = xacts;
    this.lastBuckets.set(buckets);
  }
}
