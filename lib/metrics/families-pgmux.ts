// Owns pgmux's own request metrics on /metrics: per pool (database, user, destination) the
// latency histograms and the requests and transactions by statement kind, the top-K query
// fingerprints, errors sent to clients by SQLSTATE class, and the prepared-statement cache.
// Everything is read at scrape time from the plain counters the forwarding path keeps.

import type { PoolStats } from './counters';
import { family, type Family, type SampleSink } from './exposition';
import type { FingerprintTable } from './fingerprints';
import { KIND_NAMES, type Histogram, type PoolMetrics } from './histogram';

/** One pool as the metrics see it. */
export interface PoolView {
  readonly db: { readonly name: string };
  readonly user: string;
  /** host:port for a replica's pool, null for the primary's. */
  readonly replicaAddress: string | null;
  readonly stats: PoolStats;
}

/** The prepared-statement cache's counters (lib/prepared/link.ts) and the registry's size. */
export interface PreparedCounters {
  readonly hits: number;
  readonly misses: number;
  readonly evictions: number;
  readonly reprepares: number;
  readonly reruns: number;
  readonly statements: number;
}

export interface RequestSource {
  pools(): Iterable<PoolView>;
  /** pgmux's refusals of clients without a pool yet (logins), by SQLSTATE class: database "". */
  readonly loginErrors: ReadonlyMap<string, number>;
  readonly fingerprints: FingerprintTable;
  prepared(): PreparedCounters;
}

/** Longest query text in pgmux_query_fingerprint_info's label. */
const INFO_TEXT_MAX = 200;

function poolLabels(p: PoolView): Record<string, string> {
  return { database: p.db.name, user: p.user, destination: p.replicaAddress ?? 'primary' };
}

/** Every pool that has metrics, with its labels. */
function* measured(src: RequestSource): Generator<[Record<string, string>, PoolMetrics]> {
  for (const p of src.pools()) if (p.stats.metrics !== null) yield [poolLabels(p), p.stats.metrics];
}

const HISTOGRAMS: readonly (readonly [name: string, help: string, pick: (m: PoolMetrics) => Histogram])[] = [
  ['pgmux_query_duration_seconds', 'Requests from their first byte to the ReadyForQuery answering them, waiting for a server included (SHOW STATS query_time), per pool and destination', (m) => m.query],
  ['pgmux_transaction_duration_seconds', 'Transactions from their first request to their end (ReadyForQuery idle), per pool and destination', (m) => m.xact],
  ['pgmux_client_wait_seconds', 'Time a client waited for a server of the pool, 0 when one was idle', (m) => m.wait],
  ['pgmux_server_connect_seconds', 'Connect and login of new server connections', (m) => m.connect],
];

export function requestFamilies(src: RequestSource): Family[] {
  const out: Family[] = HISTOGRAMS.map(([name, help, pick]) =>
    family(name, 'histogram', help, (s) => {
      for (const [labels, m] of measured(src)) s.histogram(name, labels, pick(m));
    }),
  );
  out.push(
    family('pgmux_queries_total', 'counter', 'Requests by statement kind (read, write, other) and destination (primary or replica host:port)', (s) => {
      for (const [labels, m] of measured(src)) byKind(labels, m.queries, s);
    }),
    family('pgmux_transactions_total', 'counter', 'Transactions by kind (the strongest of their statements) and destination', (s) => {
      for (const [labels, m] of measured(src)) byKind(labels, m.xacts, s);
    }),
    family('pgmux_client_errors_total', 'counter', 'ErrorResponses sent to clients by SQLSTATE class, from servers or from pgmux itself (database "" for refused logins)', (s) => errors(src, s)),
    family('pgmux_query_fingerprint_duration_seconds', 'histogram', 'Requests by query fingerprint: the metrics_fingerprints with the most total time lately, every other one as "other" (calls are _count)', (s) => {
      const table = src.fingerprints;
      for (const e of table.top()) s.histogram('pgmux_query_fingerprint_duration_seconds', { fingerprint: e.id }, e.histogram as Histogram);
      s.histogram('pgmux_query_fingerprint_duration_seconds', { fingerprint: 'other' }, table.other);
    }),
    family('pgmux_query_fingerprint_info', 'gauge', 'The normalized text (literals as ?) and kind of each fingerprint with its own histogram', (s) => {
      for (const e of src.fingerprints.top()) {
        const text = e.text.length > INFO_TEXT_MAX ? `${e.text.slice(0, INFO_TEXT_MAX)}…` : e.text;
        s.push({ labels: { fingerprint: e.id, kind: KIND_NAMES[e.kind], query: text }, value: 1 });
      }
    }),
  );
  const prepared: readonly (readonly [string, string, (p: PreparedCounters) => number])[] = [
    ['pgmux_prepared_cache_hits_total', 'Named statements a client used that its server already held', (p) => p.hits],
    ['pgmux_prepared_cache_misses_total', 'Named statements pgmux prepared on a server that lacked them', (p) => p.misses],
    ['pgmux_prepared_cache_evictions_total', 'Statements closed on a server to stay within max_prepared_statements', (p) => p.evictions],
    ['pgmux_prepared_reprepares_total', 'Statements with a stale plan (columns changed) closed and prepared again', (p) => p.reprepares],
    ['pgmux_prepared_reruns_total', 'Batches run again after a stale plan, the client seeing only the new columns', (p) => p.reruns],
  ];
  for (const [name, help, get] of prepared) out.push(family(name, 'counter', help, (s) => s.push({ labels: {}, value: get(src.prepared()) })));
  out.push(family('pgmux_prepared_statements', 'gauge', 'Distinct statements in the shared registry', (s) => s.push({ labels: {}, value: src.prepared().statements })));
  return out;
}

function byKind(labels: Record<string, string>, counts: Float64Array, out: SampleSink): void {
  for (let k = 0; k < counts.length; k++) out.push({ labels: { ...labels, kind: KIND_NAMES[k] }, value: counts[k] });
}

/** Summed per database: the class and source bound the series, not the pools. */
function errors(src: RequestSource, out: SampleSink): void {
  const sums = new Map<string, { labels: Record<string, string>; value: number }>();
  const add = (database: string, source: string, errors: ReadonlyMap<string, number>): void => {
    for (const [cls, n] of errors) {
      const key = `${database}\u0000${source}\u0000${cls}`;
      const slot = sums.get(key);
      if (slot !== undefined) slot.value += n;
      else sums.set(key, { labels: { database, source, sqlstate_class: cls }, value: n });
    }
  };
  for (const [labels, m] of measured(src)) {
    add(labels.database, 'server', m.serverErrors);
    add(labels.database, 'pgmux', m.pgmuxErrors);
  }
  add('', 'pgmux', src.loginErrors);
  for (const v of sums.values()) out.push(v);
}
