// Owns what a bench run measured and how it reads as markdown: per-round tps ratios, pooler
// CPU per transaction, single-client latency added over direct, RSS per idle client.

import { floorMarkdown, type FloorResult } from './idle-floor';
import type { Machine } from './machine';
import type { PoolerName } from './poolers';
import { spread, type Spread } from './stats';

export interface Workload {
  id: string;
  label: string;
  clients: number;
  /** pgbench arguments for the workload (not -c/-j/-T). */
  args: string[];
  /** Minimum pgmux/PgBouncer tps ratio (median of rounds), or null: reported only. */
  target: number | null;
  /** Maximum pgmux/PgBouncer CPU-per-transaction ratio (median of rounds), or null: reported only. */
  cpuTarget: number | null;
}

/** Issue 17: pgmux's added p50 latency for one client at most this times PgBouncer's. */
export const LATENCY_TARGET = 1.3;
/** Issue 17: RSS per idle client at 10,000 idle clients, KiB. */
const IDLE_TARGET_KIB = 3;

export interface PoolerRound {
  tps: number;
  transactions: number;
  /** Pooler CPU during the round: user and kernel seconds. */
  userSeconds: number;
  sysSeconds: number;
  /** Fraction of the machine's CPUs other sessions' processes used during the run (0..1). */
  otherLoad: number;
}

export type Round = Record<PoolerName, PoolerRound>;

/**
 * A prepared-statement workload (issue 4, issue 11): pgmux with pgbench -M prepared against pgmux
 * with `compareArgs` (-M extended) in the same rounds, where `target` is the least median ratio
 * of their tps; PgBouncer 1.18 with `compareArgs` (its -M prepared clients abort) and PostgreSQL
 * directly with `args` as references for what a pooler costs on the same machine.
 */
export interface DirectWorkload extends Workload {
  compareArgs: string[];
}

/** One run of a prepared-statement workload. */
export interface DirectRun {
  tps: number;
  /** Clients pgbench aborted (a prepared statement missing on a server aborts its client). */
  aborted: number;
  otherLoad: number;
  /** Pooler CPU seconds (user + sys) during the run; 0 for the direct run. */
  cpuSeconds: number;
  transactions: number;
}

/** pgmux -M prepared, pgmux -M extended, PgBouncer -M extended, PostgreSQL -M prepared. */
export type DirectName = 'prepared' | 'extended' | 'pgbouncer' | 'direct';

export type DirectRound = Record<DirectName, DirectRun> & {
  /** The order the runs of the round ran in (it rotates each round). */
  order: DirectName[];
};

export interface LatencyRound {
  direct: { p50: number; p99: number };
  pgmux: { p50: number; p99: number };
  pgbouncer: { p50: number; p99: number };
}

export interface IdleResult {
  clients: number;
  pooler: PoolerName;
  baseRss: number;
  idleRss: number;
}

export interface Settings {
  seconds: number;
  rounds: number;
  poolSize: number;
  scale: number;
  quick: boolean;
  maxOtherLoad: number;
}

export interface Results {
  machine: Machine;
  settings: Settings;
  loadBefore: string;
  loadAfter: string;
  /** `redone`: rounds measured again because other sessions loaded the machine. */
  workloads: { workload: Workload; rounds: Round[]; redone: number }[];
  latency: LatencyRound[];
  /** pgmux and PgBouncer against PostgreSQL directly, in the same run (prepared-statement workloads). */
  direct: { workload: DirectWorkload; threads: number; rounds: DirectRound[] }[];
  idle: IdleResult[];
  /** A bare node net.Server with as many idle connections: the floor for a node pooler (./idle-floor). */
  floor: FloorResult[];
  /** Markdown: pgmux's live heap growth per idle client by object kind. */
  heap: string | null;
  /** Markdown: pgmux with workers = 1 and 2 next to PgBouncer, and the 8/16-core estimate (./workers). */
  workers: string | null;
  profiles: { workload: string; markdown: string }[];
  finishedAt: string;
}

const f = (x: number, digits = 2): string => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');
const ratioCell = (s: Spread): string => `**${f(s.median)}** (${f(s.min)}–${f(s.max)})`;

export function ratios(rounds: Round[]): Spread {
  return spread(rounds.map((r) => r.pgmux.tps / r.pgbouncer.tps));
}

/** Pooler CPU per transaction in microseconds, per round. */
const cpuPerTxn = (r: PoolerRound): number => (1e6 * (r.userSeconds + r.sysSeconds)) / r.transactions;
const userPerTxn = (r: PoolerRound): number => (1e6 * r.userSeconds) / r.transactions;

/** Whether the median ratio misses the target, and by how much (fraction below it). */
export function miss(w: Workload, rounds: Round[]): number | null {
  if (w.target === null || rounds.length === 0) return null;
  const m = ratios(rounds).median;
  return m < w.target ? (w.target - m) / w.target : null;
}

function tpsTable(res: Results): string {
  const lines = [
    '| workload | pgmux tps (median) | PgBouncer tps (median) | ratio pgmux/PgBouncer: median (min–max) | target | met |',
    '|---|---:|---:|---:|---:|:-:|',
  ];
  for (const { workload: w, rounds } of res.workloads) {
    const r = ratios(rounds);
    const met = w.target === null ? '—' : r.median >= w.target ? 'yes' : `**no** (−${f(100 * (miss(w, rounds) ?? 0), 1)}%)`;
    lines.push(
      `| ${w.label} | ${f(spread(rounds.map((x) => x.pgmux.tps)).median, 0)} | ${f(spread(rounds.map((x) => x.pgbouncer.tps)).median, 0)} | ${ratioCell(r)} | ${w.target === null ? 'none' : `≥ ${f(w.target, 1)}×`} | ${met} |`,
    );
  }
  return lines.join('\n');
}

function cpuTable(res: Results): string {
  const lines = [
    '| workload | pgmux CPU µs/txn (of it user) | PgBouncer CPU µs/txn (of it user) | ratio: median (min–max) | target | met |',
    '|---|---:|---:|---:|---:|:-:|',
  ];
  const med = (rounds: Round[], get: (r: Round) => number): string => f(spread(rounds.map(get)).median, 1);
  for (const { workload: w, rounds } of res.workloads) {
    const ratio = spread(rounds.map((x) => cpuPerTxn(x.pgmux) / cpuPerTxn(x.pgbouncer)));
    lines.push(
      `| ${w.label} | ${med(rounds, (x) => cpuPerTxn(x.pgmux))} (${med(rounds, (x) => userPerTxn(x.pgmux))}) | ` +
        `${med(rounds, (x) => cpuPerTxn(x.pgbouncer))} (${med(rounds, (x) => userPerTxn(x.pgbouncer))}) | ` +
        `${ratioCell(ratio)} | ${w.cpuTarget === null ? 'none' : `≤ ${f(w.cpuTarget, 1)}×`} | ${w.cpuTarget === null ? '—' : ratio.median <= w.cpuTarget ? 'yes' : `**no** (${f(ratio.median / w.cpuTarget)}× the target)`} |`,
    );
  }
  return lines.join('\n');
}

/**
 * Per-round percentiles are noisy on a shared 2-core box (one context switch is a p99), so the
 * added latency is the median over rounds of each target's percentile minus direct's.
 */
function latencyTable(rounds: LatencyRound[]): string {
  const med = (get: (r: LatencyRound) => number): number => spread(rounds.map(get)).median;
  const row = (p: 'p50' | 'p99'): string => {
    const direct = med((r) => r.direct[p]);
    const mux = med((r) => r.pgmux[p]);
    const bouncer = med((r) => r.pgbouncer[p]);
    const ratio = (mux - direct) / (bouncer - direct);
    const target = p === 'p50' ? `≤ ${f(LATENCY_TARGET, 1)}×` : 'none';
    const met = p === 'p50' ? (ratio <= LATENCY_TARGET ? 'yes' : '**no**') : '—';
    return `| ${p} | ${f(direct, 0)} | ${f(mux, 0)} (+${f(mux - direct, 0)}) | ${f(bouncer, 0)} (+${f(bouncer - direct, 0)}) | ${f(ratio)} | ${target} | ${met} |`;
  };
  const perRound = rounds
    .map((r, i) => `| ${i + 1} | ${r.direct.p50} / ${r.direct.p99} | ${r.pgmux.p50} / ${r.pgmux.p99} | ${r.pgbouncer.p50} / ${r.pgbouncer.p99} |`)
    .join('\n');
  return [
    '| percentile | direct µs | pgmux µs (added) | PgBouncer µs (added) | added latency pgmux/PgBouncer | target | met |',
    '|---|---:|---:|---:|---:|---:|:-:|',
    row('p50'),
    row('p99'),
    '',
    '<details><summary>Every latency round (p50 / p99 µs)</summary>',
    '',
    '| round | direct | pgmux | PgBouncer |',
    '|---:|---:|---:|---:|',
    perRound,
    '',
    '</details>',
  ].join('\n');
}

/** A prepared-statement workload below its target ratio, or with an aborted client. */
export function directMissed(w: DirectWorkload, rounds: DirectRound[]): boolean {
  if (rounds.some((x) => x.prepared.aborted + x.extended.aborted > 0)) return true;
  return w.target !== null && spread(rounds.map((x) => x.prepared.tps / x.extended.tps)).median < w.target;
}

/**
 * pgmux -M prepared against pgmux -M extended per round (the target), every aborted client,
 * pgmux's CPU per transaction in each mode, and as references PgBouncer (-M extended) and
 * PostgreSQL directly (-M prepared).
 */
function directTable(res: Results): string {
  const lines = [
    '| workload | pgmux prepared tps (median) | pgmux extended tps (median) | ratio prepared/extended: median (min–max) | aborted clients prepared / extended (all rounds) | target | met | ' +
      'pgmux µs CPU/txn prepared / extended | PgBouncer extended tps | direct prepared tps | ratio pgmux prepared/direct |',
    '|---|---:|---:|---:|---:|---:|:-:|---:|---:|---:|---:|',
  ];
  const sum = (rounds: DirectRound[], get: (x: DirectRound) => number): number => rounds.reduce((n, x) => n + get(x), 0);
  const median = (rounds: DirectRound[], get: (x: DirectRound) => number): number => spread(rounds.map(get)).median;
  const cpu = (r: DirectRun): number => (1e6 * r.cpuSeconds) / Math.max(1, r.transactions);
  for (const { workload: w, threads, rounds } of res.direct) {
    const r = spread(rounds.map((x) => x.prepared.tps / x.extended.tps));
    const met = w.target === null ? '—' : directMissed(w, rounds) ? '**no**' : 'yes';
    lines.push(
      `| ${w.label} (\`-j ${threads}\`) | ${f(median(rounds, (x) => x.prepared.tps), 0)} | ${f(median(rounds, (x) => x.extended.tps), 0)} | ${ratioCell(r)} | ` +
        `${sum(rounds, (x) => x.prepared.aborted)} / ${sum(rounds, (x) => x.extended.aborted)} | ${w.target === null ? 'none' : `≥ ${f(w.target, 1)}×, 0 aborted`} | ${met} | ` +
        `${f(median(rounds, (x) => cpu(x.prepared)), 1)} / ${f(median(rounds, (x) => cpu(x.extended)), 1)} | ` +
        `${f(median(rounds, (x) => x.pgbouncer.tps), 0)} (${sum(rounds, (x) => x.pgbouncer.aborted)} aborted) | ${f(median(rounds, (x) => x.direct.tps), 0)} | ` +
        `${ratioCell(spread(rounds.map((x) => x.prepared.tps / x.direct.tps)))} |`,
    );
  }
  lines.push(
    '',
    '| workload | round | order | pgmux prepared tps | pgmux extended tps | ratio | PgBouncer extended tps | direct prepared tps | aborted (prepared / extended / PgBouncer / direct) | other load (prepared / extended / PgBouncer / direct) |',
    '|---|---:|---|---:|---:|---:|---:|---:|---:|---:|',
  );
  const pct = (x: number): string => `${f(100 * x, 0)}%`;
  for (const { workload: w, rounds } of res.direct) {
    rounds.forEach((x, i) =>
      lines.push(
        `| ${w.id} | ${i + 1} | ${x.order.join(', ')} | ${f(x.prepared.tps, 0)} | ${f(x.extended.tps, 0)} | ${f(x.prepared.tps / x.extended.tps)} | ${f(x.pgbouncer.tps, 0)} | ${f(x.direct.tps, 0)} | ` +
          `${x.prepared.aborted} / ${x.extended.aborted} / ${x.pgbouncer.aborted} / ${x.direct.aborted} | ` +
          `${pct(x.prepared.otherLoad)} / ${pct(x.extended.otherLoad)} / ${pct(x.pgbouncer.otherLoad)} / ${pct(x.direct.otherLoad)} |`,
      ),
    );
  }
  return lines.join('\n');
}

/** Issue 17: RSS per idle client at 10,000 idle clients. */
/** Issue 17's idle target is stated at this many idle clients. */
const IDLE_TARGET_CLIENTS = 10000;

function idleTable(idle: IdleResult[]): string {
  const counts = [...new Set(idle.map((i) => i.clients))];
  const cell = (n: number, p: PoolerName): string => {
    const r = idle.find((i) => i.clients === n && i.pooler === p);
    if (!r) return 'n/a | n/a';
    return `${f(r.baseRss / 2 ** 20, 1)} → ${f(r.idleRss / 2 ** 20, 1)} | **${f((r.idleRss - r.baseRss) / r.clients / 1024, 2)}**`;
  };
  const lines = [
    '| idle clients | pgmux RSS MiB (before → with clients) | pgmux KiB/client | PgBouncer RSS MiB | PgBouncer KiB/client | target (pgmux) | met |',
    '|---:|---:|---:|---:|---:|---:|:-:|',
  ];
  for (const n of counts) {
    const r = idle.find((i) => i.clients === n && i.pooler === 'pgmux');
    const per = r ? (r.idleRss - r.baseRss) / r.clients / 1024 : NaN;
    // Issue 17's target is stated at 10,000 idle clients; a smaller count's fixed costs are spread thinner.
    if (n !== IDLE_TARGET_CLIENTS) lines.push(`| ${n} | ${cell(n, 'pgmux')} | ${cell(n, 'pgbouncer')} | — | — |`);
    else lines.push(`| ${n} | ${cell(n, 'pgmux')} | ${cell(n, 'pgbouncer')} | ≤ ${IDLE_TARGET_KIB} KiB | ${per <= IDLE_TARGET_KIB ? 'yes' : `**no** (${f(per / IDLE_TARGET_KIB, 1)}×)`} |`);
  }
  return lines.join('\n');
}

function roundsDetail(res: Results): string {
  const lines = [
    '| workload | round | pgmux tps | PgBouncer tps | ratio | pgmux µs CPU/txn | PgBouncer µs CPU/txn | other load during pgmux / PgBouncer run |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const pct = (x: number): string => `${f(100 * x, 0)}%`;
  for (const { workload: w, rounds } of res.workloads) {
    rounds.forEach((r, i) =>
      lines.push(
        `| ${w.id} | ${i + 1} | ${f(r.pgmux.tps, 0)} | ${f(r.pgbouncer.tps, 0)} | ${f(r.pgmux.tps / r.pgbouncer.tps)} | ${f(cpuPerTxn(r.pgmux), 1)} | ${f(cpuPerTxn(r.pgbouncer), 1)} | ${pct(r.pgmux.otherLoad)} / ${pct(r.pgbouncer.otherLoad)} |`,
      ),
    );
  }
  return lines.join('\n');
}

/** Median and max share of the machine other processes used during tps rounds (both kinds). */
function otherLoad(res: Results): string {
  const all = [
    ...res.workloads.flatMap((w) => w.rounds.flatMap((r) => [r.pgmux.otherLoad, r.pgbouncer.otherLoad])),
    ...res.direct.flatMap((w) => w.rounds.flatMap((r) => [r.prepared.otherLoad, r.extended.otherLoad, r.pgbouncer.otherLoad, r.direct.otherLoad])),
  ];
  const s = spread(all);
  return s.n === 0 ? 'n/a' : `${f(100 * s.median, 0)}% (max ${f(100 * s.max, 0)}%)`;
}

export function markdown(res: Results): string {
  const m = res.machine;
  const s = res.settings;
  const out: string[] = [
    `## Run of ${m.date}`,
    '',
    `- Machine: ${m.nproc} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB RAM, ${m.kernel}`,
    `- node ${m.node}; ${m.postgres}; ${m.pgbench}; ${m.pgbouncer}; pgmux at ${m.commit}`,
    `- Load average before / after: ${res.loadBefore} / ${res.loadAfter} (finished ${res.finishedAt}); ` +
      `CPU used by other sessions' processes during the tps rounds: median ${otherLoad(res)} of the machine (per round below)`,
    `- ${s.quick ? 'Quick mode: ' : ''}${s.rounds} rounds of ${s.seconds} s per workload and pooler, order alternating each round; ` +
      `pool_size ${s.poolSize} for both (transaction mode, md5 client auth, same ini); pgbench scale ${s.scale}, \`-j 2\`. ` +
      `A round was redone when other processes used over ${f(100 * s.maxOtherLoad, 0)}% of the machine during it ` +
      `(${res.workloads.reduce((n, w) => n + w.redone, 0)} redone).`,
    '',
  ];
  if (res.workloads.length > 0) {
    out.push('### Throughput (tps, pgbench `-T`, without initial connection time)', '', tpsTable(res), '');
    out.push('### Pooler CPU per transaction (utime+stime of the pooler process / transactions; user = utime alone)', '', cpuTable(res), '');
  }
  if (res.latency.length > 0) {
    out.push(`### Single-client latency added over direct (select-only, simple, 1 client, ${res.latency.length} rounds)`, '', latencyTable(res.latency), '');
  }
  if (res.direct.length > 0) {
    out.push(
      '### Prepared statements: pgmux `-M prepared` vs pgmux `-M extended` (PgBouncer `-M extended` and PostgreSQL `-M prepared` for reference), same rounds, order rotating',
      '',
      directTable(res),
      '',
    );
  }
  if (res.workers !== null) out.push('### Workers: pgmux with workers = 1 and 2 next to PgBouncer, select-only', '', res.workers, '');
  if (res.idle.length > 0) out.push('### RSS per idle client (fresh pooler each, md5 login, then idle)', '', idleTable(res.idle), '');
  if (res.floor.length > 0) out.push('### The floor: a bare node server per idle connection', '', floorMarkdown(res.floor), '');
  if (res.heap !== null) out.push('### pgmux heap per idle client', '', res.heap, '');
  for (const p of res.profiles) out.push(`### pgmux CPU profile: ${p.workload}`, '', p.markdown, '');
  if (res.workloads.length > 0) out.push('<details><summary>Every round</summary>', '', roundsDetail(res), '', '</details>', '');
  return out.join('\n');
}
