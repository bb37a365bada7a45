// Owns printing drill results as markdown: one summary table (a row per scenario and pooler,
// the issue's columns) and, per run, the details behind each number.

import type { DrillResult } from './drill';
import type { IdleError } from './idle-clients';
import type { PgbenchAbort } from './pgbench-load';

const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
/** A time relative to the event: "+1.25 s", "-0.01 s". */
const rel = (ms: number): string => `${ms < 0 ? '-' : '+'}${secs(Math.abs(ms))}`;

function countBy<T>(items: readonly T[], key: (x: T) => string): Array<[string, number]> {
  const m = new Map<string, number>();
  for (const x of items) m.set(key(x), (m.get(key(x)) ?? 0) + 1);
  return [...m].sort((a, b) => b[1] - a[1]);
}

/** "3× insert 08006, 1× connect ECONNREFUSED" */
function errorKinds(errors: readonly IdleError[]): string {
  return countBy(errors, (e) => `${e.action} ${e.code}`)
    .map(([k, n]) => `${n}× ${k}`)
    .join(', ');
}

function abortKinds(aborts: readonly PgbenchAbort[]): string {
  return countBy(aborts, (a) => a.command || '(between commands)')
    .map(([k, n]) => `${n}× ${k}`)
    .join(', ');
}

function idleCell(r: DrillResult): string {
  const v = r.verdict.idle;
  const counted = v.counted.length === 0 ? '0' : `${v.clientsWithErrors}/${v.clients} clients, ${v.counted.length} errors (${errorKinds(v.counted)})`;
  return v.inFlight.length === 0 ? counted : `${counted}; in flight at the event (sent before the node was gone): ${errorKinds(v.inFlight)}`;
}

function pgbenchCell(r: DrillResult): string {
  const p = r.verdict.pgbench;
  if (p.aborts.length === 0) return `0 of ${p.clients}`;
  return `${p.aborts.length} of ${p.clients} (${p.abortedAtBegin} at BEGIN)`;
}

function gapCell(r: DrillResult): string {
  const g = r.verdict.longestGap;
  const from = rel(g.from - r.timeline.at);
  return g.openEnded ? `≥ ${secs(g.ms)} (none from ${from} to the end)` : `${secs(g.ms)} (from ${from})`;
}

function writesBackCell(r: DrillResult): string {
  if (r.scenario.name === 'replica-loss') {
    const ms = r.verdict.standbyReadsBackMs;
    return ms === undefined ? 'standby: no reads after it returned' : `standby reads back ${secs(ms)} after it returned`;
  }
  const ms = r.verdict.firstWriteAfterReadyMs;
  return ms === undefined ? 'never' : secs(ms);
}

function writesCell(r: DrillResult): string {
  const w = r.verdict.writes;
  const base = `${w.lost.length} / ${w.duplicated.length} / ${w.phantom.length}`;
  return w.strays.length > 0 ? `${base} (+${w.strays.length} never written)` : base;
}

function dialsCell(r: DrillResult): string {
  return r.verdict.dials
    .map((d) => `${d.node.split(' ')[0]} ${d.total} (${d.downSeconds > 0 ? `${d.whileDown} in ${d.downSeconds.toFixed(d.downSeconds < 10 ? 1 : 0)} s down, ` : ''}peak ${d.peakPerSecond}/s)`)
    .join('; ');
}

/** The issue's table: one row per run. */
export function summaryTable(results: readonly DrillResult[]): string {
  const head = [
    'scenario',
    'pooler',
    'idle-client errors',
    'pgbench clients aborted',
    'longest gap without a commit',
    'first write after promotion / restart',
    'lost / dup / phantom',
    'pooler running',
    'connection attempts (total, while down, peak)',
    'targets missed',
  ];
  const rows = results.map((r) => [
    r.scenario.name,
    r.pooler.label,
    idleCell(r),
    pgbenchCell(r),
    gapCell(r),
    writesBackCell(r),
    writesCell(r),
    r.verdict.poolerRunning ? 'yes' : `no (${r.verdict.poolerEnd})`,
    dialsCell(r),
    r.missed.length === 0 ? 'none' : r.missed.map((m) => m.split(':')[0]).join('; '),
  ]);
  const line = (cells: string[]): string => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

/** What each run did and saw, below the table. */
export function details(r: DrillResult): string {
  const v = r.verdict;
  const s = r.settings;
  const out: string[] = [];
  out.push(`### ${r.scenario.name} through ${r.pooler.label}`);
  out.push('');
  out.push(`Event: ${r.scenario.event}; ${r.scenario.synchronous ? 'synchronous' : 'asynchronous'} replication. Load: ${s.pgbenchClients} pgbench clients (tpcb-like, -R ${s.pgbenchRate}), ${s.idleClients} idle clients (a write and a read of it every ~${s.idlePeriodMs} ms); ${s.warmupSeconds} s before the event, ≥ ${s.observeSeconds} s after it.`);
  out.push('');
  for (const step of r.timeline.steps) out.push(`- ${step}`);
  out.push('');
  out.push(`- idle clients: ${v.idle.inserts} writes, ${v.idle.selects} reads; ${v.writes.acknowledged} writes acknowledged.`);
  const errorKey = (e: IdleError): string => `${v.idle.inFlight.includes(e) ? 'in flight at the event (sent before the node was gone): ' : ''}${e.action} ${e.code}: ${e.message.split('\n')[0]}`;
  const all = [...v.idle.counted, ...v.idle.inFlight];
  for (const [kind, n] of countBy(all, errorKey)) {
    // Client ports find these connections in the pooler's log.
    const ports = [...new Set(all.filter((e) => errorKey(e) === kind && e.localPort !== undefined).map((e) => e.localPort))];
    out.push(`  - ${n}× ${kind}${ports.length > 0 ? ` (client ports ${ports.slice(0, 3).join(', ')}${ports.length > 3 ? ', …' : ''})` : ''}`);
  }
  if (v.idle.staleReads.length > 0) out.push(`  - ${v.idle.staleReads.length} reads did not find the client's own acknowledged write`);
  const firstError = [...v.idle.counted].sort((a, b) => a.startedAt - b.startedAt)[0];
  if (firstError) out.push(`  - counted errors from ${rel(firstError.startedAt - r.timeline.at)} to ${rel(Math.max(...v.idle.counted.map((e) => e.endedAt)) - r.timeline.at)}`);
  const b = v.pgbench.beforeEvent;
  out.push(`- before the event: pgbench ${b.tps.toFixed(0)} tps, mean latency ${b.latencyMs.toFixed(1)} ms, mean schedule lag ${b.lagMs.toFixed(1)} ms.`);
  out.push(`- pgbench: ${v.pgbench.acknowledged} transactions acknowledged; ${v.pgbench.aborts.length} clients aborted${v.pgbench.aborts.length > 0 ? ` (${abortKinds(v.pgbench.aborts)})` : ''}${v.pgbench.finished ? '' : '; did not finish by itself'}.`);
  for (const [msg, n] of countBy(v.pgbench.aborts, (a) => `${a.command || '(between commands)'}: ${a.message}`)) out.push(`  - ${n}× ${msg}`);
  out.push(`- final primary: ${v.pgbench.historyRows} pgbench_history rows for ${v.pgbench.acknowledged} acknowledged transactions and ${v.pgbench.unknownOutcome} with no answer to END; ${v.pgbench.historyProblem ?? 'consistent'}; balances ${v.pgbench.balanceProblem ?? 'consistent'}.`);
  out.push(`- idle-client writes: ${v.writes.lost.length} lost, ${v.writes.duplicated.length} duplicated, ${v.writes.phantom.length} phantom; of the writes with an unknown outcome ${v.writes.unknownPresent} are there and ${v.writes.unknownAbsent} are not (either is allowed).`);
  out.push(`- longest gap without an acknowledged commit: ${gapCell(r)}.`);
  out.push(`- connection attempts by the pooler: ${dialsCell(r)}.`);
  for (const note of r.notes) out.push(`- note: ${note}`);
  if (r.missed.length > 0) {
    out.push('- targets missed:');
    for (const m of r.missed) out.push(`  - ${m}`);
  }
  return out.join('\n');
}

/** The table, then each run's details. */
export function markdown(results: readonly DrillResult[]): string {
  return [summaryTable(results), '', ...results.map((r) => `${details(r)}\n`)].join('\n');
}
