// Owns the stats_period clock (PgBouncer 1.18's src/stats.c): every stats_period seconds each
// pool's counters are snapshotted, so averages cover the last period, and with log_stats the
// totals are logged as PgBouncer does:
//   LOG stats: 8 xacts/s, 12 queries/s, in 116 B/s, out 400 B/s, xact 157467 us, query 28118 us, wait 343595 us
// (one line for all databases: 1.18 writes no per-database line).

import { addStats, ZERO, type PoolStats, type StatsSnapshot } from './counters';
import { nowUs } from '../clock';
import { log } from '../log';

const USEC = 1_000_000;

/** Averages over the current period, integers as PgBouncer computes them (uint64 division). */
export interface StatsAverages {
  xactCount: number;
  queryCount: number;
  clientBytes: number;
  serverBytes: number;
  /** Per transaction / per query in the period, microseconds. */
  xactTime: number;
  queryTime: number;
  /** Microseconds of waiting per second of the period. */
  waitTime: number;
}

export class StatsPeriod {
  private timer: NodeJS.Timeout | null = null;
  private periodSeconds = 0;
  /** nowUs() of the tick before last, and of the last tick (PgBouncer's old_stamp/new_stamp). */
  private oldStamp: number;
  private newStamp: number;

  constructor(
    /** Every pool's counters, the admin console's included. */
    private readonly pools: () => Iterable<PoolStats>,
    private readonly logStats: () => boolean,
  ) {
    this.newStamp = nowUs();
    this.oldStamp = this.newStamp - USEC;
  }

  /** (Re)arms the timer; a RELOAD with another stats_period calls it again. */
  start(periodSeconds: number): void {
    if (this.timer !== null && periodSeconds === this.periodSeconds) return;
    this.stop();
    this.periodSeconds = periodSeconds;
    this.timer = setInterval(() => this.tick(), periodSeconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** One stats_period boundary: shift the snapshots and log the period's averages. */
  tick(): void {
    this.oldStamp = this.newStamp;
    this.newStamp = nowUs();
    let cur = ZERO;
    let old = ZERO;
    for (const stats of this.pools()) {
      stats.older = stats.newer;
      stats.newer = stats.snapshot();
      cur = addStats(cur, stats.newer);
      old = addStats(old, stats.older);
    }
    if (!this.logStats()) return;
    const a = this.averages(cur, old);
    log.info(
      `stats: ${a.xactCount} xacts/s, ${a.queryCount} queries/s, in ${a.clientBytes} B/s, out ${a.serverBytes} B/s, ` +
        `xact ${a.xactTime} us, query ${a.queryTime} us, wait ${a.waitTime} us`,
    );
  }

  /** PgBouncer's calc_average: rates per second since the tick before last, times per item. */
  averages(cur: StatsSnapshot, old: StatsSnapshot): StatsAverages {
    const dur = nowUs() - this.oldStamp;
    const out: StatsAverages = { xactCount: 0, queryCount: 0, clientBytes: 0, serverBytes: 0, xactTime: 0, queryTime: 0, waitTime: 0 };
    if (dur <= 0) return out;
    const perSecond = (d: number) => Math.floor((USEC * d) / dur);
    const queries = cur.queryCount - old.queryCount;
    const xacts = cur.xactCount - old.xactCount;
    out.queryCount = perSecond(queries);
    out.xactCount = perSecond(xacts);
    out.clientBytes = perSecond(cur.clientBytes - old.clientBytes);
    out.serverBytes = perSecond(cur.serverBytes - old.serverBytes);
    if (queries > 0) out.queryTime = Math.floor((cur.queryTime - old.queryTime) / queries);
    if (xacts > 0) out.xactTime = Math.floor((cur.xactTime - old.xactTime) / xacts);
    out.waitTime = perSecond(cur.waitTime - old.waitTime);
    return out;
  }
}
