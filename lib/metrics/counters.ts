// Owns the traffic counters behind SHOW STATS, STATS_TOTALS, STATS_AVERAGES and TOTALS: one
// PoolStats per pool (plain numbers the hot path bumps), and RequestTiming, which marks when a
// client's request and transaction began so their durations can be added when they end.
//
// The definitions are PgBouncer 1.18's (src/client.c, src/server.c, src/objects.c):
// - a query starts with the first message a client sends while no query of its runs, and ends
//   when the server's ReadyForQuery answers the last Sync/Query still owed; pipelined requests
//   therefore count as one query. A transaction starts with its first query and ends at a
//   ReadyForQuery 'I'. query_time includes the time the client waited for a server.
// - client bytes: every message forwarded from a client to a server, header included.
// - server bytes: every message a server sends after its login, to a client or not (answers to
//   pgmux's own SET, reset and check queries included).
// - wait time: time clients spent queued for a server, or for the pool's first login.
// Times are microseconds, read from the monotonic clock only at request start and end.

import { clock, nowUs } from '../clock';
import type { PoolMetrics } from './histogram';

/** One pool's counters since it was created (PgBouncer's PgStats). */
export class PoolStats {
  xactCount = 0;
  queryCount = 0;
  /** Bytes received from clients and forwarded to servers. */
  clientBytes = 0;
  /** Bytes received from servers after their login. */
  serverBytes = 0;
  /** Microseconds; fractional until shown. */
  xactTime = 0;
  queryTime = 0;
  waitTime = 0;

  /** Histograms and counters by kind for /metrics (./histogram.ts); null while metrics are off. */
  metrics: PoolMetrics | null = null;

  /** The counters at the stats_period tick before last, for the averages (PgBouncer's older_stats). */
  older: StatsSnapshot = ZERO;
  /** The counters at the last tick (PgBouncer's newer_stats). */
  newer: StatsSnapshot = ZERO;

  snapshot(): StatsSnapshot {
    return {
      xactCount: this.xactCount,
      queryCount: this.queryCount,
      clientBytes: this.clientBytes,
      serverBytes: this.serverBytes,
      xactTime: this.xactTime,
      queryTime: this.queryTime,
      waitTime: this.waitTime,
    };
  }
}

export interface StatsSnapshot {
  readonly xactCount: number;
  readonly queryCount: number;
  readonly clientBytes: number;
  readonly serverBytes: number;
  readonly xactTime: number;
  readonly queryTime: number;
  readonly waitTime: number;
}

export const ZERO: StatsSnapshot = {
  xactCount: 0,
  queryCount: 0,
  clientBytes: 0,
  serverBytes: 0,
  xactTime: 0,
  queryTime: 0,
  waitTime: 0,
};

/** Adds `b` to `a` (used to sum pools into a database or a total). */
export function addStats(a: StatsSnapshot, b: StatsSnapshot): StatsSnapshot {
  return {
    xactCount: a.xactCount + b.xactCount,
    queryCount: a.queryCount + b.queryCount,
    clientBytes: a.clientBytes + b.clientBytes,
    serverBytes: a.serverBytes + b.serverBytes,
    xactTime: a.xactTime + b.xactTime,
    queryTime: a.queryTime + b.queryTime,
    waitTime: a.waitTime + b.waitTime,
  };
}

/**
 * Counters of a client that has no pool (still logging in): bumps land here and are never
 * shown, so the hot path needs no null check.
 */
export const DETACHED_STATS = new PoolStats();

/** When one client's current query and transaction began (0: none running). */
export class RequestTiming {
  /** nowUs() at the start of the running query, 0 when none (SHOW CLIENTS wait, wait_us). */
  queryStart = 0;
  xactStart = 0;
  /** clock.now of the last request start (SHOW CLIENTS request_time); 0 before the first. */
  requestAt = 0;
  /** Microseconds the running request has waited for a server (the pool adds them). */
  waitUs = 0;
  /** What end() measured: the request, and the transaction it ended (-1 when it did not end one). */
  lastQueryUs = 0;
  lastXactUs = -1;

  /** A client message arrived while no query of this client was running. */
  begin(stats: PoolStats): void {
    const now = nowUs();
    this.queryStart = now;
    this.requestAt = clock.now;
    this.waitUs = 0;
    stats.queryCount++;
    if (this.xactStart === 0) {
      this.xactStart = now;
      stats.xactCount++;
    }
  }

  /** The ReadyForQuery answering the last owed request reached the client. */
  end(stats: PoolStats, transactionOver: boolean): void {
    const now = nowUs();
    const query = now - this.queryStart;
    stats.queryTime += query;
    this.lastQueryUs = query;
    this.queryStart = 0;
    this.lastXactUs = -1;
    if (transactionOver && this.xactStart !== 0) {
      const xact = now - this.xactStart;
      stats.xactTime += xact;
      this.lastXactUs = xact;
      this.xactStart = 0;
    }
  }
}
