// Owns the histograms the forwarding path fills: fixed bucket bounds in microseconds, plain
// counts in a Float64Array, a sum, and for an observation that carries a trace id the latest
// exemplar of its bucket. observe() is a few comparisons, two additions and a maximum: no labels,
// no allocation. Whatever can be derived is left to the reader (the count is the buckets' sum):
// the exposition (./families-*.ts) turns them into Prometheus buckets at scrape time.

/**
 * Upper bounds of the latency buckets, microseconds: 0.1 ms to 10 s. A pooled query on a LAN
 * takes 0.2-2 ms; a connect with SCRAM 2-20 ms; a client held through a failover seconds.
 */
export const LATENCY_BOUNDS_US: readonly number[] = [
  100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000,
];

/** The latest traced observation of each bucket (OpenMetrics exemplars), made at the first one. */
export class Exemplars {
  readonly traceIds: (string | null)[];
  /** The observed value, microseconds. */
  readonly values: Float64Array;
  /** Wall-clock seconds of the observation (OpenMetrics exemplar timestamps are epoch seconds). */
  readonly times: Float64Array;

  constructor(buckets: number) {
    this.traceIds = new Array<string | null>(buckets).fill(null);
    this.values = new Float64Array(buckets);
    this.times = new Float64Array(buckets);
  }
}

// Where observe() keeps what it sums (Histogram.data).
const SUM = 0;
const MAX = 1;
const FIRST_BUCKET = 2;

/** Numbers a histogram over `bounds` keeps in its array. */
function histogramSize(bounds: readonly number[]): number {
  return FIRST_BUCKET + bounds.length + 1;
}

export class Histogram {
  /**
   * Everything observe() writes, in one array: the sum and the largest, then the counts per
   * bucket. Number fields of an object would each be a heap box of its own once they
   * hold a fraction (a cache line each, scattered), and an observation on the forwarding path
   * would touch them all: here it touches this object, the array and one or two of its lines.
   * The array may be shared: a pool's histograms of every request sit in one (PoolMetrics),
   * this one's part starting at `at`.
   */
  private readonly data: Float64Array;
  private readonly at: number;
  /** Observations per bucket, not cumulative; the last is +Inf (a view into data). */
  readonly counts: Float64Array;
  exemplars: Exemplars | null = null;

  constructor(readonly bounds: readonly number[] = LATENCY_BOUNDS_US, data?: Float64Array, at = 0) {
    this.data = data ?? new Float64Array(histogramSize(bounds));
    this.at = at;
    this.counts = this.data.subarray(at + FIRST_BUCKET, at + histogramSize(bounds));
  }

  /** Microseconds. */
  get sum(): number {
    return this.data[this.at + SUM];
  }

  /** Observations in all (summed here, at scrape time, rather than counted by every observation). */
  get count(): number {
    const counts = this.counts;
    let n = 0;
    for (let i = 0; i < counts.length; i++) n += counts[i];
    return n;
  }

  /** The largest observation, microseconds (the status page). */
  get max(): number {
    return this.data[this.at + MAX];
  }

  set max(us: number) {
    this.data[this.at + MAX] = us;
  }

  /** Counts `us` in its bucket; returns the bucket's index. */
  observe(us: number): number {
    const bounds = this.bounds;
    const n = bounds.length;
    let i = 0;
    // Most observations fall in the first few buckets: a linear scan beats a binary search there.
    while (i < n && us > bounds[i]) i++;
    this.add(i, us);
    return i;
  }

  /** Counts `us` in bucket `i`, which the caller found for the same bounds (observe() of another histogram). */
  add(i: number, us: number): void {
    const d = this.data;
    const at = this.at;
    d[at + FIRST_BUCKET + i]++;
    d[at + SUM] += us;
    if (us > d[at + MAX]) d[at + MAX] = us;
  }

  /** observe(), keeping `traceId` as its bucket's exemplar; returns the bucket's index. */
  observeTraced(us: number, traceId: string): number {
    const i = this.observe(us);
    const ex = (this.exemplars ??= new Exemplars(this.counts.length));
    ex.traceIds[i] = traceId;
    ex.values[i] = us;
    ex.times[i] = Date.now() / 1000;
    return i;
  }

  /** The value below which `q` (0..1) of the observations fall, by linear interpolation in its bucket (µs). */
  quantile(q: number): number {
    const count = this.count;
    if (count === 0) return 0;
    const rank = q * count;
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      const c = this.counts[i];
      if (seen + c >= rank && c > 0) {
        const lo = i === 0 ? 0 : this.bounds[i - 1];
        const hi = i < this.bounds.length ? this.bounds[i] : Math.max(this.max, lo);
        return lo + (hi - lo) * ((rank - seen) / c);
      }
      seen += c;
    }
    return this.max;
  }
}

/** What a statement is, as the counters by kind split it. */
export const StatementKind = { other: 0, read: 1, write: 2 } as const;
export type StatementKind = (typeof StatementKind)[keyof typeof StatementKind];
export const KIND_NAMES: readonly string[] = ['other', 'read', 'write'];

/**
 * One pool's histograms and counters by kind (the pool is one database, user and destination:
 * the primary, or one replica host). Made when metrics are on; PoolStats.metrics is null otherwise.
 */
export class PoolMetrics {
  /**
   * What every request writes (the query, transaction and wait histograms, the counts by kind)
   * in one array, so that a request touches a few lines of it rather than six objects.
   */
  private readonly perRequest = new Float64Array(3 * histogramSize(LATENCY_BOUNDS_US) + 6);
  /** From a request's first byte to the ReadyForQuery answering it (waiting for a server included, as SHOW STATS query_time). */
  readonly query = new Histogram(LATENCY_BOUNDS_US, this.perRequest, 0);
  /** From a transaction's first request to its ReadyForQuery 'I'. */
  readonly xact = new Histogram(LATENCY_BOUNDS_US, this.perRequest, histogramSize(LATENCY_BOUNDS_US));
  /** A client's wait for a server of this pool (0 when one was idle). */
  readonly wait = new Histogram(LATENCY_BOUNDS_US, this.perRequest, 2 * histogramSize(LATENCY_BOUNDS_US));
  /** Connect and login of a new server connection. */
  readonly connect = new Histogram();
  /** Requests and transactions by StatementKind (views into perRequest). */
  readonly queries = this.perRequest.subarray(3 * histogramSize(LATENCY_BOUNDS_US), 3 * histogramSize(LATENCY_BOUNDS_US) + 3);
  readonly xacts = this.perRequest.subarray(3 * histogramSize(LATENCY_BOUNDS_US) + 3);
  /** ErrorResponses sent to clients by SQLSTATE class: from the server, and pgmux's own. */
  readonly serverErrors = new Map<string, number>();
  readonly pgmuxErrors = new Map<string, number>();

  /** An ErrorResponse of pgmux's own reached a client of this pool. */
  pgmuxError(sqlstate: string): void {
    bump(this.pgmuxErrors, sqlstate.slice(0, 2));
  }

  /** A server's ErrorResponse frame on its way to a client: counted by the class of its 'C' field. */
  serverError(buf: Buffer, start: number, end: number): void {
    let i = start + 5;
    while (i < end && buf[i] !== 0) {
      const nul = buf.indexOf(0, i + 1);
      if (nul < 0 || nul >= end) return;
      if (buf[i] === 0x43 && nul - i === 6) {
        bump(this.serverErrors, buf.toString('latin1', i + 1, i + 3));
        return;
      }
      i = nul + 1;
    }
  }
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}
