// Owns the long failover drill (`npm run chaos`): the four scenarios of spec/failover with
// longer windows, through pgmux and PgBouncer 1.18 side by side, printed as markdown.
//
// Not a test: it asserts nothing and exits 0 when every drill ran, whatever the poolers did.
// Each drill starts its own cluster and stops everything by PID; if we are killed, the spec
// support's reaper stops what is left.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_SETTINGS, runDrill, type DrillResult } from '../spec/failover/drill';
import type { PgmuxLayout, PoolerKind } from '../spec/failover/poolers';
import { details, summaryTable } from '../spec/failover/report';
import { SCENARIOS, findScenario } from '../spec/failover/scenarios';
import { describeMachine, loadAverage } from './machine';

const HELP = `npm run chaos -- [options]   (node dist/bench/chaos.js [options])
  --scenarios LIST     comma list of ${SCENARIOS.map((s) => s.name).join(', ')} (default: all)
  --poolers LIST       comma list of pgmux, pgbouncer (default: both)
  --pgmux-layout L     hosts (default: both nodes in host=, failover_timeout; the failover config)
                       or replicas (host = the primary, replicas = the standby: pgmux's read split)
  --warmup N           seconds of load before the event (default 10)
  --observe N          seconds watched after the event at least (default 30)
  --rate N             pgbench -R (default ${DEFAULT_SETTINGS.pgbenchRate})
  --clients N          pgbench clients (default ${DEFAULT_SETTINGS.pgbenchClients})
  --idle N             idle clients (default ${DEFAULT_SETTINGS.idleClients})
  --workers N          pgmux's workers (default 1)
  --failover-timeout N pgmux's failover_timeout (default ${DEFAULT_SETTINGS.failoverTimeout})
  --out FILE           also write the markdown there
  --logs DIR           write each run's pooler ini, log and admin console (SHOW POOLS; pgmux
                       also SHOW HOSTS) and pgbench's output into DIR
`;

interface Options {
  scenarios: string[];
  poolers: PoolerKind[];
  layout: PgmuxLayout;
  warmup: number;
  observe: number;
  rate: number;
  clients: number;
  idle: number;
  failoverTimeout: number;
  workers: number;
  out: string | null;
  logs: string | null;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      scenarios: { type: 'string' },
      poolers: { type: 'string', default: 'pgmux,pgbouncer' },
      'pgmux-layout': { type: 'string', default: 'hosts' },
      warmup: { type: 'string', default: '10' },
      observe: { type: 'string', default: '30' },
      rate: { type: 'string', default: String(DEFAULT_SETTINGS.pgbenchRate) },
      clients: { type: 'string', default: String(DEFAULT_SETTINGS.pgbenchClients) },
      idle: { type: 'string', default: String(DEFAULT_SETTINGS.idleClients) },
      'failover-timeout': { type: 'string', default: String(DEFAULT_SETTINGS.failoverTimeout) },
      workers: { type: 'string', default: '1' },
      out: { type: 'string' },
      logs: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const count = (name: string, v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive whole number, not ${v}`);
    return n;
  };
  const scenarios = values.scenarios ? values.scenarios.split(',').map((s) => findScenario(s.trim()).name) : SCENARIOS.map((s) => s.name);
  const poolers = values.poolers.split(',').map((p) => p.trim());
  for (const p of poolers) if (p !== 'pgmux' && p !== 'pgbouncer') throw new Error(`--poolers: unknown ${p}; known: pgmux, pgbouncer`);
  const layout = values['pgmux-layout'];
  if (layout !== 'hosts' && layout !== 'replicas') throw new Error(`--pgmux-layout must be hosts or replicas, not ${layout}`);
  return {
    scenarios,
    poolers: poolers as PoolerKind[],
    layout,
    warmup: count('warmup', values.warmup),
    observe: count('observe', values.observe),
    rate: count('rate', values.rate),
    clients: count('clients', values.clients),
    idle: count('idle', values.idle),
    failoverTimeout: count('failover-timeout', values['failover-timeout']),
    workers: count('workers', values.workers),
    out: values.out ?? null,
    logs: values.logs ?? null,
  };
}

/** <dir>/<scenario>-<pooler>.{ini,log,admin.txt,pgbench.txt}: what to read when a number looks wrong. */
function saveLogs(dir: string, r: DrillResult): void {
  mkdirSync(dir, { recursive: true });
  const base = join(dir, `${r.scenario.name}-${r.pooler.kind}`);
  writeFileSync(`${base}.ini`, r.pooler.ini);
  writeFileSync(`${base}.log`, r.poolerLog);
  writeFileSync(`${base}.pgbench.txt`, r.pgbenchOutput);
  writeFileSync(`${base}.admin.txt`, r.adminSnapshot);
  progress(`logs in ${base}.*`);
}

const progress = (text: string): void => void process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 19)}] ${text}\n`);

async function main(): Promise<number> {
  const o = options();
  const m = describeMachine();
  const results: DrillResult[] = [];
  const failures: string[] = [];
  for (const name of o.scenarios) {
    for (const pooler of o.poolers) {
      try {
        const result = await runDrill({
            scenario: findScenario(name),
            pooler,
            pgmuxLayout: o.layout,
            warmupSeconds: o.warmup,
            observeSeconds: o.observe,
            pgbenchRate: o.rate,
            pgbenchClients: o.clients,
            idleClients: o.idle,
            failoverTimeout: o.failoverTimeout,
            workers: o.workers,
            log: progress,
        });
        results.push(result);
        if (o.logs) saveLogs(o.logs, result);
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        progress(`${name} through ${pooler}: the drill could not run: ${why}`);
        failures.push(`- ${name} through ${pooler}: the drill could not run: ${why.split('\n').slice(0, 12).join('\n  ')}`);
      }
    }
  }
  const text = [
    '## Failover drill (`npm run chaos`)',
    '',
    `${m.date}, ${m.nproc} CPUs (${m.cpuModel}), ${m.postgres}, ${m.pgbouncer}, node ${m.node}, pgmux ${m.commit}; load average at the end ${loadAverage()}.`,
    `Each row is one fresh primary + standby; ${o.warmup} s of load before the event, at least ${o.observe} s watched after it.`,
    '',
    summaryTable(results),
    '',
    ...(failures.length > 0 ? ['Drills that could not run:', '', ...failures, ''] : []),
    ...results.map((r) => `${details(r)}\n`),
  ].join('\n');
  process.stdout.write(`${text}\n`);
  if (o.out) writeFileSync(o.out, `${text}\n`);
  return failures.length === 0 ? 0 : 1;
}

// Ctrl-C: exit at once; the reaper (spec/support/reaper.ts) stops the servers, pgbench and
// strace we started and removes their dirs when our process is gone.
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`chaos failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  },
);
