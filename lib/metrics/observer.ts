// Owns what the forwarding path tells the metrics about each request: which statement it ran
// (RequestTags, one per client, fed the Query/Parse/Bind frames the client inspects anyway or
// now for this), and at its ReadyForQuery how long it took: into the linked pool's histograms,
// the fingerprint's, the counters by kind, and the slow-query log. Everything here is a few
// field writes per request; a statement text is hashed from the chunk's bytes without
// decoding (./fingerprint.ts), unless it is like the text the client's last fingerprint keeps
// (./same-text.ts), and a named statement's fingerprint is remembered at its Parse.

import { log, type LogSubject } from '../log';
import type { PoolStats } from './counters';
import { FingerprintTable, type FingerprintEntry } from './fingerprints';
import { KIND_NAMES, PoolMetrics, StatementKind } from './histogram';

/** Query/Parse frames larger than this are not assembled for metrics alone (they count as "other"). */
export const TAG_FRAME_MAX = 64 * 1024;
/** Named statements remembered per client before the map starts over. */
const NAMED_MAX = 4096;

/** The process-wide switchboard: whether anything is observed, and the fingerprint table. */
export class QueryObserver {
  /** metrics_fingerprints in force; the table keeps it too. */
  readonly fingerprints = new FingerprintTable(20);
  /** The HTTP listener is on: pools get histograms, fingerprints are ranked. */
  histograms = false;
  /** slow_query_threshold in microseconds; 0 logs nothing. */
  slowUs = 0;
  /** pgmux's refusals of clients that had no pool yet (logins), by SQLSTATE class. */
  readonly loginErrors = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;

  /** Whether requests are tagged and timed at all (a client checks at each request). */
  get active(): boolean {
    return this.histograms || this.slowUs > 0;
  }

  /** Start, RELOAD: what is on now. */
  configure(histograms: boolean, slowThresholdSeconds: number, fingerprints: number): void {
    this.histograms = histograms;
    this.slowUs = slowThresholdSeconds * 1e6;
    if (fingerprints !== this.fingerprints.limit) this.fingerprints.setK(fingerprints);
    if (histograms && this.timer === null) {
      // Who is in the top K is decided every few seconds, never on the forwarding path.
      this.timer = setInterval(() => this.fingerprints.rerank(), 5000);
      this.timer.unref();
    } else if (!histograms && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** pgmux refused a client before it had a pool (bad password, too many connections, no such database). */
  loginError(sqlstate: string): void {
    if (!this.histograms) return;
    const cls = sqlstate.slice(0, 2);
    this.loginErrors.set(cls, (this.loginErrors.get(cls) ?? 0) + 1);
  }

  /** A pool's histograms when metrics are on (a new pool, or every pool when they are turned on). */
  attach(stats: PoolStats): void {
    if (this.histograms) stats.metrics ??= new PoolMetrics();
    else stats.metrics = null;
  }
}

/** A named statement: the second hash of its name (against collisions) and its fingerprint. */
interface Named {
  readonly h2: number;
  readonly entry: FingerprintEntry;
}

/** What the slow-query log says about the client. */
export interface TaggedClient extends LogSubject {
  readonly user: string;
  readonly database: string;
  readonly params: ReadonlyMap<string, string>;
}

/** Where a request ran, for the slow-query log. */
export interface Destination {
  readonly stats: PoolStats;
  /** host:port of a replica's pool, null for the primary's. */
  readonly replicaAddress: string | null;
  /** The host a primary's pool is on now. */
  readonly target: { backend(): { readonly label: string } | null };
}

/** One client's statements in its current request and transaction. */
export class RequestTags {
  /** The request's statement: the strongest kind seen, the first of that kind. */
  private current: FingerprintEntry | null = null;
  private kind: StatementKind = StatementKind.other;
  private xactKind: StatementKind = StatementKind.other;
  private traceId: string | null = null;
  /** The unnamed statement's fingerprint (a Bind of '' runs it). */
  private unnamed: FingerprintEntry | null = null;
  /** The fingerprint of the last Query or Parse text: the next text is most often like its kept one (./same-text.ts). */
  private last: FingerprintEntry | null = null;
  private named: Map<number, Named> | null = null;

  constructor(private readonly observer: QueryObserver) {}

  /** A Query frame: buf[start] is 'Q'. */
  query(buf: Buffer, start: number, end: number): void {
    const table = this.observer.fingerprints;
    const entry = (this.last = table.lookup(buf, start + 5, end - 1, this.last));
    this.note(entry, table.traceId);
  }

  /** A Parse frame: name, then the text. */
  parse(buf: Buffer, start: number, end: number): void {
    const nameAt = start + 5;
    const nul = buf.indexOf(0, nameAt);
    if (nul < 0 || nul >= end) return;
    const sqlEnd = buf.indexOf(0, nul + 1);
    const table = this.observer.fingerprints;
    const entry = (this.last = table.lookup(buf, nul + 1, sqlEnd < 0 || sqlEnd >= end ? end : sqlEnd, this.last));
    if (nul === nameAt) this.unnamed = entry;
    else {
      const map = (this.named ??= new Map());
      if (map.size >= NAMED_MAX) map.clear();
      map.set(hash1(buf, nameAt, nul), { h2: hash2(buf, nameAt, nul), entry });
    }
    this.note(entry, table.traceId);
  }

  /** A Bind frame: portal, then the statement it runs. */
  bind(buf: Buffer, start: number, end: number): void {
    const portalEnd = buf.indexOf(0, start + 5);
    if (portalEnd < 0 || portalEnd >= end) return;
    const nameAt = portalEnd + 1;
    const nul = buf.indexOf(0, nameAt);
    if (nul < 0 || nul >= end) return;
    if (nul === nameAt) {
      if (this.unnamed !== null) this.note(this.unnamed, null);
      return;
    }
    const found = this.named?.get(hash1(buf, nameAt, nul));
    if (found !== undefined && found.h2 === hash2(buf, nameAt, nul)) this.note(found.entry, null);
  }

  /** The router sends this request's statement to the primary: a read that calls a writing function is a write. */
  routedToPrimary(): void {
    if (this.kind === StatementKind.read) this.kind = StatementKind.write;
  }

  /**
   * The ReadyForQuery of the request reached the client after `us` (of which `waitUs` waiting
   * for a server); `xactUs` >= 0 when it also ended the transaction.
   */
  ended(client: TaggedClient, where: Destination, us: number, waitUs: number, xactUs: number): void {
    const observer = this.observer;
    const kind = this.kind;
    if (kind > this.xactKind) this.xactKind = kind;
    const m = where.stats.metrics;
    // The bucket of `us` among the latency bounds, found once for the histograms that all get `us`.
    let bucket = -1;
    if (m !== null) {
      bucket = this.traceId === null ? m.query.observe(us) : m.query.observeTraced(us, this.traceId);
      m.queries[kind]++;
      if (xactUs >= 0) {
        // A transaction of one request (autocommit) took as long as the request.
        if (xactUs === us) m.xact.add(bucket, us);
        else m.xact.observe(xactUs);
        m.xacts[this.xactKind]++;
      }
    }
    if (observer.histograms) observer.fingerprints.observe(this.current, us, this.traceId, bucket);
    if (observer.slowUs > 0 && us >= observer.slowUs) slowQuery(client, where, this.current, us, waitUs, this.traceId);
    this.current = null;
    this.kind = StatementKind.other;
    this.traceId = null;
    if (xactUs >= 0) this.xactKind = StatementKind.other;
  }

  private note(entry: FingerprintEntry, traceId: string | null): void {
    if (this.current === null || entry.kind > this.kind) {
      this.current = entry;
      this.kind = entry.kind;
    }
    if (traceId !== null) this.traceId = traceId;
  }
}

/** The slow-query log line (slow_query_threshold). */
function slowQuery(client: TaggedClient, where: Destination, entry: FingerprintEntry | null, us: number, waitUs: number, traceId: string | null): void {
  const ms = (x: number): string => (x / 1000).toFixed(1);
  const destination = where.replicaAddress === null ? `primary ${where.target.backend()?.label ?? '(none)'}` : `replica ${where.replicaAddress}`;
  const app = client.params.get('application_name') ?? '';
  log.info(
    `slow query: ${ms(us)} ms (wait ${ms(waitUs)} ms, run ${ms(us - waitUs)} ms) on ${destination}, ` +
      `fingerprint ${entry?.id ?? 'none'} (${KIND_NAMES[entry?.kind ?? 0]}), user=${client.user} database=${client.database} ` +
      `application_name=${JSON.stringify(app)}${traceId === null ? '' : ` trace_id=${traceId}`}: ${entry?.text ?? '(no statement)'}`,
    client,
  );
}

function hash1(buf: Buffer, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) h = Math.imul(h ^ buf[i], 0x01000193);
  return h >>> 0;
}

function hash2(buf: Buffer, from: number, to: number): number {
  let h = 0x9747b28c;
  for (let i = from; i < to; i++) {
    h = Math.imul(h ^ buf[i], 0x5bd1e995);
    h ^= h >>> 15;
  }
  return h >>> 0;
}
