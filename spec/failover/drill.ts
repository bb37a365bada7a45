// Owns running one failover drill: a fresh primary + standby, a pooler in front, pgbench at a
// fixed rate and idle clients through it, the scenario's event, an observe window, then the
// verdict from what the clients saw and what the final primary holds. Every process it starts
// is stopped by PID, also when something fails.

import { setTimeout as delay } from 'node:timers/promises';
import { Client } from 'pg';
import { startCluster, type Cluster, type PgNode } from '../support/cluster';
import { freePort } from '../support/ports';
import { DRILL_TABLE_DDL, startIdleClients, type IdleFleet } from './idle-clients';
import { initializePgbench, startPgbench, type PgbenchLoad } from './pgbench-load';
import { startDrillPooler, type DrillPooler, type PgmuxLayout, type PoolerKind } from './poolers';
import { missedTargets, type EventTimeline, type Scenario } from './scenarios';
import { judge, readFinalRows, type Verdict } from './verdict';

export interface DrillOptions {
  scenario: Scenario;
  pooler: PoolerKind;
  /** How pgmux is configured (poolers.ts); default 'hosts', the failover config. */
  pgmuxLayout?: PgmuxLayout;
  /** pgmux's `workers` (default 1). */
  workers?: number;
  /** Load before the event, and the least time watched after it. */
  warmupSeconds: number;
  observeSeconds: number;
  pgbenchClients?: number;
  pgbenchRate?: number;
  idleClients?: number;
  /** Mean ms between an idle client's rounds (INSERT + SELECT). */
  idlePeriodMs?: number;
  scale?: number;
  poolSize?: number;
  failoverTimeout?: number;
  /** How long, after the load ends, clients may still wait for answers before they count as hung. */
  graceMs?: number;
  /** Progress lines (the spec and chaos print them). */
  log?: (line: string) => void;
}

export interface DrillSettings {
  pgbenchClients: number;
  pgbenchRate: number;
  idleClients: number;
  idlePeriodMs: number;
  scale: number;
  poolSize: number;
  failoverTimeout: number;
  warmupSeconds: number;
  observeSeconds: number;
  graceMs: number;
}

export interface DrillResult {
  scenario: Scenario;
  pooler: { kind: PoolerKind; label: string; ini: string };
  settings: DrillSettings;
  timeline: EventTimeline;
  verdict: Verdict;
  /** Target misses ("<target>: <how>"); empty when every target was met. */
  missed: string[];
  /** Things the reader should know that are not misses, e.g. a shortened observe window. */
  notes: string[];
  poolerLog: string;
  pgbenchOutput: string;
  /** The pooler's admin console as the load ends (SHOW POOLS; pgmux also SHOW HOSTS), or why not. */
  adminSnapshot: string;
}

export const DEFAULT_SETTINGS: Omit<DrillSettings, 'warmupSeconds' | 'observeSeconds'> = {
  pgbenchClients: 20,
  pgbenchRate: 200,
  idleClients: 20,
  idlePeriodMs: 300,
  scale: 10,
  poolSize: 20,
  failoverTimeout: 30,
  graceMs: 5000,
};

const USER = 'app';
const DB = 'app';
/** Mean pgbench schedule lag before the event above which the run is flagged as overloaded. */
const OVERLOAD_LAG_MS = 50;
/** How often the replica-loss drill looks for client reads on the standby. */
const STANDBY_POLL_MS = 100;

/**
 * Runs `o.scenario` once through `o.pooler` on a fresh cluster. Rejects only when the drill
 * itself could not run (a setup step failed); a pooler that misses targets resolves, with the
 * misses in `missed`.
 */
export async function runDrill(o: DrillOptions): Promise<DrillResult> {
  const settings: DrillSettings = { ...DEFAULT_SETTINGS, ...definedOnly(o), warmupSeconds: o.warmupSeconds, observeSeconds: o.observeSeconds };
  const log = o.log ?? (() => undefined);
  const scenario = o.scenario;
  log(`${scenario.name} through ${o.pooler}: starting a fresh ${scenario.synchronous ? 'synchronous' : 'asynchronous'} primary + standby`);
  const cluster = await startCluster({ replica: true, synchronous: scenario.synchronous });
  let pooler: DrillPooler | undefined;
  let fleet: IdleFleet | undefined;
  let load: PgbenchLoad | undefined;
  let watcher: StandbyWatch | undefined;
  try {
    await prepareDatabase(cluster, settings.scale);
    const port = await freePort();
    pooler = await startDrillPooler(
      { kind: o.pooler, layout: o.pgmuxLayout ?? 'hosts', port, poolSize: settings.poolSize, failoverTimeout: settings.failoverTimeout, workers: o.workers },
      cluster,
    );
    const target = { port, user: USER, password: cluster.password, database: DB };
    fleet = startIdleClients({ ...target, clients: settings.idleClients, periodMs: settings.idlePeriodMs });
    await fleet.ready;
    const seconds = settings.warmupSeconds + scenario.budgetSeconds + settings.observeSeconds;
    load = await startPgbench(target, { clients: settings.pgbenchClients, rate: settings.pgbenchRate, seconds });
    const loadStart = Date.now();
    const loadEnd = loadStart + seconds * 1000;
    // The warmup counts from commits, not from the start: on a busy machine pgbench may take
    // seconds to connect its clients, and an event before any commit measures nothing.
    await load.running(seconds * 1000);
    log(`${scenario.name} through ${o.pooler}: load running (${settings.pgbenchClients} pgbench clients at ${settings.pgbenchRate} tps, ${settings.idleClients} idle clients); event in ${settings.warmupSeconds} s`);
    await delay(settings.warmupSeconds * 1000);

    const timeline = await scenario.run(cluster);
    log(`${scenario.name} through ${o.pooler}: event done in ${((timeline.done - timeline.at) / 1000).toFixed(2)} s; observing until the load ends`);
    if (scenario.name === 'replica-loss') watcher = watchStandbyReads(cluster, timeline.down.node, timeline.ready);

    await delay(Math.max(0, loadEnd - Date.now()));
    // While the clients are still there: who waits, which host is what.
    const adminSnapshot = await showAdmin(port, cluster.password, o.pooler === 'pgmux' ? ['SHOW HOSTS', 'SHOW POOLS'] : ['SHOW POOLS']);
    const idle = await fleet.stop(settings.graceMs);
    const pgbench = await load.finish(settings.graceMs);
    const standbyReadsBackAt = await watcher?.stop();
    const poolerRunning = pooler.running();
    const running = pooler;
    const dialTimes = [cluster.primary, cluster.replica as PgNode].map((node) => ({ node, times: running.dials(node.port) }));
    const poolerLog = pooler.logs();
    const poolerEnd = await pooler.stop();
    // The pooler is gone: nothing can commit any more, so the rows read now are final.
    const final = await readFinalRows(cluster, scenario.finalPrimary(cluster));
    const verdict = judge({
      idle,
      pgbench,
      final,
      timeline,
      loadStart,
      loadEnd,
      writesResume: scenario.name !== 'replica-loss',
      standbyReadsBackAt,
      poolerRunning,
      poolerEnd,
      dials: dialTimes,
      tightLoopPerSecond: 2 * settings.poolSize + 10,
    });
    // Without load before the event the drill measured nothing: that is the drill failing.
    const before = (t: number): boolean => t < timeline.at;
    if (!pgbench.commits.some(before) || ![...idle.acknowledged.values()].some(before)) {
      throw new Error(`the load did not run before the event: pgbench ${pgbench.commits.filter(before).length} commits, idle clients ${[...idle.acknowledged.values()].filter(before).length} writes\n--- pgbench ---\n${pgbench.output}\n--- ${pooler.label} ---\n${poolerLog.slice(-4000)}`);
    }
    const notes = caveats(settings, scenario, verdict, { observedMs: loadEnd - timeline.done, pgbenchFinished: pgbench.finished });
    const missed = missedTargets(scenario, verdict);
    log(`${scenario.name} through ${o.pooler}: ${missed.length === 0 ? 'every target met' : `${missed.length} targets missed`}`);
    return {
      scenario,
      pooler: { kind: pooler.kind, label: pooler.label, ini: pooler.ini },
      settings,
      timeline,
      verdict,
      missed,
      notes,
      poolerLog,
      pgbenchOutput: pgbench.output,
      adminSnapshot,
    };
  } finally {
    // Each of these is a no-op when already done; a failure in one must not skip the rest.
    await watcher?.stop().catch(() => undefined);
    await fleet?.stop(0).catch(() => undefined);
    await load?.kill().catch(() => undefined);
    await pooler?.stop().catch(() => undefined);
    await cluster.stop();
  }
}

/** What the reader of a run should know that is not a target: a short window, an overloaded machine, a killed pgbench. */
function caveats(settings: DrillSettings, scenario: Scenario, verdict: Verdict, run: { observedMs: number; pgbenchFinished: boolean }): string[] {
  const notes: string[] = [];
  if (run.observedMs < settings.observeSeconds * 1000 * 0.75) {
    notes.push(`the event took longer than its ${scenario.budgetSeconds} s budget: ${(run.observedMs / 1000).toFixed(1)} s observed after it, not ${settings.observeSeconds} s`);
  }
  const steady = verdict.pgbench.beforeEvent;
  if (steady.lagMs > OVERLOAD_LAG_MS) {
    notes.push(
      `the machine did not keep up before the event: pgbench's transactions started ${steady.lagMs.toFixed(0)} ms late on average (limit ${OVERLOAD_LAG_MS} ms), so timings mean little; run it again on a quieter machine or with a lower --rate`,
    );
  }
  if (!run.pgbenchFinished) {
    notes.push('pgbench was still waiting for answers after the grace period and was stopped: its last log lines may be missing, so its history was checked for lost transactions only');
  }
  return notes;
}

/** Each command's answer from the admin console as tab-separated lines, or the error it got. */
async function showAdmin(port: number, password: string, commands: string[]): Promise<string> {
  // A pooler in trouble may not answer: the drill must not wait on it.
  const client = new Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'pgbouncer', connectionTimeoutMillis: 5000, query_timeout: 5000 });
  client.on('error', () => undefined);
  const out: string[] = [];
  try {
    await client.connect();
    for (const command of commands) {
      out.push(`${command};`);
      try {
        const r = await client.query(command);
        out.push(r.fields.map((f) => f.name).join('\t'));
        for (const row of r.rows as Array<Record<string, unknown>>) out.push(r.fields.map((f) => String(row[f.name])).join('\t'));
      } catch (err) {
        out.push(`error: ${(err as Error).message}`);
      }
      out.push('');
    }
  } catch (err) {
    out.push(`cannot connect to the admin console: ${(err as Error).message}`);
  } finally {
    await client.end().catch(() => undefined);
  }
  return out.join('\n');
}

function definedOnly(o: DrillOptions): Partial<DrillSettings> {
  const out: Partial<DrillSettings> = {};
  for (const k of ['pgbenchClients', 'pgbenchRate', 'idleClients', 'idlePeriodMs', 'scale', 'poolSize', 'failoverTimeout', 'graceMs'] as const) {
    const v = o[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** pgbench's tables and the idle clients' table, owned by app, on the primary; then replayed on the standby. */
async function prepareDatabase(cluster: Cluster, scale: number): Promise<void> {
  await initializePgbench({ port: cluster.primary.port, user: USER, password: cluster.password, database: DB }, scale);
  await cluster.query(cluster.primary, DRILL_TABLE_DDL, USER);
  await cluster.waitForReplay();
}

interface StandbyWatch {
  /** Stops watching; resolves to when a client read was first seen on the standby (ms since the epoch). */
  stop(): Promise<number | undefined>;
}

/**
 * Watches pg_stat_activity on the standby for a client backend whose query reads the idle
 * clients' table and started after `since`. pg_stat_activity shows each backend's latest
 * query as it starts, so the earliest query_start seen is when reads were back (within a poll).
 */
function watchStandbyReads(cluster: Cluster, standby: PgNode, since: number): StandbyWatch {
  let stopped = false;
  let seenAt: number | undefined;
  const run = (async () => {
    const client = new Client({ host: standby.host, port: standby.port, user: 'postgres', password: cluster.password, database: 'postgres' });
    client.on('error', () => undefined);
    await client.connect();
    try {
      while (!stopped && seenAt === undefined) {
        const r = await client.query(
          `SELECT (extract(epoch FROM min(query_start)) * 1000)::float8 AS t FROM pg_stat_activity
            WHERE datname = 'app' AND backend_type = 'client backend' AND query LIKE '%drill_writes%'
              AND query_start >= to_timestamp($1::float8 / 1000)`,
          [since],
        );
        const t = r.rows[0]?.t as number | null;
        if (t !== null && t !== undefined) seenAt = t;
        else await delay(STANDBY_POLL_MS);
      }
    } finally {
      await client.end().catch(() => undefined);
    }
  })().catch(() => undefined);
  return {
    async stop() {
      stopped = true;
      await run;
      return seenAt;
    },
  };
}
