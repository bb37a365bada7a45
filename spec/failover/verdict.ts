// Owns judging a drill run: what the clients saw (errors, gaps, when writes came back), what
// the final primary holds (lost, duplicated, phantom writes; pgbench's history and balances),
// and how often the pooler dialled each node.

import type { Cluster, PgNode } from '../support/cluster';
import { peakInWindow } from '../support/dials';
import { DRILL_TABLE, writeKey, type IdleError, type IdleResults } from './idle-clients';
import type { PgbenchAbort, PgbenchResults } from './pgbench-load';
import type { EventTimeline } from './scenarios';

export interface FinalRows {
  /** "client:seq" -> how many rows the final primary has with that key. */
  writes: Map<string, number>;
  historyRows: number;
  /** Σ abalance, Σ tbalance, Σ bbalance, Σ delta: equal when every transaction was whole. */
  sums: { accounts: bigint; tellers: bigint; branches: bigint; history: bigint };
}

export interface NodeDials {
  node: string;
  total: number;
  /** Attempts while the node was stopped (refused by the kernel: only strace sees them). */
  whileDown: number;
  /** How long it was stopped during the load (0 for the node that stayed up). */
  downSeconds: number;
  peakPerSecond: number;
}

export interface Verdict {
  idle: {
    clients: number;
    inserts: number;
    selects: number;
    errors: IdleError[];
    /**
     * Errors of writes already sent when the event began: the pooler cannot know whether they
     * ran, so it may not replay them. Reads are not among them: a read outside a transaction
     * may be sent again elsewhere (DESIGN.md, failure model), so a failed read counts.
     */
    inFlight: IdleError[];
    /** Every other error: what the targets count. */
    counted: IdleError[];
    /** Distinct idle clients with a counted error. */
    clientsWithErrors: number;
    staleReads: IdleError[];
    doubleReads: IdleError[];
  };
  pgbench: {
    clients: number;
    rate: number;
    acknowledged: number;
    aborts: PgbenchAbort[];
    abortedAtBegin: number;
    finished: boolean;
    /** Before the event: transactions per second, and mean latency and schedule lag (ms). */
    beforeEvent: { tps: number; latencyMs: number; lagMs: number };
    historyRows: number;
    /** Aborts in END (or where pgbench did not say): the commit may or may not have happened. */
    unknownOutcome: number;
    /** Why history rows and acknowledged transactions do not fit, or undefined. */
    historyProblem?: string;
    balanceProblem?: string;
  };
  writes: {
    acknowledged: number;
    lost: string[];
    duplicated: string[];
    phantom: string[];
    /** Keys on the primary that no client ever tried to write. */
    strays: string[];
    /** Writes with an unknown outcome: how many made it and how many did not (both allowed). */
    unknownPresent: number;
    unknownAbsent: number;
  };
  /** The longest time without an acknowledged commit (pgbench or idle client) while the load ran. */
  longestGap: { ms: number; from: number; to: number; openEnded: boolean };
  /** From the new primary being ready (promotion, restart) to the first acknowledged write. */
  firstWriteAfterReadyMs?: number;
  /** Replica loss: from the standby being back to the first client read it served. */
  standbyReadsBackMs?: number;
  poolerRunning: boolean;
  poolerEnd: string;
  dials: NodeDials[];
  /** More dials than this to one node within one second is a tight loop. */
  tightLoopPerSecond: number;
}

/** Reads what the final primary holds, over TCP as postgres. */
export async function readFinalRows(cluster: Cluster, node: PgNode): Promise<FinalRows> {
  const writes = new Map<string, number>();
  const r = await cluster.query(node, `SELECT client, seq, count(*)::int AS n FROM ${DRILL_TABLE} GROUP BY client, seq`);
  for (const row of r.rows as Array<{ client: number; seq: number; n: number }>) writes.set(writeKey(row.client, row.seq), row.n);
  const s = await cluster.query(
    node,
    `SELECT (SELECT count(*) FROM pgbench_history) AS rows,
            (SELECT coalesce(sum(abalance), 0) FROM pgbench_accounts)::text AS accounts,
            (SELECT coalesce(sum(tbalance), 0) FROM pgbench_tellers)::text AS tellers,
            (SELECT coalesce(sum(bbalance), 0) FROM pgbench_branches)::text AS branches,
            (SELECT coalesce(sum(delta), 0) FROM pgbench_history)::text AS history`,
  );
  const row = s.rows[0] as { rows: string; accounts: string; tellers: string; branches: string; history: string };
  return {
    writes,
    historyRows: Number(row.rows),
    sums: { accounts: BigInt(row.accounts), tellers: BigInt(row.tellers), branches: BigInt(row.branches), history: BigInt(row.history) },
  };
}

export interface JudgeInput {
  idle: IdleResults;
  pgbench: PgbenchResults;
  final: FinalRows;
  timeline: EventTimeline;
  /** The load ran from `loadStart` until `loadEnd` (ms since the epoch). */
  loadStart: number;
  loadEnd: number;
  /** Whether the scenario's new primary (or restarted one) takes writes: false for replica loss. */
  writesResume: boolean;
  standbyReadsBackAt?: number;
  poolerRunning: boolean;
  poolerEnd: string;
  dials: Array<{ node: PgNode; times: number[] }>;
  tightLoopPerSecond: number;
}

export function judge(i: JudgeInput): Verdict {
  const { idle, pgbench, final, timeline } = i;
  const at = timeline.at;
  // A write in a backend when it was stopped may have committed (a synchronous commit cut short
  // says "already committed locally"): its error is the right answer, not one pgmux could spare.
  // Backends are stopped between the signal and the postmaster's exit, so a write sent until then
  // may be one of them.
  const inFlight = idle.errors.filter((e) => e.action === 'insert' && e.startedAt < timeline.gone && e.endedAt >= at);
  const counted = idle.errors.filter((e) => !inFlight.includes(e) && e.endedAt >= i.loadStart);
  const unknownOutcome = pgbench.aborts.filter((a) => a.command === '' || /^END\b|^COMMIT\b/i.test(a.command)).length;
  const acks = [...pgbench.commits, ...idle.acknowledged.values()].filter((t) => t >= i.loadStart && t <= i.loadEnd).sort((a, b) => a - b);
  const firstAfterReady = acks.find((t) => t >= timeline.ready);
  return {
    idle: {
      clients: idle.clients,
      inserts: idle.inserts,
      selects: idle.selects,
      errors: idle.errors,
      inFlight,
      counted,
      clientsWithErrors: new Set(counted.map((e) => e.client)).size,
      staleReads: idle.staleReads,
      doubleReads: idle.doubleReads,
    },
    pgbench: {
      clients: pgbench.clients,
      rate: pgbench.rate,
      acknowledged: pgbench.commits.length,
      aborts: pgbench.aborts,
      abortedAtBegin: pgbench.aborts.filter((a) => /^BEGIN\b/i.test(a.command)).length,
      finished: pgbench.finished,
      beforeEvent: steadyState(pgbench, i.loadStart, at),
      historyRows: final.historyRows,
      unknownOutcome,
      historyProblem: historyProblem(pgbench, final.historyRows, unknownOutcome),
      balanceProblem: balanceProblem(final.sums),
    },
    writes: compareWrites(idle, final.writes),
    longestGap: longestGap(acks, i.loadStart, i.loadEnd),
    firstWriteAfterReadyMs: i.writesResume && firstAfterReady !== undefined ? firstAfterReady - timeline.ready : undefined,
    standbyReadsBackMs: i.standbyReadsBackAt === undefined ? undefined : Math.max(0, i.standbyReadsBackAt - timeline.ready),
    poolerRunning: i.poolerRunning,
    poolerEnd: i.poolerEnd,
    dials: i.dials.map(({ node, times }) => {
      const down = node === timeline.down.node ? { from: timeline.down.from, to: Math.min(timeline.down.to ?? i.loadEnd, i.loadEnd) } : undefined;
      return {
        node: `${node.name} :${node.port}`,
        total: times.length,
        whileDown: down ? times.filter((t) => t >= down.from && t < down.to).length : 0,
        downSeconds: down ? (down.to - down.from) / 1000 : 0,
        peakPerSecond: peakInWindow(times, 1000),
      };
    }),
    tightLoopPerSecond: i.tightLoopPerSecond,
  };
}

/** pgbench's rate, latency and schedule lag from the load's start until the event. */
function steadyState(p: PgbenchResults, from: number, to: number): Verdict['pgbench']['beforeEvent'] {
  // From the first transaction: pgbench's clients connect first.
  const start = Math.max(from, p.transactions[0]?.end ?? from);
  const txs = p.transactions.filter((t) => t.end >= start && t.end < to);
  const mean = (xs: number[]): number => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
  return { tps: txs.length / Math.max(0.001, (to - start) / 1000), latencyMs: mean(txs.map((t) => t.latencyMs)), lagMs: mean(txs.map((t) => t.lagMs)) };
}

/**
 * pgbench's history gets one row per committed transaction. Acknowledged transactions must all
 * be there; beyond them only transactions whose END got no answer (their commit may have
 * happened) may be. The upper bound holds only when pgbench ended by itself.
 */
function historyProblem(p: PgbenchResults, rows: number, unknown: number): string | undefined {
  const acked = p.commits.length;
  if (rows < acked) return `pgbench_history has ${rows} rows but pgbench had ${acked} transactions acknowledged: ${acked - rows} lost`;
  // A killed pgbench may not have logged its last acknowledged transactions: no upper bound then.
  if (p.finished && rows > acked + unknown) return `pgbench_history has ${rows} rows, more than the ${acked} acknowledged transactions and ${unknown} with no answer to END: ${rows - acked - unknown} committed that pgbench was told failed, or twice`;
  return undefined;
}

/** tpcb-like adds the same delta to an account, a teller, a branch and a history row. */
function balanceProblem(s: FinalRows['sums']): string | undefined {
  if (s.accounts === s.tellers && s.tellers === s.branches && s.branches === s.history) return undefined;
  return `pgbench balances disagree (Σ accounts ${s.accounts}, tellers ${s.tellers}, branches ${s.branches}, history ${s.history}): a transaction was applied in part`;
}

function compareWrites(idle: IdleResults, rows: Map<string, number>): Verdict['writes'] {
  const lost: string[] = [];
  const duplicated: string[] = [];
  const phantom: string[] = [];
  const strays: string[] = [];
  let unknownPresent = 0;
  let unknownAbsent = 0;
  for (const key of idle.acknowledged.keys()) if ((rows.get(key) ?? 0) === 0) lost.push(key);
  for (const [key, n] of rows) {
    if (n > 1) duplicated.push(key);
    const failed = idle.failedWrites.get(key);
    if (failed === 'not-committed') phantom.push(key);
    else if (failed === 'unknown') unknownPresent++;
    else if (!idle.acknowledged.has(key)) strays.push(key);
  }
  for (const [key, outcome] of idle.failedWrites) if (outcome === 'unknown' && !rows.has(key)) unknownAbsent++;
  return { acknowledged: idle.acknowledged.size, lost, duplicated, phantom, strays, unknownPresent, unknownAbsent };
}

/** Gaps between consecutive acknowledgements, and from the last one to the end of the load. */
function longestGap(acks: readonly number[], start: number, end: number): Verdict['longestGap'] {
  let best = { ms: 0, from: start, to: start, openEnded: false };
  let prev = acks.length > 0 ? acks[0] : start;
  for (const t of acks) {
    if (t - prev > best.ms) best = { ms: t - prev, from: prev, to: t, openEnded: false };
    prev = t;
  }
  if (end - prev > best.ms) best = { ms: end - prev, from: prev, to: end, openEnded: true };
  return best;
}
