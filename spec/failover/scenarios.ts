// Owns the four failover drill scenarios of issue 12: what happens to the cluster (and when),
// which node is the primary afterwards, and the targets a pooler must meet in each.

import { setTimeout as delay } from 'node:timers/promises';
import type { Cluster, PgNode } from '../support/cluster';
import type { Verdict } from './verdict';

export type ScenarioName = 'switchover' | 'failover' | 'restart' | 'replica-loss';

/** What the event did, in wall-clock ms since the epoch. */
export interface EventTimeline {
  /** The event's first action (the signal to the node). */
  at: number;
  /** The node that went down, from the signal until it accepted connections again (`to` undefined: never back). */
  down: { node: PgNode; from: number; to?: number };
  /**
   * When its postmaster had exited (pg_ctl stop returned). Between `at` and this its backends
   * are stopped one by one, each at an interrupt: a statement sent in that window can be inside a
   * backend when it is stopped, exactly as one sent before the signal.
   */
  gone: number;
  /**
   * When the node that takes writes afterwards accepted them: the promoted standby's or the
   * restarted primary's "ready to accept connections" log line. For replica loss, when the
   * standby accepted (read-only) connections again.
   */
  ready: number;
  /** The event's last step returned (promotion done, replica streaming again). */
  done: number;
  /** What happened when, for the report: "+0.00 s primary: pg_ctl stop -m fast". */
  steps: string[];
}

export interface Target {
  /** How the report names it, e.g. "0 errors for idle clients". */
  name: string;
  /** A sentence saying how the run missed it, or undefined when met. */
  miss(v: Verdict): string | undefined;
}

export interface Scenario {
  name: ScenarioName;
  /** The event, as the table puts it. */
  event: string;
  /** Synchronous replication: a promoted standby has every acknowledged write. */
  synchronous: boolean;
  /** Seconds the event itself may take; pgbench's -T is warmup + this + the observe window. */
  budgetSeconds: number;
  run(cluster: Cluster): Promise<EventTimeline>;
  /** The node whose rows are the truth after the event. */
  finalPrimary(cluster: Cluster): PgNode;
  /** This scenario's own targets; `COMMON_TARGETS` apply to every scenario as well. */
  targets: Target[];
}

/** "ready to accept connections" but not "ready to accept read-only connections". */
const READY_RW = /database system is ready to accept connections/;
const READY_RO = /database system is ready to accept read-only connections/;

/** The standby is down this long in replica loss (from the stop signal to the start). */
const REPLICA_DOWN_MS = 10000;

/** Log lines carry milliseconds, truncated: a line can read up to 1 ms before we saw it happen. */
const LOG_MS = 1;

/** Writes must be acknowledged again within this long after the new primary is ready. */
export const WRITES_BACK_MS = 1000;

const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

function nodes(cluster: Cluster): { primary: PgNode; replica: PgNode } {
  if (!cluster.replica) throw new Error('the failover drill needs a cluster with a replica');
  return { primary: cluster.primary, replica: cluster.replica };
}

/** A log of steps relative to the event's start. */
function stepLog(at: number): { steps: string[]; step(what: string, when?: number): number } {
  const steps: string[] = [];
  return {
    steps,
    step(what, when = Date.now()) {
      steps.push(`+${secs(when - at)} ${what}`);
      return when;
    },
  };
}

/** The first matching log line since `since`; the time we saw it as a fallback (the log line is exact). */
function logged(cluster: Cluster, node: PgNode, pattern: RegExp, since: number): number {
  return cluster.logTime(node, pattern, since) ?? Date.now();
}

/** Stop the primary (fast or immediate), wait `pauseMs`, promote the standby. */
function promotion(mode: 'fast' | 'immediate', pauseMs: number) {
  return async (cluster: Cluster): Promise<EventTimeline> => {
    const { primary, replica } = nodes(cluster);
    const at = Date.now();
    const log = stepLog(at);
    log.step(`primary: pg_ctl stop -m ${mode} (signal sent)`, at);
    await cluster.stopNode(primary, mode);
    const gone = log.step('primary: postmaster exited');
    await delay(pauseMs);
    const promoting = log.step('standby: pg_ctl promote');
    await cluster.promote(replica);
    const ready = log.step('standby: ready to accept connections (its log)', logged(cluster, replica, READY_RW, promoting - LOG_MS));
    const done = log.step('standby: out of recovery, commits');
    return { at, down: { node: primary, from: at }, gone, ready, done, steps: log.steps };
  };
}

async function restartPrimary(cluster: Cluster): Promise<EventTimeline> {
  const { primary } = nodes(cluster);
  const at = Date.now();
  const log = stepLog(at);
  log.step('primary: pg_ctl stop -m fast (signal sent)', at);
  await cluster.stopNode(primary, 'fast');
  const down = log.step('primary: postmaster exited; starting it again');
  await cluster.startNode(primary);
  const ready = log.step('primary: ready to accept connections (its log)', logged(cluster, primary, READY_RW, down - LOG_MS));
  const done = log.step('primary: started');
  return { at, down: { node: primary, from: at, to: ready }, gone: down, ready, done, steps: log.steps };
}

async function loseReplica(cluster: Cluster): Promise<EventTimeline> {
  const { replica } = nodes(cluster);
  const at = Date.now();
  const log = stepLog(at);
  log.step('standby: pg_ctl stop -m fast (signal sent)', at);
  await cluster.stopNode(replica, 'fast');
  const stopped = log.step('standby: postmaster exited');
  await delay(Math.max(0, at + REPLICA_DOWN_MS - Date.now()));
  log.step('standby: starting it again');
  await cluster.startNode(replica);
  const ready = log.step('standby: ready to accept read-only connections (its log)', logged(cluster, replica, READY_RO, stopped - LOG_MS));
  await cluster.awaitStreaming(replica);
  const done = log.step('standby: streaming again');
  return { at, down: { node: replica, from: at, to: ready }, gone: stopped, ready, done, steps: log.steps };
}

const noIdleErrors: Target = {
  name: '0 errors for idle clients',
  miss: (v) =>
    v.idle.counted.length === 0
      ? undefined
      : `${v.idle.clientsWithErrors} idle clients saw ${v.idle.counted.length} errors: ${summarizeErrors(v.idle.counted)}`,
};

const writesBack: Target = {
  name: `writes back ≤ ${WRITES_BACK_MS / 1000} s`,
  miss: (v) => {
    const ms = v.firstWriteAfterReadyMs;
    if (ms === undefined) return 'no write was acknowledged after the new primary was ready';
    return ms <= WRITES_BACK_MS ? undefined : `the first write was acknowledged ${secs(ms)} after the new primary was ready`;
  },
};

function summarizeErrors(errors: Verdict['idle']['counted']): string {
  const byKind = new Map<string, number>();
  for (const e of errors) byKind.set(`${e.action} ${e.code}`, (byKind.get(`${e.action} ${e.code}`) ?? 0) + 1);
  return [...byKind].map(([k, n]) => `${n}× ${k}`).join(', ');
}

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'switchover',
    event: 'primary `pg_ctl stop -m fast`, standby promoted 1 s later, old primary never back',
    synchronous: true,
    budgetSeconds: 3,
    run: promotion('fast', 1000),
    finalPrimary: (c) => nodes(c).replica,
    targets: [
      noIdleErrors,
      {
        name: '0 pgbench clients aborted at BEGIN',
        miss: (v) => (v.pgbench.abortedAtBegin === 0 ? undefined : `${v.pgbench.abortedAtBegin} pgbench clients aborted at BEGIN`),
      },
      writesBack,
    ],
  },
  {
    name: 'failover',
    event: 'primary `pg_ctl stop -m immediate`, standby promoted 3 s later',
    synchronous: true,
    budgetSeconds: 5,
    run: promotion('immediate', 3000),
    finalPrimary: (c) => nodes(c).replica,
    targets: [noIdleErrors, writesBack],
  },
  {
    name: 'restart',
    event: 'primary `pg_ctl stop -m fast`, started again in place',
    synchronous: false,
    budgetSeconds: 3,
    run: restartPrimary,
    finalPrimary: (c) => nodes(c).primary,
    targets: [noIdleErrors, writesBack],
  },
  {
    name: 'replica-loss',
    event: 'standby down 10 s (`-m fast`), then back',
    synchronous: false,
    budgetSeconds: 12,
    run: loseReplica,
    finalPrimary: (c) => nodes(c).primary,
    targets: [
      {
        name: '0 errors on reads outside transactions',
        miss: (v) => {
          const reads = v.idle.counted.filter((e) => e.action === 'select');
          return reads.length === 0 ? undefined : `${reads.length} idle-client reads failed: ${summarizeErrors(reads)}`;
        },
      },
      {
        name: 'the standby takes reads again after it returns',
        miss: (v) => (v.standbyReadsBackMs !== undefined ? undefined : 'no client read reached the standby after it came back'),
      },
    ],
  },
];

/** Targets of every scenario. */
export const COMMON_TARGETS: readonly Target[] = [
  {
    name: '0 lost, 0 duplicated, 0 phantom writes',
    miss: (v) => {
      const w = v.writes;
      if (w.lost.length + w.duplicated.length + w.phantom.length + w.strays.length === 0) return undefined;
      return `idle-client writes on the final primary: ${w.lost.length} lost, ${w.duplicated.length} duplicated, ${w.phantom.length} phantom, ${w.strays.length} never written (first: ${[...w.lost, ...w.duplicated, ...w.phantom, ...w.strays].slice(0, 5).join(' ')})`;
    },
  },
  {
    name: 'pgbench: every transaction whole, none lost or doubled',
    miss: (v) => v.pgbench.historyProblem ?? v.pgbench.balanceProblem,
  },
  {
    name: 'reads see the client’s own acknowledged write',
    miss: (v) => (v.idle.staleReads.length === 0 ? undefined : `${v.idle.staleReads.length} reads did not find the client's own acknowledged write`),
  },
  {
    name: 'the pooler keeps running',
    miss: (v) => (v.poolerRunning ? undefined : `the pooler exited during the drill (${v.poolerEnd})`),
  },
  {
    name: 'nothing is dialled in a tight loop',
    miss: (v) => {
      const hot = v.dials.filter((d) => d.peakPerSecond > v.tightLoopPerSecond);
      return hot.length === 0 ? undefined : hot.map((d) => `${d.node}: ${d.peakPerSecond} connection attempts within one second (limit ${v.tightLoopPerSecond})`).join('; ');
    },
  },
  {
    name: 'every client gets an answer',
    miss: (v) => {
      const hung = v.idle.errors.filter((e) => e.code === 'no answer').length;
      if (hung > 0) return `${hung} idle-client operations had no answer when the drill ended`;
      return v.pgbench.finished ? undefined : 'pgbench was still waiting for answers when the drill ended';
    },
  },
];

export function findScenario(name: string): Scenario {
  const s = SCENARIOS.find((x) => x.name === name);
  if (!s) throw new Error(`unknown scenario "${name}"; one of: ${SCENARIOS.map((x) => x.name).join(', ')}`);
  return s;
}

/** Every target the run missed, each as "<target>: <how>". */
export function missedTargets(scenario: Scenario, v: Verdict): string[] {
  const out: string[] = [];
  for (const t of [...scenario.targets, ...COMMON_TARGETS]) {
    const miss = t.miss(v);
    if (miss !== undefined) out.push(`${t.name}: ${miss}`);
  }
  return out;
}
